"""Surprise's SVD++ training (``surprise.SVDpp.fit``), the same algorithm in O(k) per rating instead of O(|I_u| k).

Surprise's ``SVDpp.sgd`` (surprise/prediction_algorithms/matrix_factorization.pyx) recomputes, for every rating
(u, i, r), the implicit feedback ``|I_u|^-1/2 * sum_{j in I_u} y_j`` and then updates every ``y_j`` (j in I_u):
``y_j += lr_yj * (err * q_i / sqrt|I_u| - reg_yj * y_j)``, with the q_i of before this rating's update. That is
O(|I_u| k) per rating, O(sum_u |I_u|^2 k) per epoch.

``trainset.all_ratings()`` yields the ratings user by user, so within the block of user u the y_j of u's items are
changed by u's updates only, and all of them by the same affine map per rating::

    y_j  <-  (1 - lr_yj reg_yj) y_j + lr_yj err q_i / sqrt|I_u|

Hence after t ratings of the block ``y_j(t) = A_t y_j(0) + D_t`` with one scalar ``A_t`` and one k-vector ``D_t``
shared by the items of u (both updated in O(k) per rating), the implicit sum is ``(A_t S_0 + |I_u| D_t) /
sqrt|I_u|`` with ``S_0`` the sum of the y_j at the start of the block, and the y_j are written once at the
end of the block: O(k) per rating plus O(|I_u| k) per user and epoch. Same update order, same initialisation
(p_u, q_i, y_j drawn from ``random_state`` in Surprise's order); only the floating-point rounding differs from
Surprise (~1e-13 relative on the predictions, tests/test_svdpp.py).

The shared-map argument needs each item at most once in I_u (Surprise applies the map once per occurrence);
the suite's data never holds a duplicate (user, anime) pair (hybridrec/data.py refuses them), and a trainset that
does is trained by Surprise itself.

numba is imported on first use only (loading params.yaml imports the family module, which must stay cheap).
"""

from __future__ import annotations

import math

import numpy as np

_KERNEL = None


def _kernel():
    """The compiled epoch (compiled on first use, cached on disk by numba)."""
    global _KERNEL
    if _KERNEL is None:
        from numba import njit  # noqa: PLC0415

        _KERNEL = njit(cache=True)(_epoch)
    return _KERNEL


def _epoch(block_user, indptr, items, ratings, global_mean, bu, bi, pu, qi, yj,
           lr_bu, lr_bi, lr_pu, lr_qi, lr_yj, reg_bu, reg_bi, reg_pu, reg_qi, reg_yj):
    """One epoch of Surprise's SVD++ SGD over the ratings in ``all_ratings()`` order: block b holds the ratings
    ``indptr[b]:indptr[b + 1]`` (items, ratings) of user ``block_user[b]``, whose I_u are those same items."""
    n_factors = pu.shape[1]
    s0 = np.empty(n_factors)  # sum of y_j (j in I_u) at the start of the block
    d = np.empty(n_factors)  # y_j(t) = a * y_j(0) + d for every j in I_u
    impl = np.empty(n_factors)  # the implicit feedback |I_u|^-1/2 sum y_j(t)
    for b in range(block_user.shape[0]):
        u = block_user[b]
        start, stop = indptr[b], indptr[b + 1]
        n_iu = stop - start
        if n_iu == 0:
            continue
        sqrt_iu = math.sqrt(n_iu)
        for f in range(n_factors):
            s0[f] = 0.0
            d[f] = 0.0
        for k in range(start, stop):
            j = items[k]
            for f in range(n_factors):
                s0[f] += yj[j, f]
        a = 1.0
        for t in range(start, stop):
            i = items[t]
            r = ratings[t]
            dot = 0.0
            for f in range(n_factors):
                impl[f] = (a * s0[f] + n_iu * d[f]) / sqrt_iu
                dot += qi[i, f] * (pu[u, f] + impl[f])
            err = r - (global_mean + bu[u] + bi[i] + dot)
            bu[u] += lr_bu * (err - reg_bu * bu[u])
            bi[i] += lr_bi * (err - reg_bi * bi[i])
            for f in range(n_factors):
                puf = pu[u, f]
                qif = qi[i, f]  # the q_i of before this update, as Surprise's y_j update reads it
                pu[u, f] += lr_pu * (err * qif - reg_pu * puf)
                qi[i, f] += lr_qi * (err * (puf + impl[f]) - reg_qi * qif)
                d[f] += lr_yj * (err * qif / sqrt_iu - reg_yj * d[f])
            a -= lr_yj * reg_yj * a
        for k in range(start, stop):  # materialise the y_j of the block
            j = items[k]
            for f in range(n_factors):
                yj[j, f] = a * yj[j, f] + d[f]


def rating_blocks(trainset):
    """The ratings in ``trainset.all_ratings()`` order as arrays: (block_user, indptr, items, ratings)."""
    users = list(trainset.ur)  # all_ratings() walks ur.items() in this order
    lengths = np.fromiter((len(trainset.ur[u]) for u in users), dtype=np.int64, count=len(users))
    indptr = np.zeros(len(users) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    items = np.empty(indptr[-1], dtype=np.int64)
    ratings = np.empty(indptr[-1], dtype=np.float64)
    for b, u in enumerate(users):
        ur = trainset.ur[u]
        items[indptr[b]:indptr[b + 1]] = [j for (j, _) in ur]
        ratings[indptr[b]:indptr[b + 1]] = [r for (_, r) in ur]
    return np.asarray(users, dtype=np.int64), indptr, items, ratings


def has_duplicates(block_user, indptr, items, n_items) -> bool:
    """Whether some user's I_u holds an item twice."""
    owner = np.repeat(block_user, np.diff(indptr))
    return len(np.unique(owner * np.int64(n_items) + items)) != len(items)


def fit(algo, trainset):
    """Train ``algo`` (a ``surprise.SVDpp``) on ``trainset`` as ``algo.fit(trainset)`` does; returns ``algo``
    with ``bu, bi, pu, qi, yj`` set (``algo.predict`` / ``estimate`` work as after Surprise's own fit).

    ``cache_ratings`` only changes how Surprise stores I_u (not the result), so it is ignored here; ``verbose``
    prints the epochs as Surprise does."""
    from surprise.prediction_algorithms.algo_base import AlgoBase  # noqa: PLC0415
    from surprise.utils import get_rng  # noqa: PLC0415

    block_user, indptr, items, ratings = rating_blocks(trainset)
    if has_duplicates(block_user, indptr, items, trainset.n_items):
        return algo.fit(trainset)  # the shared affine map does not hold: Surprise's own loop
    AlgoBase.fit(algo, trainset)
    rng = get_rng(algo.random_state)  # the draws of SVDpp.sgd, in its order
    k = algo.n_factors
    bu = np.zeros(trainset.n_users, dtype=np.double)
    bi = np.zeros(trainset.n_items, dtype=np.double)
    pu = np.ascontiguousarray(rng.normal(algo.init_mean, algo.init_std_dev, size=(trainset.n_users, k)), np.double)
    qi = np.ascontiguousarray(rng.normal(algo.init_mean, algo.init_std_dev, size=(trainset.n_items, k)), np.double)
    yj = np.ascontiguousarray(rng.normal(algo.init_mean, algo.init_std_dev, size=(trainset.n_items, k)), np.double)
    rates = [float(x) for x in (algo.lr_bu, algo.lr_bi, algo.lr_pu, algo.lr_qi, algo.lr_yj,
                                algo.reg_bu, algo.reg_bi, algo.reg_pu, algo.reg_qi, algo.reg_yj)]
    epoch = _kernel()
    for current_epoch in range(algo.n_epochs):
        if algo.verbose:
            print(" processing epoch {}".format(current_epoch))
        epoch(block_user, indptr, items, ratings, float(trainset.global_mean), bu, bi, pu, qi, yj, *rates)
    algo.bu, algo.bi, algo.pu, algo.qi, algo.yj = bu, bi, pu, qi, yj
    return algo
