"""Every stage's code is a declared DVC dependency: the import closure of each stage script (within the
project) must be listed in its dvc.yaml ``deps`` (a listed folder covers its files), else editing that file
would leave `dvc repro` reporting "up to date" on stale results.

The closure follows every ``import`` statement (module level and inside functions) that resolves to a file
of the project. Model families are found by :mod:`hybridrec.registry` without an import statement; the
stages that build models (those whose closure holds ``hybridrec/zoo.py``) depend on every family module
and its closure. params.yaml loading imports the families too, but only to *check* the specs, which
changes no output, so the data stages do not depend on them.

``python -m tests.test_dvc_deps`` prints what each stage misses; ``--write`` rewrites the code deps of every
stage in dvc.yaml to exactly its closure (data deps, order and comments kept).
"""

from __future__ import annotations

import copy

import yaml

from hybridrec import codehash
from tests.conftest import REPO

PACKAGES = codehash.PACKAGES
BUILDER = codehash.BUILDER


def imports_of(rel: str) -> set[str]:
    return codehash.imports_of(rel, REPO)


def closure(start: str) -> set[str]:
    return codehash.closure(start, REPO, families=True)


def stage_scripts(dvc: dict) -> dict:
    """stage name -> (script, declared deps)."""
    out = {}
    for name, st in dvc["stages"].items():
        body = st.get("do", st)
        script = next(w for w in body["cmd"].split() if w.endswith(".py"))
        out[name] = (script, [d if isinstance(d, str) else next(iter(d)) for d in body.get("deps", [])])
    return out


def missing_deps(dvc: dict) -> dict:
    """stage -> sorted project files its code imports that its deps do not cover (a dir covers its files)."""
    out = {}
    for name, (script, deps) in stage_scripts(dvc).items():
        def covered(f):
            return any(f == d or f.startswith(d.rstrip("/") + "/") for d in deps)

        miss = sorted(f for f in closure(script) if not covered(f))
        if miss:
            out[name] = miss
    return out


def load_dvc() -> dict:
    return yaml.safe_load((REPO / "dvc.yaml").read_text())


def test_every_stage_declares_its_code():
    assert missing_deps(load_dvc()) == {}


def test_a_removed_dependency_is_caught():
    dvc = load_dvc()
    doctored = copy.deepcopy(dvc)
    deps = doctored["stages"]["comparison"]["do"]["deps"]
    deps.remove("hybridrec/stats.py")
    assert missing_deps(doctored) == {"comparison": ["hybridrec/stats.py"]}
    # every family module is a dependency of the stages that build models
    body = doctored["stages"]["compare"]["do"]
    body["deps"].remove("baselines")
    assert "baselines/surprise_models.py" in missing_deps(doctored)["compare"]


def test_closure_follows_function_level_imports():
    assert "hybridrec/inference.py" in closure("hybridrec/recommenders/gnn.py")  # imported inside methods
    assert "hybridrec/training.py" not in closure("stages/generate.py")


def write_deps(path=REPO / "dvc.yaml") -> None:
    """Rewrite each stage's code deps (files under stages/ and the packages) to its script + closure."""
    from ruamel.yaml import YAML  # noqa: PLC0415 (DVC's own YAML library: keeps comments)

    rt = YAML()
    rt.width = 4096
    rt.indent(mapping=2, sequence=4, offset=2)
    doc = rt.load(path.read_text())
    for name, (script, deps) in stage_scripts(load_dvc()).items():
        st = doc["stages"][name]
        body = st["do"] if "do" in st else st
        is_code = [isinstance(d, str) and d.startswith(("stages/",) + tuple(f"{p}/" for p in PACKAGES)) or
                   d in PACKAGES for d in body["deps"]]
        folders = [d for d, c in zip(body["deps"], is_code) if c and (REPO / d).is_dir()]
        files = sorted(f for f in closure(script) - {script}
                       if not any(f.startswith(d.rstrip("/") + "/") for d in folders))
        code = [script] + folders + files
        data = [d for d, c in zip(body["deps"], is_code) if not c]
        body["deps"].clear()
        body["deps"].extend(code + data)
    with open(path, "w") as f:
        rt.dump(doc, f)


if __name__ == "__main__":
    import sys

    if "--write" in sys.argv:
        write_deps()
    for stage, files in missing_deps(load_dvc()).items():
        print(f"{stage}:\n" + "\n".join(f"  - {f}" for f in files))
