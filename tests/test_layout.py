"""The library's paths agree with what dvc.yaml declares; every stage has --help."""

import subprocess
import sys

import pytest
import yaml

from hybridrec.paths import SYNTHETIC_RAW, Paths
from tests.conftest import REPO


def dvc_paths(name="synthetic"):
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    outs, deps = set(), set()
    for st in stages.values():
        body = st.get("do", st)
        for o in body.get("outs", []) + body.get("metrics", []) + body.get("plots", []):
            outs.add((next(iter(o)) if isinstance(o, dict) else o).replace("${data.name}", name))
        for d in body.get("deps", []):
            deps.add(d.replace("${data.name}", name))
    return stages, outs, deps


def test_paths_match_dvc_yaml():
    _, outs, _ = dvc_paths()
    p = Paths("synthetic")
    for path in (SYNTHETIC_RAW, p.preprocessed, p.subset, p.embeddings, p.split, p.paper_model, p.metrics,
                 p.train_info, p.recommendations, p.reports / "replication.md", p.reports / "data.md"):
        assert str(path) in outs, path
    per_protocol = {o.replace("${key}", "random") for o in outs}
    for path in (p.comparison("random"), p.tuning("random"), p.runs("random"), p.compare_predictions("random"),
                 p.protocol("random") / "comparison.md"):
        assert str(path) in per_protocol, path


def test_stage_dependencies_exist():
    _, _, deps = dvc_paths()
    for d in deps:
        if d.startswith(("stages/", "hybridrec/", "baselines/")):
            assert (REPO / d).exists(), d


@pytest.mark.parametrize("stage", sorted(p.stem for p in (REPO / "stages").glob("*.py")))
def test_every_stage_has_help(stage):
    out = subprocess.run([sys.executable, str(REPO / "stages" / f"{stage}.py"), "--help"], capture_output=True,
                         text=True, cwd=REPO)
    assert out.returncode == 0 and "usage:" in out.stdout and "--params" in out.stdout
