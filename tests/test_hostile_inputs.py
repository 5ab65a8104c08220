"""Hostile inputs found by a probe: each ends in one clear line naming what is wrong (exit 2 from the CLI and
the stages), writes nothing half-done, and is never silently accepted as a wrong result.

Cases (numbers as in the probe's list):
1. the metric gate and non-finite / empty metrics, rules that gate nothing;
2. duplicate CSV headers;
3. unsafe ``data.name``;
4. loader tracebacks: huge ids, ``8.0`` ids, unreadable files, a genre named ``anime_id``, duplicate ids;
5. params.yaml: non-finite floats, unknown devices, impossible train combinations, duplicate keys;
6. corrupt JSON inputs of check-metrics / timing-report, bad ``fullscale`` arguments;
7. a stage's output folder is replaced whole or not at all;
8. outputs follow the umask.
"""

from __future__ import annotations

import dataclasses
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from hybridrec import data, gate, io, params
from hybridrec.errors import DataError, ParamsError
from tests.conftest import REPO, load_stage, raw_params, write

# ---------------------------------------------------------------------------------------------- helpers


def _env():
    """The subprocess environment: this checkout's code first, whatever the caller's PYTHONPATH."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [p for p in [env.get("PYTHONPATH")] if p])
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def cli(root, *args):
    return subprocess.run([sys.executable, "-m", "hybridrec.cli", *args], cwd=root, capture_output=True, text=True,
                          env=_env())


def stage_proc(root, name):
    return subprocess.run([sys.executable, str(REPO / "stages" / f"{name}.py")], cwd=root, capture_output=True,
                          text=True, env=_env())


def one_line_error(out) -> str:
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2, out.stdout[-2000:] + out.stderr[-2000:]
    assert lines and lines[-1].startswith("error: ") and "Traceback" not in out.stderr, out.stderr[-2000:]
    return lines[-1]


SYN = ('MAL_ID,Name,Score,Genres,sypnopsis\n1,A,8.1,"Action, Drama","a story"\n2,B,7.0,"Comedy","another one"\n'
       '3,C,6.0,"Drama","a third"\n')
RATINGS = "user_id,anime_id,rating\n0,1,9\n0,2,7\n1,1,5\n1,3,6\n2,2,8\n"


def kaggle_project(root: Path, name="hostile") -> Path:
    raw = root / "raw"
    write(raw / data.SYNOPSIS_FILE, SYN)
    write(raw / data.RATINGS_FILE, RATINGS)
    (root / "params.yaml").write_text(yaml.safe_dump(
        raw_params(data={"name": name, "source": "kaggle", "dir": str(raw), "download": False}), sort_keys=False))
    return raw


def snapshot(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def leftovers(parent: Path) -> list:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def test_subprocesses_run_this_checkout():
    out = subprocess.run([sys.executable, "-c", "import hybridrec; print(hybridrec.__file__)"], cwd="/",
                         capture_output=True, text=True, env=_env())
    assert Path(out.stdout.strip()).resolve().is_relative_to(REPO)


# --------------------------------------------------------------------------- 7. whole-folder replacement


def test_atomic_dir_replaces_whole_or_not_at_all(tmp_path):
    out = tmp_path / "d" / "out"
    with io.atomic_dir(out) as tmp:
        io.write_text(tmp / "a.txt", "1")
        io.write_text(tmp / "b.txt", "1")
    assert snapshot(out) == {"a.txt": b"1", "b.txt": b"1"}
    with pytest.raises(OSError):
        with io.atomic_dir(out) as tmp:
            io.write_text(tmp / "a.txt", "2")
            raise OSError(28, "No space left on device")
    assert snapshot(out) == {"a.txt": b"1", "b.txt": b"1"} and leftovers(out.parent) == []
    with io.atomic_dir(out) as tmp:
        io.write_text(tmp / "c.txt", "3")
    assert snapshot(out) == {"c.txt": b"3"} and leftovers(out.parent) == []  # stale files do not survive


def test_preprocess_failing_midway_keeps_the_previous_folder(tmp_path, monkeypatch):
    raw = kaggle_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    stage = load_stage("preprocess")
    p = params.load("params.yaml")
    stage.run(p)
    out = tmp_path / "data" / "hostile" / "preprocessed"
    before = snapshot(out)
    assert {"ratings.parquet", "anime.parquet", "genres.parquet", "genres.json", "stats.json"} <= set(before)

    write(raw / data.RATINGS_FILE, RATINGS + "3,3,4\n")  # new input: every output would change
    real, calls = io.write_parquet, []

    def disk_full_on_second(path, df):
        calls.append(path)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real(path, df)

    monkeypatch.setattr(io, "write_parquet", disk_full_on_second)
    with pytest.raises(OSError, match="No space left"):
        stage.run(p)
    assert len(calls) == 2
    assert snapshot(out) == before
    assert leftovers(out.parent) == []


def test_subset_failing_midway_keeps_the_previous_folder(tmp_path, monkeypatch):
    kaggle_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    p = params.load("params.yaml")
    load_stage("preprocess").run(p)
    stage = load_stage("subset")
    stage.run(p)
    out = tmp_path / "data" / "hostile" / "subset"
    before = snapshot(out)
    assert set(before) == {"ratings.parquet", "anime.parquet", "stats.json"}

    p2 = params.parse(raw_params(data=dataclasses.asdict(p.data), subset={"n_users": 1}))

    def broken(path, obj):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(io, "write_json", broken)  # the last file: both parquet files were already written
    with pytest.raises(OSError):
        stage.run(p2)
    assert snapshot(out) == before
    assert leftovers(out.parent) == []


# ----------------------------------------------------------------------------------------------- 8. umask


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_outputs_follow_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        io.write_text(tmp_path / "a.txt", "x")
        io.write_json(tmp_path / "b.json", {})
        io.write_npz(tmp_path / "c.npz", x=np.zeros(2))
    finally:
        os.umask(old)
    for f in ("a.txt", "b.json", "c.npz"):
        assert oct(stat.S_IMODE((tmp_path / f).stat().st_mode)) == oct(mode), f


@pytest.mark.parametrize("umask,mode", [(0o022, 0o755), (0o077, 0o700)])
def test_output_folder_follows_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        with io.atomic_dir(tmp_path / "folder") as tmp:
            io.write_text(tmp / "c.txt", "x")
    finally:
        os.umask(old)
    assert oct(stat.S_IMODE((tmp_path / "folder").stat().st_mode)) == oct(mode)
    assert oct(stat.S_IMODE((tmp_path / "folder" / "c.txt").stat().st_mode)) == oct(mode & 0o666)
