"""End-to-end: `dvc repro` of the whole pipeline on a tiny config in a fresh project, then a no-op re-run;
a stage on bad input fails with one line and leaves nothing behind."""

import json
import subprocess
import sys

import pytest

from tests.conftest import TINY, copy_project, deep_update, tiny_few, write

pytestmark = pytest.mark.slow


def dvc(cwd, *args):
    return subprocess.run(["dvc", *args], cwd=cwd, capture_output=True, text=True)


@pytest.fixture(scope="module")
def repro(tiny_few_repro, tmp_path_factory):
    """A fresh project after its first `dvc repro` (the run's shared one, copied: this module changes it)."""
    return tiny_few_repro(tmp_path_factory.mktemp("e2e") / "project"), None


def test_repro_writes_reports(repro):
    root, _ = repro
    rep = root / "reports" / "synthetic"
    for f in ("data.md", "ratings_per_user.png", "replication.md", "metrics.json", "learning_curve.png",
              "training_log.csv", "recommendations.json"):
        assert (rep / f).stat().st_size > 0, f
    metrics = json.loads((rep / "metrics.json").read_text())
    assert set(metrics) >= {"train", "val", "test"} and metrics["test"]["rmse"] > 0
    assert "| HeteroData anime x" in (rep / "replication.md").read_text()


def test_second_repro_is_a_noop(repro):
    root, _ = repro
    again = dvc(root, "repro")
    assert again.returncode == 0
    assert "Running stage" not in again.stdout, again.stdout
    status = dvc(root, "status")
    assert "up to date" in status.stdout, status.stdout


def test_every_input_file_is_a_dependency(repro):
    """Editing anime.csv (optional, so no file dep of its own) re-runs preprocess: the data folder is the dep."""
    root, _ = repro
    meta = root / "data" / "synthetic" / "raw" / "anime.csv"
    original = meta.read_bytes()
    try:
        meta.write_bytes(original.replace(b"TV", b"Movie", 1))
        status = dvc(root, "status", "preprocess")
        assert "changed deps" in status.stdout and "data/synthetic/raw" in status.stdout, status.stdout
    finally:
        meta.write_bytes(original)
    assert "up to date" in dvc(root, "status", "preprocess").stdout


def test_bad_input_fails_cleanly_and_writes_nothing(tmp_path):
    raw = write(tmp_path / "raw" / "rating_complete.csv", "user_id,anime_id,rating\n0,1,9\n0,1,12\n")
    write(tmp_path / "raw" / "anime_with_synopsis.csv", 'MAL_ID,Name,Score,Genres,sypnopsis\n1,A,8,"Drama","x y"\n')
    root = copy_project(tmp_path / "proj", deep_update(TINY, {"data": {"source": "kaggle", "dir": str(raw.parent),
                                                                        "name": "bad", "rating_scale": [1, 10]}}))
    out = subprocess.run([sys.executable, "stages/preprocess.py"], cwd=root, capture_output=True, text=True)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1].startswith("error: ") and "Traceback" not in out.stderr
    assert "rating_complete.csv, row 2, column 'rating': rating 12 is outside 1-10" in out.stderr
    assert not (root / "data" / "bad").exists()


def test_identical_metrics_twice_from_scratch_even_after_a_kill(repro, tmp_path):
    """Run the pipeline twice from scratch with the same params: identical metrics files. The second run
    is killed mid-way first; the next `dvc repro` completes and nothing partial is left behind."""
    import os
    import signal

    a, _ = repro
    b = copy_project(tmp_path / "b", tiny_few())

    proc = subprocess.Popen(["dvc", "repro"], cwd=b, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if "Running stage 'compare@random'" in line:
            break
    import time

    time.sleep(2.0)  # let the stage get going, then kill it hard (and DVC with it)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert any("Running stage 'compare@random'" in l for l in seen), "".join(seen)[-2000:]
    for f in (b / "reports").rglob("*.json"):
        json.loads(f.read_text())  # whatever exists under its final name is complete
    assert not (b / "reports" / "synthetic" / "random" / "comparison.json").exists()

    again = dvc(b, "repro")
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    leftovers = [p for d in ("data", "models", "reports") for p in (b / d).rglob(".*.partial-*")]
    assert not leftovers, leftovers
    for rel in ("reports/synthetic/metrics.json", "reports/synthetic/random/comparison.json",
                "reports/synthetic/cold_items/comparison.json"):
        ma, mb = json.loads((a / rel).read_text()), json.loads((b / rel).read_text())
        if "provenance" in ma:  # the same except where each project lives
            ma["provenance"]["params"]["data"] = mb["provenance"]["params"]["data"] = None
        assert ma == mb, rel


def test_param_change_reruns_only_affected_stages(repro):
    root, _ = repro
    import yaml

    params = yaml.safe_load((root / "params.yaml").read_text())
    (root / "params.yaml").write_text(yaml.safe_dump(deep_update(params, {"compare": {"alpha": 0.01}}),
                                                     sort_keys=False))
    out = dvc(root, "repro")
    assert out.returncode == 0
    ran = {line.split("'")[1] for line in out.stdout.splitlines() if line.startswith("Running stage")}
    assert ran == {"comparison@random", "comparison@cold_items"}, ran
