"""Surprise's SVD and NMF training (``surprise.SVD.fit``, ``surprise.NMF.fit``) and KNNBaseline's
pearson_baseline similarity compiled with numba: the same arithmetic in the same order, so the parameters come out
bit for bit as Surprise's (tests/test_mf_numba.py).

Surprise's ``sgd`` loops (surprise/prediction_algorithms/matrix_factorization.pyx) run their per-factor arithmetic
in C but walk the ratings through the Python generator ``trainset.all_ratings()``, one tuple per rating and epoch:
on the default data that walk is most of an NMF fit, and the C loops are scalar. ``pearson_baseline``
(surprise/similarities.pyx) unpacks a Python tuple for every pair of ratings of the same user (sum of |I_u|^2). Here the ratings are walked as
arrays in the generator's order (``all_ratings()`` goes user by user through ``trainset.ur``), every scalar
operation is the one Surprise performs (no fused multiply-add, no reassociation: numba's default), so the result
does not depend on the instructions LLVM picks for the CPU either (the element-wise updates may be vectorised,
which does not change a bit; the dot products stay sequential sums).

The random initialisation is drawn in Python from ``random_state`` in Surprise's order. numba is imported on
first use only (loading params.yaml imports the family module, which must stay cheap).
"""

from __future__ import annotations

import numpy as np

from baselines.svdpp_numba import rating_blocks

_KERNELS: dict = {}


def _kernel(name):
    """The compiled epoch ``name`` (compiled on first use, cached on disk by numba)."""
    if name not in _KERNELS:
        from numba import njit  # noqa: PLC0415

        _KERNELS[name] = njit(cache=True)({"svd": _svd_epoch, "nmf": _nmf_epoch, "pearson": _pearson_baseline}[name])
    return _KERNELS[name]


def _svd_epoch(users, items, ratings, global_mean, biased, bu, bi, pu, qi,
               lr_bu, lr_bi, lr_pu, lr_qi, reg_bu, reg_bi, reg_pu, reg_qi):
    """One epoch of ``SVD.sgd`` over the ratings (users[t], items[t], ratings[t]) in ``all_ratings()`` order."""
    n_factors = pu.shape[1]
    for t in range(users.shape[0]):
        u, i, r = users[t], items[t], ratings[t]
        dot = 0.0
        for f in range(n_factors):
            dot += qi[i, f] * pu[u, f]
        err = r - (global_mean + bu[u] + bi[i] + dot)
        if biased:
            bu[u] += lr_bu * (err - reg_bu * bu[u])
            bi[i] += lr_bi * (err - reg_bi * bi[i])
        for f in range(n_factors):
            puf = pu[u, f]
            qif = qi[i, f]
            pu[u, f] += lr_pu * (err * qif - reg_pu * puf)
            qi[i, f] += lr_qi * (err * puf - reg_qi * qif)


def _nmf_epoch(users, items, ratings, n_user_ratings, n_item_ratings, global_mean, biased, bu, bi, pu, qi,
               user_num, user_denom, item_num, item_denom, lr_bu, lr_bi, reg_bu, reg_bi, reg_pu, reg_qi):
    """One epoch of ``NMF.sgd``: the multiplicative updates' numerators and denominators over the ratings in
    ``all_ratings()`` order, then every user's factors, then every item's."""
    n_factors = pu.shape[1]
    user_num[:, :] = 0.0
    user_denom[:, :] = 0.0
    item_num[:, :] = 0.0
    item_denom[:, :] = 0.0
    for t in range(users.shape[0]):
        u, i, r = users[t], items[t], ratings[t]
        dot = 0.0
        for f in range(n_factors):
            dot += qi[i, f] * pu[u, f]
        est = global_mean + bu[u] + bi[i] + dot
        err = r - est
        if biased:
            bu[u] += lr_bu * (err - reg_bu * bu[u])
            bi[i] += lr_bi * (err - reg_bi * bi[i])
        for f in range(n_factors):
            user_num[u, f] += qi[i, f] * r
            user_denom[u, f] += qi[i, f] * est
            item_num[i, f] += pu[u, f] * r
            item_denom[i, f] += pu[u, f] * est
    for u in range(pu.shape[0]):
        n_ratings = float(n_user_ratings[u])
        for f in range(n_factors):
            if pu[u, f] != 0:  # Surprise: can happen if the user has only ratings of 0
                user_denom[u, f] += n_ratings * reg_pu * pu[u, f]
                pu[u, f] *= user_num[u, f] / user_denom[u, f]
    for i in range(qi.shape[0]):
        n_ratings = float(n_item_ratings[i])
        for f in range(n_factors):
            if qi[i, f] != 0:
                item_denom[i, f] += n_ratings * reg_qi * qi[i, f]
                qi[i, f] *= item_num[i, f] / item_denom[i, f]


def _pearson_baseline(n_x, block_y, indptr, xs, rs, min_sprt, global_mean, x_biases, y_biases, shrinkage):
    """``surprise.similarities.pearson_baseline``: y's ratings are ``xs, rs[indptr[b]:indptr[b + 1]]`` of
    ``y = block_y[b]``, in the order of ``yr.items()``."""
    freq = np.zeros((n_x, n_x), np.int64)
    prods = np.zeros((n_x, n_x))
    sq_diff_i = np.zeros((n_x, n_x))
    sq_diff_j = np.zeros((n_x, n_x))
    sim = np.zeros((n_x, n_x))
    for b in range(block_y.shape[0]):
        partial_bias = global_mean + y_biases[block_y[b]]
        for s in range(indptr[b], indptr[b + 1]):
            xi, ri = xs[s], rs[s]
            for t in range(indptr[b], indptr[b + 1]):
                xj, rj = xs[t], rs[t]
                freq[xi, xj] += 1
                diff_i = ri - (partial_bias + x_biases[xi])
                diff_j = rj - (partial_bias + x_biases[xj])
                prods[xi, xj] += diff_i * diff_j
                sq_diff_i[xi, xj] += diff_i * diff_i  # Surprise: diff_i**2, the same rounded square
                sq_diff_j[xi, xj] += diff_j * diff_j
    for xi in range(n_x):
        sim[xi, xi] = 1
        for xj in range(xi + 1, n_x):
            if freq[xi, xj] < min_sprt:
                sim[xi, xj] = 0
            else:
                sim[xi, xj] = prods[xi, xj] / (np.sqrt(sq_diff_i[xi, xj] * sq_diff_j[xi, xj]))
                support = float(freq[xi, xj] - 1)
                sim[xi, xj] *= support / (support + shrinkage)  # the shrinkage part
            sim[xj, xi] = sim[xi, xj]
    return sim


def _blocks(yr: dict):
    """``yr`` (trainset.ur or .ir: y -> [(x, rating)]) as arrays in ``yr.items()`` order: (block_y, indptr, xs, rs)."""
    ys = list(yr)
    indptr = np.zeros(len(ys) + 1, dtype=np.int64)
    np.cumsum([len(yr[y]) for y in ys], out=indptr[1:])
    xs = np.fromiter((x for y in ys for (x, _) in yr[y]), dtype=np.int64, count=indptr[-1])
    rs = np.fromiter((r for y in ys for (_, r) in yr[y]), dtype=np.float64, count=indptr[-1])
    return np.asarray(ys, dtype=np.int64), indptr, xs, rs


def _ratings(trainset):
    """The ratings in ``trainset.all_ratings()`` order as three arrays (user, item, rating)."""
    block_user, indptr, items, ratings = rating_blocks(trainset)
    return np.repeat(block_user, np.diff(indptr)), items, ratings


def _epochs(algo):
    for current_epoch in range(algo.n_epochs):
        if algo.verbose:
            print("Processing epoch {}".format(current_epoch))
        yield current_epoch


def fit_svd(algo, trainset):
    """Train ``algo`` (a ``surprise.SVD``) on ``trainset`` as ``algo.fit(trainset)`` does, bit for bit; returns
    ``algo`` with ``bu, bi, pu, qi`` set (``algo.predict`` / ``estimate`` work as after Surprise's own fit)."""
    from surprise.prediction_algorithms.algo_base import AlgoBase  # noqa: PLC0415
    from surprise.utils import get_rng  # noqa: PLC0415

    AlgoBase.fit(algo, trainset)
    rng = get_rng(algo.random_state)  # the draws of SVD.sgd, in its order
    bu = np.zeros(trainset.n_users, dtype=np.double)
    bi = np.zeros(trainset.n_items, dtype=np.double)
    size = algo.n_factors
    pu = np.ascontiguousarray(rng.normal(algo.init_mean, algo.init_std_dev, size=(trainset.n_users, size)), np.double)
    qi = np.ascontiguousarray(rng.normal(algo.init_mean, algo.init_std_dev, size=(trainset.n_items, size)), np.double)
    biased = bool(algo.biased)
    global_mean = float(trainset.global_mean) if biased else 0.0
    rates = [float(x) for x in (algo.lr_bu, algo.lr_bi, algo.lr_pu, algo.lr_qi,
                                algo.reg_bu, algo.reg_bi, algo.reg_pu, algo.reg_qi)]
    users, items, ratings = _ratings(trainset)
    epoch = _kernel("svd")
    for _ in _epochs(algo):
        epoch(users, items, ratings, global_mean, biased, bu, bi, pu, qi, *rates)
    algo.bu, algo.bi, algo.pu, algo.qi = bu, bi, pu, qi
    return algo


def fit_nmf(algo, trainset):
    """Train ``algo`` (a ``surprise.NMF``) on ``trainset`` as ``algo.fit(trainset)`` does, bit for bit; returns
    ``algo`` with ``bu, bi, pu, qi`` set."""
    from surprise.prediction_algorithms.algo_base import AlgoBase  # noqa: PLC0415
    from surprise.utils import get_rng  # noqa: PLC0415

    AlgoBase.fit(algo, trainset)
    rng = get_rng(algo.random_state)  # the draws of NMF.sgd, in its order
    size = algo.n_factors
    pu = np.ascontiguousarray(rng.uniform(algo.init_low, algo.init_high, size=(trainset.n_users, size)), np.double)
    qi = np.ascontiguousarray(rng.uniform(algo.init_low, algo.init_high, size=(trainset.n_items, size)), np.double)
    bu = np.zeros(trainset.n_users, dtype=np.double)
    bi = np.zeros(trainset.n_items, dtype=np.double)
    sums = [np.zeros((n, size)) for n in (trainset.n_users, trainset.n_users, trainset.n_items, trainset.n_items)]
    biased = bool(algo.biased)
    global_mean = float(trainset.global_mean) if biased else 0.0
    n_user = np.array([len(trainset.ur[u]) for u in trainset.all_users()], dtype=np.int64)
    n_item = np.array([len(trainset.ir[i]) for i in trainset.all_items()], dtype=np.int64)
    rates = [float(x) for x in (algo.lr_bu, algo.lr_bi, algo.reg_bu, algo.reg_bi, algo.reg_pu, algo.reg_qi)]
    users, items, ratings = _ratings(trainset)
    epoch = _kernel("nmf")
    for _ in _epochs(algo):
        epoch(users, items, ratings, n_user, n_item, global_mean, biased, bu, bi, pu, qi, *sums, *rates)
    algo.bu, algo.bi, algo.pu, algo.qi = bu, bi, pu, qi
    return algo


def fit_knn_baseline(algo, trainset):
    """Train ``algo`` (a ``surprise.KNNBaseline``) as ``algo.fit(trainset)`` does, bit for bit: the baselines by
    Surprise itself, the pearson_baseline similarity compiled (any other similarity: Surprise's own)."""
    from surprise.prediction_algorithms.knns import SymmetricAlgo  # noqa: PLC0415

    name = algo.sim_options.get("name", "msd").lower()
    if name != "pearson_baseline":
        return algo.fit(trainset)
    SymmetricAlgo.fit(algo, trainset)  # KNNBaseline.fit, step by step
    algo.bu, algo.bi = algo.compute_baselines()
    algo.bx, algo.by = algo.switch(algo.bu, algo.bi)
    verbose = getattr(algo, "verbose", False)  # as AlgoBase.compute_similarities reads it
    if verbose:
        print(f"Computing the {name} similarity matrix...")
    block_y, indptr, xs, rs = _blocks(algo.yr)
    algo.sim = _kernel("pearson")(
        algo.n_x, block_y, indptr, xs, rs, max(2, int(algo.sim_options.get("min_support", 1))),
        float(trainset.global_mean), np.ascontiguousarray(algo.bx, np.double),
        np.ascontiguousarray(algo.by, np.double), float(algo.sim_options.get("shrinkage", 100)))
    if verbose:
        print("Done computing similarity matrix.")
    return algo
