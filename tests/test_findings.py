"""The findings generator on constructed predictions: a model built to be better reads "better", one built to
be worse reads "worse", and no finding contradicts the statistic it cites."""

import numpy as np
import pandas as pd
import pytest

from hybridrec import metrics, params
from hybridrec.reporting import comparison
from tests.conftest import raw_params

N_USERS, PER_USER, SEEDS = 80, 12, 5


@pytest.fixture(scope="module")
def constructed():
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(N_USERS), PER_USER)
    anime = np.tile(np.arange(PER_USER), N_USERS)
    rating = rng.integers(3, 10, len(users)).astype(float)
    test = pd.DataFrame({"user_idx": users, "anime_idx": anime, "rating": rating})
    train = test.copy()
    noise = {"ref": 1.0, "good": 0.6, "bad": 1.5, "twin": 1.0}
    preds = {}
    for name, sd in noise.items():
        base = rng.normal(0, 1, len(users)) if name != "twin" else None
        preds[name] = np.stack([rating + sd * (rng.normal(0, 1, len(users)) if base is None else base)
                                for _ in range(SEEDS)]).astype(np.float32)
    preds["twin"] = preds["ref"] + rng.normal(0, 0.01, preds["ref"].shape).astype(np.float32)
    runs = {}
    for name, pr in preds.items():
        runs[name] = {"label": name, "kind": "global_mean", "deterministic": False, "settings": {},
                      "runs": [{"seed": s, "fit_seconds": 0.1, "val": metrics.rating_metrics(pr[s], rating, metrics.MAL),
                                "test": metrics.rating_metrics(pr[s], rating, metrics.MAL),
                                "ranking": {"precision": 0.1, "recall": 0.1, "ndcg": 0.1, "popularity_spearman": 0.2}}
                               for s in range(SEEDS)]}
    models = {n: {"kind": "global_mean", "label": n} for n in preds}
    models["good"]["role"] = "candidate"  # tested against the best baseline (bad, twin: baselines by family)
    p = params.parse(raw_params(compare={"models": models, "reference": "ref", "ours": "good",
                                         "protocols": {"random": "all", "cold_items": "all"},
                                         "pairs": [["good", "bad"], ["bad", "good"], ["twin", "ref"]],
                                         "seeds": list(range(SEEDS)), "bootstrap_replicates": 2000}))
    res = comparison.build(runs, {n: [pr] for n, pr in preds.items()}, [{"test": test, "train": train}], p, {}, None,
                           {"bad", "twin"}, 1, 10)
    return res, runs, p


def test_constructed_verdicts(constructed):
    res, _, _ = constructed
    v = {(t["a"], t["b"]): t for t in res["tests"]}
    assert v[("good", "ref")]["verdict"] == "significantly better"
    assert v[("bad", "ref")]["verdict"] == "significantly worse"
    assert v[("good", "bad")]["verdict"] == "significantly better"
    assert v[("bad", "good")]["verdict"] == "significantly worse"
    assert not v[("twin", "ref")]["significant"]
    assert res["best_baseline"] == "twin"  # the better of the two baselines by mean test RMSE


def test_no_finding_contradicts_its_statistic(constructed):
    res, runs, p = constructed
    for t in res["tests"]:
        assert (t["delta"] < 0) == t["verdict"].lstrip("significantly ").startswith("better")
        if t["significant"]:
            assert t["holm"] and (t["ci_high"] < 0 if t["delta"] < 0 else t["ci_low"] > 0)
        assert t["delta"] == pytest.approx(res["models"][t["a"]]["rmse"]["mean"] - res["models"][t["b"]]["rmse"]["mean"])
    text = "\n".join(comparison.findings(res, runs, p))
    assert "significantly better than it: good;" in text
    assert "significantly worse than it: bad;" in text
    assert "not significantly different from it: twin." in text
    assert "good vs bad: significantly better" in text and "bad vs good: significantly worse" in text
    assert "**good against the best baseline (twin)**: significantly better" in text


def test_nan_is_never_best(constructed):
    res, runs, _ = constructed
    agg = {n: dict(a) for n, a in res["models"].items()}
    agg["good"] = {**agg["good"], "ndcg": {**agg["good"]["ndcg"], "mean": float("nan")}}
    assert comparison.best_of(list(agg), agg, "ndcg", "max") != "good"
    all_nan = {n: {"ndcg": {"mean": float("nan")}} for n in agg}
    assert comparison.best_of(list(all_nan), all_nan, "ndcg", "max") is None


def test_a_baseline_with_zero_rmse_reads_without_a_percentage(constructed):
    """Constant ratings predicted exactly: the best baseline's RMSE is 0, and the finding has no relative change."""
    res, runs, p = constructed
    zero = {**res, "models": {n: dict(a) for n, a in res["models"].items()}}
    zero["models"]["twin"] = {**zero["models"]["twin"], "rmse": {**zero["models"]["twin"]["rmse"], "mean": 0.0}}
    line = next(s for s in comparison.findings(zero, runs, p) if "against the best baseline" in s)
    assert "%" not in line and "ΔRMSE" in line


def test_outputs_are_written_as_one_set(constructed, tmp_path, monkeypatch):
    """A figure that cannot be drawn leaves every previous output of the set as it was, and no temporary file."""
    res, runs, p = constructed
    info = {"counts": {"train": 1, "val": 1, "test": 1}, "moved_note": "", "seed": 0, "sha256": "0" * 64,
            "anime": {"val": 1, "test": 1}}
    from hybridrec.sources import source_of

    source = source_of(p)
    out = tmp_path / "random"
    comparison.write(out, {**res, "content_ceiling": None}, runs, p, "random", [info], source, {},
                     extra={out / "comparison.json": "{}"})
    before = {f.name: f.read_bytes() for f in out.iterdir()}
    assert set(before) == {"comparison.md", "comparison.json", "rmse_ci.png", "rmse_by_degree.png"}

    def broken(*args, **kwargs):
        raise ValueError("'xerr' must not contain negative values")

    monkeypatch.setattr(comparison, "plot_buckets", broken)
    with pytest.raises(ValueError):
        comparison.write(out, {**res, "content_ceiling": None}, runs, p, "random", [info], source, {},
                         extra={out / "comparison.json": '{"new": 1}'})
    assert {f.name: f.read_bytes() for f in out.iterdir()} == before


def test_an_interval_beside_its_mean_draws(constructed, tmp_path):
    """One test user: the bootstrap interval may lie beside the mean; the error bar is clipped at 0, not an error."""
    res, runs, _ = constructed
    agg = {n: dict(a) for n, a in res["models"].items()}
    m = agg["good"]["rmse"]["mean"]
    agg["good"]["rmse_ci"] = {**agg["good"]["rmse_ci"], "ci_low": m + 0.01, "ci_high": m + 0.02}
    comparison.plot(tmp_path / "ci.png", agg, runs, None, "one user")
    assert (tmp_path / "ci.png").stat().st_size > 0
