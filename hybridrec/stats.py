"""Statistics for the comparison: mean ± std and 95% confidence intervals over seeds, paired tests on
per-rating errors of the same test set, and Holm's correction for multiple comparisons."""

from __future__ import annotations

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


def paired_tests(err_a, err_b) -> dict:
    """Paired t-test and Wilcoxon signed-rank test on per-item losses (e.g. squared errors) of A and B.

    Returns the mean difference (A - B) and both two-sided p-values.
    """
    a, b = np.asarray(err_a, np.float64), np.asarray(err_b, np.float64)
    if a.shape != b.shape:
        raise ValueError("paired tests need the same items in the same order")
    d = a - b
    if np.allclose(d, 0):
        return {"mean_diff": 0.0, "t_p": 1.0, "wilcoxon_p": 1.0, "n": int(len(d))}
    t_p = float(st.ttest_rel(a, b).pvalue)
    w_p = float(st.wilcoxon(a, b, zero_method="wilcox").pvalue)
    return {"mean_diff": float(d.mean()), "t_p": t_p, "wilcoxon_p": w_p, "n": int(len(d))}


def holm(pvalues: dict, alpha: float = 0.05) -> dict:
    """Holm-Bonferroni: name -> True where the null is rejected at family-wise level ``alpha``."""
    names = sorted(pvalues, key=lambda k: pvalues[k])
    m = len(names)
    out, still = {}, True
    for i, name in enumerate(names):
        still = still and pvalues[name] <= alpha / (m - i)
        out[name] = still
    return out
