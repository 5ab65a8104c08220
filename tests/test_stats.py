"""Known answers for the statistics behind every verdict: the user-and-seed bootstrap of ΔRMSE, its interval
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
