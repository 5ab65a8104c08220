"""Shared fixtures: a tiny synthetic configuration, CSV writers, the real sample (skipped when absent)."""

from __future__ import annotations

import copy
import dataclasses
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from hybridrec import params as params_mod

REPO = Path(__file__).resolve().parents[1]
REAL_SAMPLE = REPO.parent / "shared" / "data" / "mal2020-sample"

TINY = {
    # the data section of the default (tests do not depend on which data set params.yaml points at)
    "data": {"name": "synthetic", "source": "synthetic", "dir": "data/synthetic/raw", "download": False,
             "rating_scale": "auto"},
    "synthetic": {"n_users": 80, "n_anime": 120, "ratings_per_user_median": 20, "chunk_users": 50},
    "subset": {"n_users": 60},
    "train": {"epochs": 20, "hidden": 16},
    "hybrid": {"epochs": 20, "dim": 8, "content_hidden": 16},
    "evaluate": {"show_users": [0, 1]},
    "compare": {"replicates": 2, "seeds": [0, 1], "tuning_trials": 2, "tuning_confirm": 1,
                "bootstrap_replicates": 1000},
}
# A smaller comparison for the runs that repeat the pipeline (reproducibility, interruption).
TINY_FEW_MODELS = {
    "compare": {"replicates": 2, "seeds": [0, 1], "tuning_trials": 2, "tuning_confirm": 1,
                "bootstrap_replicates": 1000, "protocols": {"random": "all", "cold_items": "all"},
                "pairs": [["sage_tuned", "sage_genres"], ["hybrid", "hybrid_no_content"]],
                "models": {"global_mean": {"kind": "global_mean"},
                           "svd": {"kind": "surprise", "algo": "SVD", "search": {"n_factors": [5, 10]}},
                           "sage_paper": {"kind": "gnn"},
                           "sage_tuned": {"kind": "gnn", "options": {"weighted_loss": False},
                                          "search": {"lr": [0.003, 0.01]}},
                           "sage_genres": {"kind": "gnn", "base": "sage_tuned", "options": {"features": ["genres"]}},
                           "hybrid": {"kind": "hybrid", "search": {"lr": [0.01, 0.03]}},
                           "hybrid_no_content": {"kind": "hybrid", "base": "hybrid", "options": {"features": []}}}},
}


def tiny_few() -> dict:
    """TINY with the smaller comparison of TINY_FEW_MODELS (its model list replaces TINY's whole)."""
    cfg = deep_update(TINY, TINY_FEW_MODELS)
    cfg["compare"]["models"] = copy.deepcopy(TINY_FEW_MODELS["compare"]["models"])
    return cfg


# The modules that start from the one shared `dvc repro` (:func:`tiny_few_repro`) early: xdist runs them on one
# worker, the first to build it. (tests/test_new_model.py starts from it too, but runs late enough on the other
# worker to find it built: the two workers' loads come out about even, ~355 s each of `pytest -m slow` here.)
SHARED_REPRO_MODULES = frozenset(f"tests/{m}.py" for m in ("test_interrupts", "test_pipeline_e2e",
                                                            "test_platform_stability"))


def pytest_xdist_make_scheduler(config, log):
    """``--dist loadfile`` (pyproject.toml), with one change: the modules of :data:`SHARED_REPRO_MODULES` form one
    unit. A module's tests stay on one worker (they share its fixtures) as with loadfile; and where two of those
    modules started on two workers at once, one worker sat idle for the minute the other spent building the shared
    run. On one worker nobody waits, and the other worker runs everything else meanwhile."""
    if config.getvalue("dist") != "loadfile":
        return None  # another mode asked for on the command line: xdist's own
    from xdist.scheduler import LoadFileScheduling  # noqa: PLC0415

    class SharedRepro(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = super()._split_scope(nodeid)
            return "tiny_few_repro" if path in SHARED_REPRO_MODULES else path

    return SharedRepro(config, log)


def pytest_ignore_collect(collection_path, config):
    """tests/benchmarks runs only when asked for (pytest tests/benchmarks --benchmark-only)."""
    if collection_path.name == "benchmarks" and not config.getoption("benchmark_only", False):
        return True
    return None


def deep_update(base: dict, upd: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in upd.items():
        out[k] = deep_update(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def raw_params(**overrides) -> dict:
    """The repository's params.yaml as a dict, with section overrides applied (``compare.models`` replaced
    whole when given, not merged)."""
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    out = deep_update(raw, overrides)
    models = overrides.get("compare", {}).get("models")
    if models is not None:
        out["compare"]["models"] = copy.deepcopy(models)
    return out


@pytest.fixture
def tiny_params():
    return params_mod.parse(raw_params(**TINY))


@pytest.fixture
def synthetic_small(tmp_path_factory):
    """A small synthetic data set (Kaggle schema) on disk; returns (dir, params)."""
    from hybridrec import synthetic

    p = params_mod.parse(raw_params(**TINY))
    out = tmp_path_factory.mktemp("synthetic_raw")
    synthetic.generate(p.synthetic, out)
    return out, p


def make_toy_split():
    """A small constructed split (SplitData): 40 users, 30 anime, ratings 1..10 with planted anime effects, 70/15/15
    of them for train/validation/test; its test part holds an unknown user (no training rating) and an unknown anime (never rated in training)."""
    import numpy as np
    import pandas as pd

    from hybridrec.predictors import SplitData

    rng = np.random.default_rng(0)
    n_users, n_anime = 40, 30
    pairs = {(int(u), int(a)) for u, a in zip(rng.integers(0, n_users, 700), rng.integers(0, n_anime, 700))}
    df = pd.DataFrame(sorted(pairs), columns=["user_idx", "anime_idx"])
    df["rating"] = np.clip(np.rint(7 + rng.normal(0, 1.5, len(df)) + (df["anime_idx"] % 5 - 2) * 0.5), 1, 10).astype(int)
    idx = rng.permutation(len(df))
    n_train, n_val = int(0.7 * len(df)), int(0.85 * len(df))
    train, val, test = df.iloc[idx[:n_train]], df.iloc[idx[n_train:n_val]], df.iloc[idx[n_val:]]
    test = pd.concat([test, pd.DataFrame({"user_idx": [n_users], "anime_idx": [0], "rating": [7]}),
                      pd.DataFrame({"user_idx": [0], "anime_idx": [n_anime], "rating": [8]})])
    return SplitData(train, val, test, n_users + 1, n_anime + 1)


@pytest.fixture(scope="module")
def toy_split():
    """:func:`make_toy_split`, once per test module (a model family's own tests start here)."""
    return make_toy_split()


@pytest.fixture
def real_sample():
    if not (REAL_SAMPLE / "rating_complete.csv").exists():
        pytest.skip(f"real sample not available at {REAL_SAMPLE}")
    return REAL_SAMPLE


def write(path: Path, text: str, encoding="utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


def copy_project(dest: Path, overrides: dict) -> Path:
    """A fresh git + DVC project in ``dest`` with this repo's pipeline and params overridden."""
    dest.mkdir(parents=True, exist_ok=True)
    for item in ("dvc.yaml", "stages", "hybridrec", "baselines"):
        src = REPO / item
        if src.is_dir():
            shutil.copytree(src, dest / item, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.exists():
            shutil.copy2(src, dest / item)
    (dest / "params.yaml").write_text(yaml.safe_dump(raw_params(**overrides), sort_keys=False))
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    subprocess.run(["dvc", "init", "-q"], cwd=dest, check=True)
    return dest


def replace(section, **changes):
    return dataclasses.replace(section, **changes)


def load_stage(name: str):
    """Import stages/<name>.py as a module (the stages are scripts, not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"stage_{name}", REPO / "stages" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def bits_per_numba_cpu(script: str, cache_root: Path) -> dict:
    """``script``'s stdout (a digest of what its numba kernels computed) with the kernels compiled for a generic
    x86-64 (no SIMD beyond the base ISA, no FMA) and for this host (its widest vectors, FMA where present)."""
    import os
    import sys

    out = {}
    for cpu in ("generic", "host"):
        env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_root / cpu), "OMP_NUM_THREADS": "1"}
        env.pop("NUMBA_CPU_FEATURES", None)
        env.pop("NUMBA_CPU_NAME", None)
        if cpu == "generic":
            env["NUMBA_CPU_NAME"] = "generic"
        run = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        out[cpu] = run.stdout.strip()
    return out


def _build_tiny_project(root: Path) -> None:
    """generate .. evaluate of the TINY params in ``root`` (in this process, through the stages' run())."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "params.yaml").write_text(yaml.safe_dump(raw_params(**TINY), sort_keys=False))
    run_stages(root, params_mod.load(root / "params.yaml"),
               ("generate", "preprocess", "subset", "embed", "split", "train", "evaluate"))


def run_stages(root: Path, p, steps) -> None:
    """Run stages in ``root`` in this process, through their run(): each step a stage name, or (name, protocol)."""
    import os

    old = os.getcwd()
    os.chdir(root)
    try:
        for step in steps:
            name, *args = (step,) if isinstance(step, str) else step
            load_stage(name).run(p, *args)
    finally:
        os.chdir(old)


@pytest.fixture(scope="session")
def tiny_project(tmp_path_factory, worker_id):
    """A tiny synthetic project in a temp dir, run through the stages up to train + evaluate.

    Built once per test run: the first xdist worker that needs it builds it under a lock in the run's shared temp
    folder, and every worker works on its own copy (a test may write into its project)."""
    built = _shared_once(tmp_path_factory, worker_id, "tiny_project", _build_tiny_project)
    root = tmp_path_factory.mktemp("tiny_project")
    shutil.copytree(built, root, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".complete"))
    return root, params_mod.load(root / "params.yaml")


@pytest.fixture(scope="module")
def project(tiny_project):
    """The tiny project as the working directory for a module's tests: (root, params)."""
    import os

    root, p = tiny_project
    old = os.getcwd()
    os.chdir(root)
    yield root, p
    os.chdir(old)


def _shared_once(tmp_path_factory, worker_id, name: str, build) -> Path:
    """The folder ``build(folder)`` fills, built once per test run: the first xdist worker that needs it builds it
    under a lock in the run's shared temp folder; the others wait for it. Without xdist, a folder of this run."""
    from filelock import FileLock

    if worker_id == "master":
        root = tmp_path_factory.mktemp(name)
        build(root)
        return root
    shared = tmp_path_factory.getbasetemp().parent / f"{name}_built"
    with FileLock(str(shared) + ".lock"):
        if not (shared / ".complete").is_file():
            shutil.rmtree(shared, ignore_errors=True)
            build(shared)
            (shared / ".complete").write_text("")
    return shared


def _tiny_few_repro(root: Path) -> None:
    """``dvc repro`` of :func:`tiny_few` in a fresh project (under the machine's own kernels: the variables of
    the SSE4 set are left out, tests/test_platform_stability.py sets them for its second platform)."""
    import os

    from hybridrec.fingerprint import KERNEL_ENV

    copy_project(root, tiny_few())
    env = {k: v for k, v in os.environ.items() if k not in KERNEL_ENV}
    out = subprocess.run(["dvc", "repro"], cwd=root, capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]


@pytest.fixture(scope="session")
def tiny_few_repro(tmp_path_factory, worker_id):
    """``copy(dest) -> dest``: a copy of one finished ``dvc repro`` of :func:`tiny_few` (git + DVC project, its
    outputs, DVC cache and task cache), run once per test run and shared by the modules that start from a
    finished pipeline (each changes its copy)."""
    built = _shared_once(tmp_path_factory, worker_id, "tiny_few_repro", _tiny_few_repro)

    def copy(dest: Path) -> Path:
        shutil.copytree(built, dest, symlinks=True, ignore=shutil.ignore_patterns(".complete"))
        return dest

    return copy
