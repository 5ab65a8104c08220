"""Bad inputs end a stage with one line naming the problem and a non-zero exit, leaving no outputs."""

import subprocess
import sys

import pandas as pd
import pytest
import yaml

from hybridrec.errors import DataError, UserError
from hybridrec.features import SequenceEncoder
from hybridrec.graph import check_split
from tests.conftest import REPO, TINY, copy_project, deep_update, raw_params


def run_stage(root, name):
    return subprocess.run([sys.executable, f"stages/{name}.py"], cwd=root, capture_output=True, text=True)


def one_line_error(out):
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2, out.stderr[-2000:]
    assert lines and lines[-1].startswith("error: ") and "Traceback" not in out.stderr
    return lines[-1]


@pytest.fixture
def project(tmp_path):
    return copy_project(tmp_path / "p", TINY)


def edit_params(root, mutate):
    raw = yaml.safe_load((root / "params.yaml").read_text())
    mutate(raw)
    (root / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))


def test_unknown_params_key(project):
    edit_params(project, lambda r: r["train"].update(hiddden=64))
    line = one_line_error(run_stage(project, "generate"))
    assert "unknown key train.hiddden" in line
    assert not (project / "data").exists()


def test_wrong_params_type(project):
    edit_params(project, lambda r: r["split"].update(seed="zero"))
    assert "split.seed = 'zero': must be an integer" in one_line_error(run_stage(project, "generate"))


def test_subset_of_zero_users(project):
    edit_params(project, lambda r: r["subset"].update(n_users=0))
    assert "subset.n_users = 0: must be > 0" in one_line_error(run_stage(project, "generate"))


def test_truncated_csv_stage(project, tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "rating_complete.csv").write_text("user_id,anime_id,rating\n0,1,9\n0,2")
    (raw / "anime_with_synopsis.csv").write_text('MAL_ID,Name,Score,Genres,sypnopsis\n1,A,8,"Drama","x"\n')
    edit_params(project, lambda r: r["data"].update(source="kaggle", dir=str(raw), name="trunc"))
    assert "row 2, column 'rating': empty value" in one_line_error(run_stage(project, "preprocess"))
    assert not (project / "data" / "trunc").exists()


def test_wrong_encoding_stage(project, tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "rating_complete.csv").write_text("user_id,anime_id,rating\n0,1,9\n")
    (raw / "anime_with_synopsis.csv").write_bytes(
        'MAL_ID,Name,Score,Genres,sypnopsis\n1,Café,8,"Drama","x"\n'.encode("latin-1"))
    edit_params(project, lambda r: r["data"].update(source="kaggle", dir=str(raw), name="enc"))
    assert "not valid UTF-8" in one_line_error(run_stage(project, "preprocess"))
    assert not (project / "data" / "enc").exists()


def test_missing_kaggle_files_stage(project, tmp_path):
    edit_params(project, lambda r: r["data"].update(source="kaggle", dir=str(tmp_path / "nothing"), name="none"))
    line = one_line_error(run_stage(project, "preprocess"))
    assert "anime_with_synopsis.csv: file not found" in line and "kaggle datasets download" in line


def test_missing_embedding_model():
    with pytest.raises(UserError, match="cannot load embedding model '/no/such/model'"):
        SequenceEncoder("/no/such/model", device="cpu")


def test_split_leaving_a_user_without_training_ratings():
    split = pd.DataFrame({"user_idx": [0, 0, 1, 1], "anime_idx": [0, 1, 0, 1],
                          "split": ["train", "test", "val", "test"]})
    with pytest.raises(DataError, match="1 user\\(s\\) have no training ratings \\(first: user_idx 1\\)"):
        check_split(split, "split.parquet")


def test_make_split_keeps_every_user_in_training():
    from hybridrec.split import make_split

    ratings = pd.DataFrame({"user_idx": [0] * 30 + [1], "anime_idx": list(range(30)) + [0], "user_id": 0,
                            "anime_id": 0, "rating": 7})
    for seed in range(20):
        split, stats = make_split(ratings, 0.1, 0.3, seed)
        check_split(split, "x")
        assert (split.loc[split.user_idx == 1, "split"] == "train").all()


def test_use_data_command(tmp_path):
    f = tmp_path / "params.yaml"
    f.write_text((REPO / "params.yaml").read_text())
    for name in ("anime_with_synopsis.csv", "rating_complete.csv"):  # use-data checks the files are there
        (tmp_path / "x" / "y").mkdir(parents=True, exist_ok=True)
        (tmp_path / "x" / "y" / name).write_text("x\n")
    out = subprocess.run([sys.executable, "-m", "hybridrec.cli", "use-data", "--source", "kaggle", "--dir", "x/y",
                          "--name", "real", "--params", str(f)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    raw = yaml.safe_load(f.read_text())
    assert raw["data"] == {**raw_params()["data"], "source": "kaggle", "dir": "x/y", "name": "real"}
    assert "# names the folders" in f.read_text()  # comments kept
    assert raw["synthetic"] == raw_params()["synthetic"]


def test_params_of_tiny_are_valid():
    from hybridrec.params import parse

    parse(raw_params(**deep_update(TINY, {})))


OWNER = """
import subprocess, sys, time
# DVC's way: the stage's command line through a shell that stays in between (dash does not exec it)
subprocess.Popen(["/bin/sh", "-c", sys.executable + " -c '" + sys.argv[1] + "'; true"])
time.sleep(60)
"""
STAGE = "from hybridrec.errors import watch_owner; import time; watch_owner(0.1); print(1, flush=True); time.sleep(60)"


def test_a_stage_started_through_a_shell_dies_with_its_owner(tmp_path):
    """kill -9 of the process that started ``sh -c stage`` (dvc repro) ends the stage too, and with it the shell."""
    import os
    import signal
    import time

    import psutil

    owner = subprocess.Popen([sys.executable, "-c", OWNER, STAGE], cwd=REPO)
    deadline = time.time() + 30
    stage = shell = None
    while time.time() < deadline and stage is None:
        for child in psutil.Process(owner.pid).children(recursive=True):
            if "watch_owner" in " ".join(child.cmdline()) and child.name().startswith("python"):
                stage = child
            elif child.name() in ("sh", "dash"):
                shell = child
        time.sleep(0.2)
    assert stage is not None and shell is not None
    time.sleep(1.0)  # the stage has imported and started its watch
    assert stage.is_running()
    os.kill(owner.pid, signal.SIGKILL)
    owner.wait()
    gone, alive = psutil.wait_procs([stage, shell], timeout=10)
    assert alive == [], [p.cmdline() for p in alive]


def test_an_interactive_or_script_shell_is_not_an_owner():
    """A stage run from a login shell or ``nohup bash run.sh`` does not die with that shell's parent."""
    from hybridrec.errors import owner_chain

    out = subprocess.run(["/bin/sh", "-c", f"{sys.executable} -c 'from hybridrec.errors import owner_chain; "
                          "print(len(owner_chain()))'; true"], cwd=REPO, capture_output=True, text=True)
    assert out.stdout.strip() == "2", out.stderr  # the shell and this test's process
    script = subprocess.run(["/bin/sh", "-s"], input=f"{sys.executable} -c 'from hybridrec.errors import "
                            "owner_chain; print(len(owner_chain()))'\ntrue\n", cwd=REPO, capture_output=True, text=True)
    assert script.stdout.strip() == "1", script.stderr  # the script's shell only
    assert len(owner_chain()) >= 1


def test_a_ctrl_c_while_a_pool_worker_starts_does_not_kill_it():
    """Ctrl-C reaches the whole process group, the compare stage's pool workers with it. A worker still importing
    (before its initializer ignores SIGINT) must not die of it with a traceback: the stage spawns workers with
    SIGINT blocked, and the worker discards it once it ignores it; the stage itself stops the pool."""
    import multiprocessing
    import os
    import signal
    from concurrent.futures import ProcessPoolExecutor

    from hybridrec import experiment

    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=experiment._init,
                               initargs=("synthetic", "random"))
    try:
        with experiment._sigint_held():
            fut = pool.submit(os.getpid)
            (pid,) = pool._processes  # just spawned: the interpreter is still starting
            os.kill(pid, signal.SIGINT)
        assert fut.result(timeout=120) == pid  # the worker lived through it and ran the task
        status = dict(line.split(":\t") for line in open(f"/proc/{pid}/status").read().splitlines() if ":\t" in line)
        bit = 1 << (signal.SIGINT - 1)
        assert int(status["SigIgn"], 16) & bit and not int(status["SigBlk"], 16) & bit  # ignored, no longer held
    finally:
        pool.shutdown()
