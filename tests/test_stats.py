"""Known answers for the statistics behind every verdict: the replicate-user-and-seed bootstrap of ΔRMSE, its interval
and p-value, Holm's procedure, and the verdict words."""

import numpy as np
import pytest

from hybridrec import stats


def errors(pred, rating, users):
    return stats.user_errors(np.asarray(pred, dtype=float), rating, users, 1, 10)


def test_user_errors_sum_per_user_and_clamp():
    e = errors([[0.0, 5.0, 12.0]], np.array([1.0, 4.0, 9.0]), np.array([7, 3, 7]))
    # users in sorted order (3, 7): user 3 has (5-4)^2 = 1; user 7 has (1-1)^2 + (10-9)^2 = 1 (clamped to 1..10)
    assert np.allclose(e.sse, [[1.0, 1.0]]) and np.allclose(e.count, [1, 2])
    assert np.allclose(e.rmse(), [np.sqrt(2 / 3)])


def test_delta_is_the_difference_of_mean_rmses():
    rng = np.random.default_rng(0)
    rating = rng.integers(1, 11, 300).astype(float)
    users = rng.integers(0, 30, 300)
    a = errors(rating + rng.normal(0, 1, (3, 300)), rating, users)
    b = errors(rating + rng.normal(0, 2, (3, 300)), rating, users)
    t = stats.delta_rmse(a, b, 1000, 0)
    assert t["delta"] == pytest.approx(a.rmse().mean() - b.rmse().mean())
    assert t["ci_low"] < t["delta"] < t["ci_high"] < 0 and t["p"] < 0.01


def test_identical_models_are_never_different():
    rating, users = np.array([5.0, 6, 7, 8]), np.array([0, 0, 1, 1])
    same = errors([[5.5, 6, 7, 8.5]], rating, users)
    t = stats.delta_rmse(same, same, 1000, 0)
    assert t == {**t, "delta": 0.0, "ci_low": 0.0, "ci_high": 0.0, "p": 1.0}


def test_bootstrap_resamples_users_not_ratings():
    """One user with many ratings carries one user's weight: A is better for 1 of 10 users only, on 900 of its
    990 ratings. A rating-level test would call it significant; the user bootstrap must not."""
    rng = np.random.default_rng(1)
    users = np.concatenate([np.zeros(900, int), np.repeat(np.arange(1, 10), 10)])
    rating = np.full(990, 6.0)
    noise = rng.normal(0, 1, 990)
    pred_b = rating + noise
    pred_a = pred_b.copy()
    pred_a[:900] = rating[:900] + 0.5 * noise[:900]  # better on user 0 only
    pred_a[900:] = rating[900:] + 1.3 * noise[900:]  # worse on every other user
    t = stats.delta_rmse(errors([pred_a], rating, users), errors([pred_b], rating, users), 2000, 0)
    assert t["delta"] < 0  # overall RMSE favours A (user 0 dominates the ratings) ...
    assert t["ci_high"] > 0 and t["p"] > 0.05  # ... but with 10 users that is no evidence


def test_seed_spread_widens_the_interval():
    rng = np.random.default_rng(2)
    rating = rng.integers(1, 11, 2000).astype(float)
    users = rng.integers(0, 200, 2000)
    base = rating + rng.normal(0, 1, 2000)
    b = errors([base], rating, users)
    stable = errors([base - 0.05 * (base - rating)] * 5, rating, users)
    shaky_preds = [base + rng.normal(0, s, 2000) for s in (0.0, 0.0, 0.9, 0.0, 0.0)]
    shaky = errors(shaky_preds, rating, users)
    w_stable = np.diff([stats.delta_rmse(stable, b, 2000, 0)[k] for k in ("ci_low", "ci_high")])[0]
    w_shaky = np.diff([stats.delta_rmse(shaky, b, 2000, 0)[k] for k in ("ci_low", "ci_high")])[0]
    assert w_shaky > 2 * w_stable


def test_seeded_models_pair_by_seed_and_must_match():
    rating, users = np.array([5.0, 6, 7, 8]), np.array([0, 1, 2, 3])
    a = errors(np.tile([5.0, 6, 7, 8.5], (3, 1)), rating, users)
    b = errors(np.tile([5.0, 6, 7, 8.5], (2, 1)), rating, users)
    with pytest.raises(ValueError, match="same seeds"):
        stats.delta_rmse(a, b, 1000, 0)


def test_holm_known_answer():
    # sorted p: 0.001 <= 0.05/4, 0.01 <= 0.05/3, 0.03 > 0.05/2 -> stop: a is not rejected though 0.04 <= 0.05
    assert stats.holm({"a": 0.04, "b": 0.01, "c": 0.03, "d": 0.001}) == {"d": True, "b": True, "c": False, "a": False}
    assert all(stats.holm({"a": 0.03, "b": 0.01, "c": 0.02, "d": 0.001}).values())
    assert stats.holm({"a": 0.04}) == {"a": True}
    assert stats.holm({"a": 0.04, "b": 0.04}) == {"a": False, "b": False}


def test_significant_needs_holm_and_an_interval_away_from_zero():
    t = {"delta": -0.1, "ci_low": -0.2, "ci_high": -0.01}
    assert stats.significant(t, True) and not stats.significant(t, False)
    assert not stats.significant({"delta": -0.1, "ci_low": -0.2, "ci_high": 0.01}, True)
    assert not stats.significant({"delta": 0.1, "ci_low": -0.01, "ci_high": 0.2}, True)
    assert stats.verdict(t, True) == "significantly better"
    assert stats.verdict({"delta": 0.1, "ci_low": 0.05, "ci_high": 0.2}, True) == "significantly worse"
    assert stats.verdict({"delta": 0.1, "ci_low": -0.05, "ci_high": 0.2}, True) == "worse (not significant)"


def test_rmse_interval_covers_the_mean():
    rng = np.random.default_rng(3)
    rating = rng.integers(1, 11, 500).astype(float)
    e = errors([rating + rng.normal(0, 1, 500) for _ in range(3)], rating, rng.integers(0, 50, 500))
    r = stats.rmse_interval(e, 1000, 0)
    assert r["ci_low"] < r["rmse"] < r["ci_high"] and r["rmse"] == pytest.approx(e.rmse().mean())


# --- replicates of the whole procedure (split, tuning, seeds) ------------------------------------------------

def _replicate(rng, n=400, users=80):
    rating = rng.integers(1, 11, n).astype(float)
    return rating, rng.integers(0, users, n)


def test_coin_flip_tuning_gets_an_interval_covering_both_outcomes():
    """A model whose tuning lands on a good or a bad setting by a coin flip (replicates 0, 2: noise 1.0; 1, 3:
    noise 1.6): its interval spans both outcomes, and against a model between the two it is not significant.
    One replicate (the procedure before replicates) would have called it significantly better."""
    rng = np.random.default_rng(4)
    flip, mid, outcomes = [], [], {1.0: [], 1.6: []}
    for r, sd in enumerate((1.0, 1.6, 1.0, 1.6)):
        rating, users = _replicate(rng)
        e = errors([rating + rng.normal(0, sd, len(rating)) for _ in range(2)], rating, users)
        flip.append(e)
        outcomes[sd].append(e.rmse().mean())
        mid.append(errors([rating + rng.normal(0, 1.3, len(rating)) for _ in range(2)], rating, users))
    iv = stats.rmse_interval(flip, 2000, 0)
    assert iv["ci_low"] <= np.mean(outcomes[1.0]) and iv["ci_high"] >= np.mean(outcomes[1.6])
    t = stats.delta_rmse(flip, mid, 2000, 0)
    assert t["ci_low"] < 0 < t["ci_high"] and not t["sign_agree"]
    assert not stats.significant(t, stats.holm({"t": t["p"]})["t"])
    lucky = stats.delta_rmse(flip[0], mid[0], 2000, 0)  # replicate 0 alone: the coin came up good
    assert stats.significant(lucky, stats.holm({"t": lucky["p"]})["t"]) and lucky["delta"] < 0


def test_replicates_that_disagree_in_sign_are_never_significant():
    """Four replicates say A is much better, one says worse: the interval may exclude 0 and Holm may reject,
    but the verdict is "not significant"."""
    rng = np.random.default_rng(5)
    a, b = [], []
    for shift in (0.6, 0.6, 0.6, 0.6, 1.4):  # A's noise sd; B's is 1.2
        rating, users = _replicate(rng, n=2000, users=300)
        a.append(errors([rating + rng.normal(0, shift, len(rating)) for _ in range(2)], rating, users))
        b.append(errors([rating + rng.normal(0, 1.2, len(rating)) for _ in range(2)], rating, users))
    t = stats.delta_rmse(a, b, 2000, 0)
    assert t["delta"] < 0 and sum(d < 0 for d in t["per_replicate"]) == 4 and not t["sign_agree"]
    assert t["ci_high"] < 0 and t["p"] < 0.05  # the bootstrap alone would call it significant ...
    assert not stats.significant(t, True) and stats.verdict(t, True) == "better (not significant)"  # ... it is not
    agree = stats.delta_rmse(a[:4], b[:4], 2000, 0)
    assert agree["sign_agree"] and stats.significant(agree, True)


def test_replicates_must_match_between_models():
    rng = np.random.default_rng(6)
    rating, users = _replicate(rng)
    e = errors([rating + 1.0], rating, users)
    with pytest.raises(ValueError, match="same replicates"):
        stats.delta_rmse([e, e], [e], 1000, 0)


def test_variance_parts_recover_known_components():
    """Simulated nested design with known parts: split sd 0.04, tuning sd 0.03, seed sd 0.02; 400 replicates of
    2 seeds each, cross fits sharing replicate 0's settings. The method of moments recovers each part."""
    rng = np.random.default_rng(7)
    R, S = 400, 2
    split = rng.normal(0, 0.04, R)
    setting = rng.normal(0, 0.03, R)  # the tuned setting's effect in each replicate
    values = [1.0 + split[r] + setting[r] + rng.normal(0, 0.02, S) for r in range(R)]
    cross = [1.0 + split[r] + setting[0] + rng.normal(0, 0.02) for r in range(1, R)]
    v = stats.variance_parts(values, cross, from_tuning=True)
    assert np.sqrt(v["seed"]) == pytest.approx(0.02, rel=0.15)
    assert np.sqrt(v["split"]) == pytest.approx(0.04, rel=0.15)
    assert np.sqrt(v["tuning"]) == pytest.approx(0.03, rel=0.25)
    assert v["rerun_se"] == pytest.approx(np.sqrt((v["tuning"] + v["seed"] / S) / R))
    fixed = stats.variance_parts(values, None, from_tuning=False)  # fixed settings: no tuning part
    assert fixed["tuning"] == 0 and fixed["split"] == pytest.approx(v["between"] - v["seed"] / S)
    det = stats.variance_parts([[1.0 + s] for s in split], None)  # deterministic: one run per replicate
    assert det["seed"] == 0 and det["rerun_se"] == 0 and np.sqrt(det["split"]) == pytest.approx(0.04, rel=0.15)


def test_a_platform_invariant_model_has_no_rerun_spread():
    rng = np.random.default_rng(8)
    values = [1.0 + rng.normal(0, 0.02, 2) for _ in range(3)]
    assert stats.variance_parts(values, [1.0, 1.01], True)["rerun_se"] > 0
    assert stats.variance_parts(values, [1.0, 1.01], True, invariant=True)["rerun_se"] == 0


def test_platform_invariance_of_the_families():
    from baselines.cornac_models import CornacPredictor
    from baselines.surprise_models import SurprisePredictor
    from hybridrec.params import parse
    from hybridrec.recommenders.gnn import GraphSAGEPredictor
    from hybridrec.recommenders.hybrid import HybridPredictor
    from tests.conftest import raw_params

    models = parse(raw_params()).compare.models
    assert SurprisePredictor.platform_invariant(models["svd"]) and CornacPredictor.platform_invariant(models["cornac_mf"])
    assert not CornacPredictor.platform_invariant(models["cornac_hft"])  # NumPy's BLAS and vector exp
    assert SurprisePredictor.platform_invariant(models["svdpp"])  # numba, the same bits for any CPU (test_svdpp)
    assert not GraphSAGEPredictor.platform_invariant(models["sage_tuned"])
    assert not HybridPredictor.platform_invariant(models["hybrid"])


def test_error_metrics_get_at_least_test_rmse_relative_rerun_se():
    """A metric whose own tuning part comes out 0 (few replicates) still moves with the settings: MAE and
    validation RMSE get test RMSE's relative rerun s.e. at least; a non-error metric keeps its own."""
    from hybridrec.reporting.comparison import variance

    def run(rep, rmse, val):
        return {"replicate": rep, "test": {"rmse": rmse, "mae": 0.8, "accuracy": 0.3, "within1": 0.8},
                "ranking": {"precision": 0.1, "recall": 0.1, "ndcg": 0.1}, "val": {"rmse": val}}

    runs = [run(r, 1.0 + 0.1 * r + 0.01 * s, 1.2) for r in range(3) for s in range(2)]
    model = {"replicates": [{}, {}, {}], "runs": runs, "settings_from_tuning": True,
             "cross": [run(1, 1.0, 1.2), run(2, 1.0, 1.2)]}  # r0's settings give the same on every split: tuning
    v = variance(model)
    assert v["rmse"]["tuning"] > 0 and v["rmse"]["rerun_se"] > 0.03
    rel = v["rmse"]["rerun_se"] / np.mean([r["test"]["rmse"] for r in runs])
    assert v["val_rmse"]["rerun_se"] == pytest.approx(rel * 1.2)  # its own parts are all 0
    assert v["mae"]["rerun_se"] == pytest.approx(rel * 0.8)
    assert v["accuracy"]["rerun_se"] == 0.0
    assert variance(model, invariant=True)["val_rmse"]["rerun_se"] == 0.0  # bits that do not move stay exact


def test_summary_interval_is_scipy_t_interval_bit_for_bit():
    """summarize's t quantile comes from scipy.special (scipy.stats costs ~1 s to import): the same bits."""
    from scipy import stats as st

    rng = np.random.default_rng(0)
    for n in (2, 3, 6, 30, 200):
        v = rng.normal(1.0, 0.1, n)
        half = float(st.t.ppf(0.975, n - 1) * np.std(v, ddof=1) / np.sqrt(n))
        assert stats.summarize(v)["ci95"] == half
    assert np.isnan(stats.summarize([1.0])["ci95"])
