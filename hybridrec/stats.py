"""Statistics for the comparison.

One procedure gives every verdict its direction, interval and p-value: the difference in test RMSE between
two models, ΔRMSE = mean over seeds of RMSE_A(seed) - RMSE_B(seed) (exactly the difference of the table's
means), with uncertainty from a bootstrap that resamples both sources of it at once:

* test users, with replacement (a user's ratings stay together: ratings of one user are not independent,
  so resampling single ratings would overstate the evidence), and
* seeds, with replacement (training variance: a model is one draw of its initialisation).

The 95% interval is the 2.5/97.5 percentiles of the replicates; the two-sided p-value is the one that
interval inverts (twice the share of replicates on the far side of 0, add-one corrected). Holm's procedure
controls the family-wise error over every test of a report. A difference is called significant only when
Holm rejects *and* the interval excludes 0 on the side of the point estimate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as st


def summarize(values) -> dict:
    """Mean, sample std and the 95% t-interval half-width of ``values`` (one per seed)."""
    v = np.asarray(values, dtype=np.float64)
    n = len(v)
    mean = float(v.mean())
    std = float(v.std(ddof=1)) if n > 1 else 0.0
    half = float(st.t.ppf(0.975, n - 1) * std / np.sqrt(n)) if n > 1 else float("nan")
    return {"mean": mean, "std": std, "ci95": half, "n": n}


@dataclass
class UserErrors:
    """Per-seed, per-user sums of squared errors on a set of test ratings (what the bootstrap resamples)."""

    sse: np.ndarray  # [seeds, users]
    count: np.ndarray  # [users] ratings per user

    def rmse(self) -> np.ndarray:
        """RMSE per seed on all the ratings."""
        return np.sqrt(self.sse.sum(1) / self.count.sum())


def user_errors(pred: np.ndarray, rating: np.ndarray, users: np.ndarray, lo: float, hi: float) -> UserErrors:
    """``pred``: [seeds, n] raw predictions (clamped to ``lo``..``hi`` here); ``users``: each rating's user."""
    pred = np.clip(np.atleast_2d(np.asarray(pred, dtype=np.float64)), lo, hi)
    codes, inverse = np.unique(np.asarray(users), return_inverse=True)
    se = (pred - np.asarray(rating, dtype=np.float64)) ** 2
    sse = np.stack([np.bincount(inverse, weights=row, minlength=len(codes)) for row in se])
    return UserErrors(sse, np.bincount(inverse, minlength=len(codes)).astype(np.float64))


def bootstrap_weights(n_users: int, replicates: int, seed: int, n_seeds: int) -> tuple[np.ndarray, np.ndarray]:
    """(user multiplicities [replicates, n_users], seed draws [replicates, n_seeds]) of the bootstrap."""
    rng = np.random.default_rng(seed)
    w = rng.multinomial(n_users, np.full(n_users, 1.0 / n_users), size=replicates).astype(np.float64)
    return w, rng.integers(0, n_seeds, size=(replicates, n_seeds))


def delta_rmse(a: UserErrors, b: UserErrors, replicates: int, seed: int) -> dict:
    """ΔRMSE = A - B (negative: A is better) with its bootstrap 95% CI and p-value (see the module doc).

    A model run once (deterministic) stands for every seed; two seeded models are paired seed by seed.
    """
    sa, sb = len(a.sse), len(b.sse)
    if sa > 1 and sb > 1 and sa != sb:
        raise ValueError(f"seeded models must have the same seeds to be paired ({sa} vs {sb})")
    if a.sse.shape[1] != b.sse.shape[1] or not np.array_equal(a.count, b.count):
        raise ValueError("both models must be scored on the same test ratings")
    n_seeds = max(sa, sb)
    delta = float(a.rmse().mean() - b.rmse().mean())
    w, draws = bootstrap_weights(len(a.count), replicates, seed, n_seeds)
    n = w @ a.count  # [B] ratings in each replicate
    ra = np.sqrt((w @ a.sse.T) / n[:, None])  # [B, sa]
    rb = np.sqrt((w @ b.sse.T) / n[:, None])
    pick_a = draws if sa > 1 else np.zeros_like(draws)
    pick_b = draws if sb > 1 else np.zeros_like(draws)
    reps = (np.take_along_axis(ra, pick_a, 1) - np.take_along_axis(rb, pick_b, 1)).mean(1)
    low, high = np.percentile(reps, [2.5, 97.5])
    p = min(1.0, 2 * min((1 + np.sum(reps <= 0)) / (replicates + 1), (1 + np.sum(reps >= 0)) / (replicates + 1)))
    if sa == 1 and sb == 1 and np.array_equal(a.sse, b.sse):
        low = high = 0.0
        p = 1.0
    return {"delta": delta, "ci_low": float(low), "ci_high": float(high), "p": float(p),
            "replicates": int(replicates)}


def holm(pvalues: dict, alpha: float = 0.05) -> dict:
    """Holm-Bonferroni: name -> True where the null is rejected at family-wise level ``alpha``."""
    names = sorted(pvalues, key=lambda k: pvalues[k])
    m = len(names)
    out, still = {}, True
    for i, name in enumerate(names):
        still = still and pvalues[name] <= alpha / (m - i)
        out[name] = still
    return out


def significant(test: dict, rejected: bool) -> bool:
    """Holm rejected the null and the interval lies on the side of the point estimate, away from 0."""
    if not rejected:
        return False
    return test["ci_high"] < 0 if test["delta"] < 0 else test["ci_low"] > 0


def verdict(test: dict, rejected: bool) -> str:
    """"better" / "worse" for A against B from the sign of ΔRMSE, and whether that is significant."""
    word = "better" if test["delta"] < 0 else "worse" if test["delta"] > 0 else "equal"
    return f"significantly {word}" if significant(test, rejected) else f"{word} (not significant)"


def rmse_interval(errors: UserErrors, replicates: int, seed: int) -> dict:
    """A model's mean test RMSE over seeds with the 95% bootstrap interval of the same procedure."""
    w, draws = bootstrap_weights(len(errors.count), replicates, seed, len(errors.sse))
    r = np.sqrt((w @ errors.sse.T) / (w @ errors.count)[:, None])
    reps = np.take_along_axis(r, draws, 1).mean(1)
    low, high = np.percentile(reps, [2.5, 97.5])
    return {"rmse": float(errors.rmse().mean()), "ci_low": float(low), "ci_high": float(high),
            "n": int(errors.count.sum()), "users": int(len(errors.count))}
