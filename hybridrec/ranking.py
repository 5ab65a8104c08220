"""Top-k ranking metrics with full ranking: every anime the user did not rate in training *or* validation
is a candidate (validation items are known to the user's history, so they never count as recommendations).

The paper recommends top-10 lists but never measures them; here "relevant" = a test rating at or above a
threshold (the top ``evaluate.relevant_share`` of the rating scale), and each metric is averaged over test users with at least
one relevant rating. :func:`popularity_correlation` says how much a model's ranking is item popularity.
"""

from __future__ import annotations

import numpy as np
from scipy import stats as st


def topk_metrics(scores: np.ndarray, seen_pairs, relevant_pairs, k: int) -> dict:
    """Precision@k, Recall@k and NDCG@k (binary relevance).

    ``scores``: [n_users, n_anime] ranking scores; ``seen_pairs``: (user_idx, anime_idx) arrays of the ratings
    the user already gave (train and validation; excluded from ranking); ``relevant_pairs``: (user_idx,
    anime_idx) arrays of relevant test ratings.
    """
    scores = np.array(scores, dtype=np.float64, copy=True)
    su, sa = (np.asarray(x) for x in seen_pairs)
    scores[su, sa] = -np.inf
    ru, ra = (np.asarray(x) for x in relevant_pairs)
    users = np.unique(ru)
    if len(users) == 0:
        return {"precision": float("nan"), "recall": float("nan"), "ndcg": float("nan"), "users": 0}
    kk = min(k, scores.shape[1])
    sub = scores[users]
    top = np.argpartition(-sub, kk - 1, axis=1)[:, :kk]
    order = np.argsort(-np.take_along_axis(sub, top, 1), axis=1, kind="stable")
    top = np.take_along_axis(top, order, 1)  # [n_test_users, k], best first
    rel = np.zeros_like(sub, dtype=bool)
    pos = np.searchsorted(users, ru)
    rel[pos, ra] = True
    hits = np.take_along_axis(rel, top, 1) & np.isfinite(np.take_along_axis(sub, top, 1))
    n_rel = rel.sum(1)
    discount = 1.0 / np.log2(np.arange(2, kk + 2))
    dcg = (hits * discount).sum(1)
    idcg = np.array([discount[: min(n, kk)].sum() for n in n_rel])
    return {"precision": float((hits.sum(1) / kk).mean()), "recall": float((hits.sum(1) / n_rel).mean()),
            "ndcg": float((dcg / idcg).mean()), "users": int(len(users))}


def popularity_correlation(scores: np.ndarray, popularity: np.ndarray) -> float:
    """Spearman correlation between each item's mean score over users and its popularity (training ratings):
    near 1, the model ranks by popularity whatever the user (NaN when either is constant)."""
    item_score = np.asarray(scores, dtype=np.float64).mean(0)
    if np.ptp(item_score) == 0 or np.ptp(popularity) == 0:
        return float("nan")
    return float(st.spearmanr(item_score, popularity).statistic)
