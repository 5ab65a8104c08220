"""Statistics for the comparison.

One procedure gives every verdict its direction, interval and p-value: the difference in test RMSE between
two models, ΔRMSE = mean over replicates and seeds of RMSE_A - RMSE_B (exactly the difference of the table's
means; within a replicate both models are scored on the same test ratings and paired seed by seed), with
uncertainty from a hierarchical bootstrap that resamples every source of it at once:

* replicates of the whole procedure, with replacement (each has its own split and its own tuning: the split's
  and the tuning's variance),
* within each drawn replicate, test users with replacement (a user's ratings stay together: ratings of one
  user are not independent, so resampling single ratings would overstate the evidence), and
* seeds, with replacement (training variance: a model is one draw of its initialisation).

The 95% interval is the 2.5/97.5 percentiles of the bootstrap replicates; the two-sided p-value is the one
that interval inverts (twice the share of bootstrap replicates on the far side of 0, add-one corrected).
Holm's procedure controls the family-wise error over each family of tests. A difference is called
significant only when Holm rejects, the interval excludes 0 on the side of the point estimate, *and* every
replicate's ΔRMSE has that sign: replicates of the procedure that disagree in sign are never significant,
however many users each has.

:func:`variance_parts` splits the variance of a model's test metric into the split's, the tuning's and the
seed's parts from the replicates, their seeds and the cross fits (replicate 0's settings refitted on the other
replicates' splits; see :mod:`hybridrec.experiment`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import special


def summarize(values) -> dict:
    """Mean, sample std and the 95% t-interval half-width of ``values`` (one per run)."""
    v = np.asarray(values, dtype=np.float64)
    n = len(v)
    mean = float(v.mean())
    std = float(v.std(ddof=1)) if n > 1 else 0.0
    # special.stdtrit(df, q) is what scipy.stats.t.ppf(q, df) computes, bit for bit, without importing scipy.stats (~1 s)
    half = float(special.stdtrit(n - 1, 0.975) * std / np.sqrt(n)) if n > 1 else float("nan")
    return {"mean": mean, "std": std, "ci95": half, "n": n}


@dataclass
class UserErrors:
    """Per-seed, per-user sums of squared errors on one replicate's test ratings (what the bootstrap resamples)."""

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


def _replicated(x) -> list[UserErrors]:
    """One UserErrors per replicate (a single one is one replicate)."""
    return [x] if isinstance(x, UserErrors) else list(x)


@lru_cache(maxsize=256)
def _weights(n_users: int, replicates: int, seed: int, replicate: int, n_seeds: int):
    rng = np.random.default_rng([seed, replicate])
    w = rng.multinomial(n_users, np.full(n_users, 1.0 / n_users), size=replicates).astype(np.float64)
    draws = rng.integers(0, n_seeds, size=(replicates, n_seeds))
    w.flags.writeable = False
    draws.flags.writeable = False
    return w, draws


def bootstrap_weights(n_users: int, replicates: int, seed: int, n_seeds: int,
                      replicate: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(user multiplicities [replicates, n_users], seed draws [replicates, n_seeds]) of the bootstrap within
    one replicate of the procedure (independent across replicates, common to every model: paired)."""
    return _weights(int(n_users), int(replicates), int(seed), int(replicate), int(n_seeds))


def replicate_draws(n_rep: int, replicates: int, seed: int) -> np.ndarray:
    """[bootstrap replicates, n_rep]: which replicates of the procedure each bootstrap replicate draws."""
    if n_rep == 1:
        return np.zeros((replicates, 1), dtype=np.int64)
    return np.random.default_rng([seed, 7919]).integers(0, n_rep, size=(replicates, n_rep))


def _per_replicate(a: UserErrors, b: UserErrors | None, replicates: int, seed: int, r: int) -> np.ndarray:
    """[bootstrap replicates]: the mean over drawn seeds of RMSE_A (- RMSE_B) under resampled users."""
    sa = len(a.sse)
    sb = len(b.sse) if b is not None else 1
    n_seeds = max(sa, sb)
    w, draws = bootstrap_weights(len(a.count), replicates, seed, n_seeds, r)
    n = w @ a.count  # [B] ratings in each bootstrap replicate
    ra = np.sqrt((w @ a.sse.T) / n[:, None])  # [B, sa]
    out = np.take_along_axis(ra, draws if sa > 1 else np.zeros_like(draws), 1)
    if b is not None:
        rb = np.sqrt((w @ b.sse.T) / n[:, None])
        out = out - np.take_along_axis(rb, draws if sb > 1 else np.zeros_like(draws), 1)
    return out.mean(1)


def _interval(reps: np.ndarray) -> tuple[float, float, float]:
    low, high = np.percentile(reps, [2.5, 97.5])
    b = len(reps)
    p = min(1.0, 2 * min((1 + np.sum(reps <= 0)) / (b + 1), (1 + np.sum(reps >= 0)) / (b + 1)))
    return float(low), float(high), float(p)


def delta_rmse(a, b, replicates: int, seed: int) -> dict:
    """ΔRMSE = A - B (negative: A is better) with its hierarchical bootstrap 95% CI and p-value (module doc).

    ``a``, ``b``: one UserErrors per replicate of the procedure (or one UserErrors: one replicate). A model
    run once per replicate (deterministic) stands for every seed; two seeded models are paired seed by seed.
    """
    a, b = _replicated(a), _replicated(b)
    if len(a) != len(b):
        raise ValueError(f"both models need the same replicates ({len(a)} vs {len(b)})")
    for ea, eb in zip(a, b):
        sa, sb = len(ea.sse), len(eb.sse)
        if sa > 1 and sb > 1 and sa != sb:
            raise ValueError(f"seeded models must have the same seeds to be paired ({sa} vs {sb})")
        if ea.sse.shape[1] != eb.sse.shape[1] or not np.array_equal(ea.count, eb.count):
            raise ValueError("both models must be scored on the same test ratings")
    per_rep = [float(ea.rmse().mean() - eb.rmse().mean()) for ea, eb in zip(a, b)]
    delta = float(np.mean(per_rep))
    within = np.stack([_per_replicate(ea, eb, replicates, seed, r) for r, (ea, eb) in enumerate(zip(a, b))], 1)
    pick = replicate_draws(len(a), replicates, seed)
    reps = np.take_along_axis(within, pick, 1).mean(1)
    low, high, p = _interval(reps)
    if all(len(ea.sse) == 1 and len(eb.sse) == 1 and np.array_equal(ea.sse, eb.sse) for ea, eb in zip(a, b)):
        low = high = 0.0
        p = 1.0
    agree = all(np.sign(d) == np.sign(delta) for d in per_rep) and delta != 0
    return {"delta": delta, "ci_low": low, "ci_high": high, "p": p, "replicates": int(replicates),
            "per_replicate": per_rep, "sign_agree": bool(agree)}


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
    """Holm rejected the null, the interval lies on the side of the point estimate, away from 0, and every
    replicate of the procedure agrees in sign (when the test records its replicates)."""
    if not rejected or not test.get("sign_agree", True):
        return False
    return test["ci_high"] < 0 if test["delta"] < 0 else test["ci_low"] > 0


def verdict(test: dict, rejected: bool) -> str:
    """"better" / "worse" for A against B from the sign of ΔRMSE, and whether that is significant."""
    word = "better" if test["delta"] < 0 else "worse" if test["delta"] > 0 else "equal"
    return f"significantly {word}" if significant(test, rejected) else f"{word} (not significant)"


def rmse_interval(errors, replicates: int, seed: int) -> dict:
    """A model's mean test RMSE over replicates and seeds with the 95% interval of the same bootstrap."""
    errors = _replicated(errors)
    within = np.stack([_per_replicate(e, None, replicates, seed, r) for r, e in enumerate(errors)], 1)
    reps = np.take_along_axis(within, replicate_draws(len(errors), replicates, seed), 1).mean(1)
    low, high = np.percentile(reps, [2.5, 97.5])
    return {"rmse": float(np.mean([e.rmse().mean() for e in errors])), "ci_low": float(low),
            "ci_high": float(high), "n": int(sum(e.count.sum() for e in errors)),
            "users": int(max(len(e.count) for e in errors))}


def variance_parts(values, cross=None, from_tuning: bool = False, invariant: bool = False) -> dict:
    """How the variance of one run's metric splits into the split's, the tuning's and the seed's parts.

    ``values``: [replicates][seeds] of the metric (the seeds nested in each replicate; one value per
    replicate for a deterministic model); ``cross``: for r >= 1, the metric of replicate 0's settings fitted on
    replicate r's split with that replicate's first seed (None when the settings are not tuned). Method of
    moments on the nested design:

    * seed = the pooled within-replicate variance (0 for a model run once per replicate),
    * split = the variance over replicates of the fits that share replicate 0's settings (replicate 0's first
      seed and the cross fits) minus the seed part; for a model with fixed settings, the variance of the
      replicate means minus seed / seeds,
    * tuning = the variance of the replicate means minus split and seed / seeds (0 for fixed settings).

    Each part is floored at 0. ``rerun_se`` is the standard error of the reported mean (over replicates and
    seeds) under a rerun of the same splits with other rounding: sqrt((tuning + seed / seeds) / replicates),
    0 for a deterministic model with fixed or deterministically tuned settings (its bits do not change).
    """
    vals = [np.asarray(v, dtype=np.float64) for v in values]
    n_rep, n_seeds = len(vals), min(len(v) for v in vals)
    means = np.array([v.mean() for v in vals])
    seed = float(np.mean([v.var(ddof=1) for v in vals])) if n_seeds > 1 else 0.0
    between = float(means.var(ddof=1)) if n_rep > 1 else float("nan")
    if n_rep < 2:
        split = tuning = float("nan")
    elif from_tuning and cross is not None and len(cross) == n_rep - 1:
        same = np.concatenate([[vals[0][0]], np.asarray(cross, dtype=np.float64)])
        split = max(0.0, float(same.var(ddof=1)) - seed)
        tuning = max(0.0, between - split - seed / n_seeds)
    else:
        split = max(0.0, between - seed / n_seeds)
        tuning = 0.0
    total = split + tuning + seed
    deterministic = n_seeds == 1 and seed == 0.0 and all(len(v) == 1 for v in vals)
    rerun = 0.0 if deterministic or invariant else float(np.sqrt((tuning + seed / n_seeds) / n_rep)) if n_rep > 1 else \
        float(np.sqrt(seed / n_seeds))
    return {"split": split, "tuning": tuning, "seed": seed, "total": total, "between": between,
            "replicates": n_rep, "seeds": n_seeds, "rerun_se": rerun}
