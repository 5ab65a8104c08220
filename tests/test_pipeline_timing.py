"""The pipeline table of reports/timing.md (hybridrec.bench.pipeline.render) from time-repro summaries."""

import json

import pytest

from hybridrec.bench.pipeline import render
from hybridrec.errors import DataError


def _summary(tmp_path, label, stages, note=""):
    d = {"label": label, "total_seconds": sum(stages.values()), "commit": "abc1234", "cpu_count": 2,
         "stages": [{"stage": s, "seconds": t} for s, t in stages.items()], "note": note,
         "models": {"random": [{"model": "svd", "tune_seconds": 5.0, "fits": 5, "fit_seconds": 3.5}]}}
    path = tmp_path / f"{label}.json"
    path.write_text(json.dumps(d))
    return path


def test_render_puts_runs_side_by_side_with_their_notes(tmp_path):
    a = _summary(tmp_path, "before", {"embed": 20.0, "compare@random": 100.0})
    b = _summary(tmp_path, "after", {"embed": 21.0, "train": 9.5}, note="Machine shared with a build.")
    text = "\n".join(render([a, b]))
    embed = next(line for line in text.splitlines() if line.startswith("| embed"))
    assert "20.0" in embed and "21.0" in embed
    train = next(line for line in text.splitlines() if line.startswith("| train"))
    assert "–" in train and "9.5" in train  # a stage one run lacks
    assert "**120.0**" in text and "**30.5**" in text
    assert "Machine shared with a build." in text and text.count("Machine shared") == 1
    assert "| svd" in text


def test_render_refuses_something_else(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"benchmarks": []}))
    with pytest.raises(DataError, match="time-repro"):
        render([bad])
