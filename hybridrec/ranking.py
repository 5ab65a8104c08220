"""Top-k ranking metrics with full ranking (every anime the user did not rate in training is a candidate).

The paper recommends top-10 lists but never measures them; here "relevant" = a test rating at or above a
threshold (``evaluate.relevant_threshold``), and each metric is averaged over test users with at least
one relevant rating.
"""

from __future__ import annotations

import numpy as np


def topk_metrics(scores: np.ndarray, train_pairs, relevant_pairs, k: int) -> dict:
    """Precision@k, Recall@k and NDCG@k (binary relevance).

    ``scores``: [n_users, n_anime] predicted ratings; ``train_pairs``: (user_idx, anime_idx) arrays of the
    training ratings (excluded from ranking); ``relevant_pairs``: (user_idx, anime_idx) arrays of relevant
    test ratings.
    """
    scores = np.array(scores, dtype=np.float64, copy=True)
    tu, ta = (np.asarray(x) for x in train_pairs)
    scores[tu, ta] = -np.inf
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
    hits = np.take_along_axis(rel, top, 1)
    n_rel = rel.sum(1)
    discount = 1.0 / np.log2(np.arange(2, kk + 2))
    dcg = (hits * discount).sum(1)
    idcg = np.array([discount[: min(n, kk)].sum() for n in n_rel])
    return {"precision": float((hits.sum(1) / kk).mean()), "recall": float((hits.sum(1) / n_rel).mean()),
            "ndcg": float((dcg / idcg).mean()), "users": int(len(users))}
