"""A researcher's own model in the benchmark: `hybridrec new-model NAME` writes a tunable family, its params entry
and its test; the next `dvc repro` runs that model's tasks only (every other one comes from the task cache) and
comparison.md holds its verdicts against the paper's model and against the best baseline."""

import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from hybridrec import params
from hybridrec.errors import UserError
from hybridrec.newmodel import insert_entry, new_model
from tests.conftest import REPO


def in_project(root, *cmd, check=True):
    """Run ``cmd`` in the project with *its* copy of the code first on the path (where new-model writes)."""
    env = {**os.environ, "PYTHONPATH": str(root), "HYBRIDREC_WORKERS": "2"}
    out = subprocess.run(list(cmd), cwd=root, capture_output=True, text=True, env=env)
    if check:
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out


@pytest.mark.slow
def test_new_model_gets_its_verdicts_and_nothing_else_reruns(tiny_few_repro, tmp_path):
    root = tiny_few_repro(tmp_path / "p")  # the tiny project after its first `dvc repro`, both protocols
    (root / "tests").mkdir()
    for f in ("__init__.py", "conftest.py"):
        shutil.copy2(REPO / "tests" / f, root / "tests" / f)
    before = (root / "reports/synthetic/random/comparison.md").read_text()
    assert "mine" not in before

    out = in_project(root, sys.executable, "-m", "hybridrec.cli", "new-model", "mine")
    assert "wrote" in out.stdout and (root / "hybridrec/recommenders/mine.py").is_file()
    test = in_project(root, sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
                      "tests/test_mine.py")
    assert "3 passed" in test.stdout, test.stdout[-2000:]

    in_project(root, "dvc", "repro")
    runs = json.loads((root / "reports/synthetic/random/runs.json").read_text())
    tasks = runs["provenance"]["tasks"]
    assert tasks["mine"]["computed"] > 0 and tasks["mine"]["cached"] == 0
    assert {n for n, v in tasks.items() if v["computed"]} == {"mine"}, tasks  # no other model's tasks re-ran
    report = (root / "reports/synthetic/random/comparison.md").read_text()
    against_paper = report.split("## Each model against the paper's model")[1].split("\n## ")[0]
    against_best = report.split("## Each candidate against the best baseline")[1].split("\n## ")[0]
    assert "| mine " in against_paper and "| mine " in against_best
    verdicts = json.loads((root / "reports/synthetic/random/comparison.json").read_text())
    best = against_best.split("| mine vs ")[1].split(" ")[0]  # the best baseline's label
    assert {k for k in verdicts["tests"] if k.startswith("mine vs ")} == {"mine vs sage_paper", "mine vs svd"}
    assert best == "Surprise"


def test_new_model_refuses_what_exists_and_keeps_params(tmp_path, monkeypatch):
    """Never overwrites: an existing entry, kind or file is a one-line error and params.yaml stays as it was."""
    root = tmp_path / "p"
    root.mkdir()
    text = (REPO / "params.yaml").read_text()
    (root / "params.yaml").write_text(text)
    with pytest.raises(UserError, match="already has an entry 'svd'"):
        new_model("svd", root=root)
    with pytest.raises(UserError, match="a model family of kind 'gnn' exists"):
        new_model("gnn", root=root)
    with pytest.raises(UserError, match="a model name is lower case"):
        new_model("My-Model", root=root)
    with pytest.raises(UserError, match="'temporal' is not a protocol"):
        new_model("mine", protocols=["temporal"], root=root)
    with pytest.raises(UserError, match="imports the model families from"):  # not the installed project
        new_model("mine", root=root)
    assert (root / "params.yaml").read_text() == text


def test_the_entry_goes_to_the_end_of_compare_models_and_nothing_else_moves():
    text = (REPO / "params.yaml").read_text()
    entry = "    mine:\n      kind: global_mean\n      role: candidate\n"
    new = insert_entry(text, entry, "params.yaml")
    assert new.replace(entry, "", 1) == text
    raw = yaml.safe_load(new)
    assert list(raw["compare"]["models"])[-1] == "mine"
    p = params.parse(raw)
    assert p.compare.models["mine"].role == "candidate" and p.gate.platform_z == yaml.safe_load(text)["gate"][
        "platform_z"]
