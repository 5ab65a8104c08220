"""The CI metric-regression gate fails on a regression past tolerance, and only then."""

import json
import subprocess
import sys

import pytest
import yaml

from hybridrec import gate
from hybridrec.params import parse
from tests.conftest import raw_params

METRICS = {"model": "x", "train": {"rmse": 1.3, "accuracy": 0.33, "n": 10},
           "test": {"rmse": 1.40, "mae": 1.07, "accuracy": 0.32, "within1": 0.73, "n": 10}}


@pytest.fixture
def project(tmp_path):
    rep = tmp_path / "reports" / "demo"
    rep.mkdir(parents=True)
    (rep / "metrics.json").write_text(json.dumps(METRICS))
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw_params(data={"name": "demo"}), sort_keys=False))
    return tmp_path, rep


def check(root, *extra):
    return subprocess.run([sys.executable, "-m", "hybridrec.cli", "check-metrics", *extra], cwd=root,
                          capture_output=True, text=True)


def perturb(rep, split, key, value):
    m = json.loads((rep / "metrics.json").read_text())
    m[split][key] = value
    (rep / "metrics.json").write_text(json.dumps(m))


def test_update_then_pass(project):
    root, rep = project
    assert check(root, "--update").returncode == 0
    ref = json.loads((rep / "reference_metrics.json").read_text())["metrics"]
    assert ref["metrics.test.rmse"] == 1.40 and "metrics.test.n" not in ref
    out = check(root)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "all within tolerance" in out.stdout


def test_regression_past_tolerance_fails(project):
    root, rep = project
    check(root, "--update")
    perturb(rep, "test", "rmse", 1.40 + 0.02)  # tolerance 0.5% = 0.007, lower is better
    out = check(root)
    assert out.returncode == 1
    line = next(l for l in out.stdout.splitlines() if l.startswith("metrics.test.rmse"))
    assert "REGRESSION" in line and "1.4000" in line and "1.4200" in line and "+0.0200" in line


def test_within_tolerance_and_improvements_pass(project):
    root, rep = project
    check(root, "--update")
    perturb(rep, "test", "rmse", 1.405)  # worse, but within 0.007
    perturb(rep, "test", "accuracy", 0.40)  # higher accuracy is not a regression
    out = check(root)
    assert out.returncode == 0, out.stdout
    assert "improved" in next(l for l in out.stdout.splitlines() if l.startswith("metrics.test.accuracy"))


def test_lower_accuracy_fails(project):
    root, rep = project
    check(root, "--update")
    perturb(rep, "test", "accuracy", 0.30)
    assert check(root).returncode == 1


def test_missing_metric_fails(project):
    root, rep = project
    check(root, "--update")
    m = json.loads((rep / "metrics.json").read_text())
    del m["test"]["within1"]
    (rep / "metrics.json").write_text(json.dumps(m))
    out = check(root)
    assert out.returncode == 1 and "MISSING" in out.stdout


def test_no_reference_is_a_clear_error(project):
    root, _ = project
    out = check(root)
    assert out.returncode == 2 and "no committed reference metrics" in out.stderr


def test_relative_tolerance():
    p = parse(raw_params())
    rows = gate.compare({"comparison.random.svd.ndcg": 0.10}, {"comparison.random.svd.ndcg": 0.07}, p.gate.rules)
    assert rows[0].verdict == "REGRESSION" and abs(rows[0].tolerance - 0.025) < 1e-12  # rel 0.25 * 0.10
    rows = gate.compare({"comparison.random.svd.ndcg": 0.10}, {"comparison.random.svd.ndcg": 0.08}, p.gate.rules)
    assert rows[0].verdict == "ok"


COMPARISON = {"models": {"sage_paper": {"rmse": 1.40, "accuracy": 0.30, "ndcg": 0.0003, "val_rmse": 1.41},
                         "sage_tuned": {"rmse": 1.15, "accuracy": 0.36, "ndcg": 0.0004, "val_rmse": 1.14},
                         "hybrid": {"rmse": 0.99, "accuracy": 0.40, "ndcg": 0.1, "val_rmse": 0.98}},
              "provenance": {"device": "cpu"}}


@pytest.fixture
def full(project):
    root, rep = project
    (rep / "random").mkdir()
    (rep / "random" / "comparison.json").write_text(json.dumps(COMPARISON))
    m = json.loads((rep / "metrics.json").read_text())
    m["provenance"] = {"device": "cpu"}
    (rep / "metrics.json").write_text(json.dumps(m))
    assert check(root, "--update").returncode == 0
    assert json.loads((rep / "reference_metrics.json").read_text())["device"] == "cpu"
    return root, rep


def set_comparison(rep, model, key, value, device="cpu"):
    c = json.loads((rep / "random" / "comparison.json").read_text())
    c["models"][model][key] = value
    c["provenance"]["device"] = device
    (rep / "random" / "comparison.json").write_text(json.dumps(c))


@pytest.mark.parametrize("model", ["sage_paper", "sage_tuned", "hybrid"])
def test_ranking_metric_falling_to_zero_fails(full, model):
    root, rep = full
    set_comparison(rep, model, "ndcg", 0.0)
    out = check(root)
    assert out.returncode == 1 and f"comparison.random.{model}.ndcg" in out.stdout


@pytest.mark.parametrize("model", ["sage_paper", "sage_tuned"])
def test_one_percent_rmse_regression_fails(full, model):
    root, rep = full
    set_comparison(rep, model, "rmse", COMPARISON["models"][model]["rmse"] * 1.01)
    out = check(root)
    assert out.returncode == 1 and "REGRESSION" in out.stdout
    set_comparison(rep, model, "rmse", COMPARISON["models"][model]["rmse"])
    perturb(rep, "test", "rmse", METRICS["test"]["rmse"] * 1.01)  # the paper model's own metrics.json
    assert check(root).returncode == 1


def test_three_percent_accuracy_drop_fails(full):
    root, rep = full
    set_comparison(rep, "hybrid", "accuracy", 0.40 * 0.97)
    assert check(root).returncode == 1


def test_metrics_from_another_device_are_refused(full):
    root, rep = full
    set_comparison(rep, "hybrid", "rmse", 0.99, device="cuda")
    out = check(root)
    assert out.returncode == 2 and "made on device 'cuda'" in out.stderr and "reference was made on 'cpu'" in out.stderr


def test_help():
    out = subprocess.run([sys.executable, "-m", "hybridrec.cli", "check-metrics", "--help"], capture_output=True,
                         text=True)
    assert out.returncode == 0 and "--update" in out.stdout


def test_only_gates_the_selected_models(full):
    root, rep = full
    c = json.loads((rep / "random" / "comparison.json").read_text())
    del c["models"]["sage_tuned"]  # a run that compared fewer models
    (rep / "random" / "comparison.json").write_text(json.dumps(c))
    assert check(root).returncode == 1  # everything gated: sage_tuned is MISSING
    out = check(root, "--only", "metrics.*", "--only", "comparison.random.hybrid.*")
    assert out.returncode == 0 and "sage_tuned" not in out.stdout, out.stdout + out.stderr
    set_comparison(rep, "hybrid", "rmse", 0.99 * 1.02)
    assert check(root, "--only", "comparison.random.hybrid.*").returncode == 1
    assert check(root, "--only", "nothing.*").returncode == 2


def test_reference_holds_gated_metrics_only(full):
    root, rep = full
    c = json.loads((rep / "random" / "comparison.json").read_text())
    c["models"]["hybrid"]["popularity_spearman"] = float("nan")  # descriptive, not gated: may be undefined
    (rep / "random" / "comparison.json").write_text(json.dumps(c))
    assert check(root, "--update").returncode == 0
    ref = json.loads((rep / "reference_metrics.json").read_text())["metrics"]
    assert "comparison.random.hybrid.popularity_spearman" not in ref and "comparison.random.hybrid.rmse" in ref
    c["models"]["hybrid"]["rmse"] = float("nan")  # a gated metric never becomes a NaN reference
    (rep / "random" / "comparison.json").write_text(json.dumps(c))
    out = check(root, "--update")
    assert out.returncode == 2 and "comparison.random.hybrid.rmse=nan" in out.stderr
