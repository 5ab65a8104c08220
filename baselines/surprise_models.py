"""Surprise baselines behind the suite's RatingPredictor interface (family ``kind: surprise``).

Each wrapper fits the Surprise algorithm on the shared training split and scores pairs with a
vectorised re-implementation of that algorithm's ``estimate`` (from the fitted parameters), so the
full user x anime score matrix for ranking metrics costs a matrix product instead of millions of
Python calls. As in Surprise (``AlgoBase.predict`` -> each algorithm's own ``estimate``), the shared
plumbing lives in :class:`SurprisePredictor` and the arithmetic of each algorithm in its own function,
listed in :data:`ALGORITHMS`. Unknown users/items fall back exactly as Surprise does
(``default_prediction`` = global mean where Surprise raises PredictionImpossible); a test checks
scores == ``algo.predict`` on real pairs.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Callable

import numpy as np
import surprise

from hybridrec.errors import ParamsError
from hybridrec.predictors import RatingPredictor, SplitData


def _baseline(m, u, i, ku, ki, both):
    """mu + b_u + b_i (each bias only where the user / item is known)."""
    est = np.full(len(u), m.mu, dtype=np.float64)
    est[ku] += m.algo.bu[u[ku]]
    est[ki] += m.algo.bi[i[ki]]
    return est


def _normal(m, u, i, ku, ki, both):
    return np.random.default_rng(m.seed).normal(m.mu, m.algo.sigma, len(u))


def _factorised(pu):
    """SVD / SVD++ / NMF: baseline (when biased) + q_i . p_u, with ``pu(m)`` the user factors to use."""

    def estimate(m, u, i, ku, ki, both):
        dot = np.einsum("nk,nk->n", m.algo.qi[i[both]], pu(m)[u[both]])
        if getattr(m.algo, "biased", True):
            est = _baseline(m, u, i, ku, ki, both)
            est[both] += dot
        else:  # unbiased: Surprise raises PredictionImpossible for unknowns -> global mean
            est = np.full(len(u), m.mu)
            est[both] = dot
        return est

    return estimate


def _factorised_matrix(pu):
    """The same as :func:`_factorised` for every (user, anime) at once: one matrix product (rows of unknown
    users/anime are zero, so their dot product is 0, as Surprise's fallback has it)."""

    def matrix(m, u, i):
        a, ku, ki = m.algo, u >= 0, i >= 0
        p, q = np.zeros((len(u), a.qi.shape[1])), np.zeros((len(i), a.qi.shape[1]))
        p[ku], q[ki] = pu(m)[u[ku]], a.qi[i[ki]]
        if getattr(a, "biased", True):
            bu, bi = np.zeros(len(u)), np.zeros(len(i))
            bu[ku], bi[ki] = a.bu[u[ku]], a.bi[i[ki]]
            return m.mu + bu[:, None] + bi[None, :] + p @ q.T
        return np.where(ku[:, None] & ki[None, :], p @ q.T, m.mu)

    return matrix


def _svdpp_train(algo, trainset):
    """SVD++ trained as ``surprise.SVDpp.fit`` does, O(k) per rating instead of O(|I_u| k) (baselines/svdpp_numba.py:
    the same updates in the same order from the same initialisation; only the rounding differs)."""
    from baselines import svdpp_numba  # noqa: PLC0415  (numba: imported when an SVD++ is fitted, not with params)

    return svdpp_numba.fit(algo, trainset)


def _svd_train(algo, trainset):
    """SVD trained as ``surprise.SVD.fit`` does, bit for bit, without its per-rating Python generator
    (baselines/mf_numba.py)."""
    from baselines import mf_numba  # noqa: PLC0415  (numba: imported when a model is fitted, not with params)

    return mf_numba.fit_svd(algo, trainset)


def _nmf_train(algo, trainset):
    """NMF trained as ``surprise.NMF.fit`` does, bit for bit (baselines/mf_numba.py)."""
    from baselines import mf_numba  # noqa: PLC0415

    return mf_numba.fit_nmf(algo, trainset)


def _knn_train(algo, trainset):
    """KNNBaseline trained as ``surprise.KNNBaseline.fit`` does, bit for bit, its pearson_baseline similarity
    compiled (baselines/mf_numba.py)."""
    from baselines import mf_numba  # noqa: PLC0415

    return mf_numba.fit_knn_baseline(algo, trainset)


def _svdpp_prepare(m):
    """Implicit feedback folded into the user factors: p_u + |N(u)|^-1/2 * sum of y_j over the items u rated."""
    a, ts = m.algo, m.trainset
    m.pu_eff = np.array(a.pu, copy=True)
    for u in range(ts.n_users):
        items = [j for (j, _) in ts.ur[u]]
        m.pu_eff[u] += a.yj[items].sum(0) / np.sqrt(len(items))


def _knn_prepare(m):
    if m.algo.sim_options.get("user_based", True):
        raise ParamsError("params.yaml: the KNNBaseline wrapper supports item-based similarity only "
                          "(sim_user_based: false)")


def _knn(m, u, i, ku, ki, both):
    """Item-based KNNBaseline: baseline + sum of sim * (r_uj - b_uj) over the k most similar rated items."""
    a, ts = m.algo, m.trainset
    est = _baseline(m, u, i, ku, ki, both)
    k, min_k = a.k, a.min_k
    idx = np.flatnonzero(both)
    idx = idx[np.argsort(u[idx], kind="stable")]
    bounds = np.flatnonzero(np.diff(u[idx])) + 1
    for chunk in np.split(idx, bounds):
        if len(chunk) == 0:
            continue
        uu = u[chunk[0]]
        rated = np.array([j for (j, _) in ts.ur[uu]])
        r = np.array([x for (_, x) in ts.ur[uu]])
        resid = r - (m.mu + a.bi[rated] + a.bu[uu])
        sims = a.sim[i[chunk]][:, rated]  # [n_pairs, n_rated]
        if sims.shape[1] > k:
            top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
            sims_k = np.take_along_axis(sims, top, 1)
            resid_k = resid[top]
        else:
            sims_k, resid_k = sims, np.broadcast_to(resid, sims.shape)
        pos = sims_k > 0
        sum_sim = np.where(pos, sims_k, 0).sum(1)
        sum_r = np.where(pos, sims_k * resid_k, 0).sum(1)
        sum_r[pos.sum(1) < min_k] = 0.0
        est[chunk] += np.divide(sum_r, sum_sim, out=np.zeros_like(sum_r), where=sum_sim != 0)
    return est


def _slope_one_prepare(m):
    a, ts = m.algo, m.trainset
    rated = np.zeros((ts.n_users, ts.n_items))
    for u in range(ts.n_users):
        for j, _ in ts.ur[u]:
            rated[u, j] = 1.0
    mask = (a.freq > 0).astype(np.float64)
    dev = np.where(a.freq > 0, a.dev, 0.0)  # Surprise leaves 0/0 = nan where no user rated both
    m.slope_num = rated @ dev.T  # [users, items]: sum over rated j of dev[i, j]
    m.slope_den = rated @ mask.T


def _slope_one(m, u, i, ku, ki, both):
    est = np.full(len(u), m.mu)
    ub, ib = u[both], i[both]
    den = m.slope_den[ub, ib]
    est[both] = np.asarray(m.algo.user_mean)[ub] + np.where(den > 0, m.slope_num[ub, ib] / np.maximum(den, 1), 0.0)
    return est


def _co_clustering(m, u, i, ku, ki, both):
    a = m.algo
    est = np.full(len(u), m.mu)
    ub, ib = u[both], i[both]
    cu, ci = a.cltr_u[ub], a.cltr_i[ib]
    est[both] = (a.avg_cocltr[cu, ci] + np.asarray(a.user_mean)[ub] - a.avg_cltr_u[cu]
                 + np.asarray(a.item_mean)[ib] - a.avg_cltr_i[ci])
    return est


@dataclass(frozen=True)
class Algorithm:
    cls: type  # the Surprise class
    estimate: Callable  # (predictor, u, i, known_u, known_i, both) -> estimates; u, i inner ids (-1 unknown)
    unseen_item: str  # what Surprise predicts for an anime without training ratings (reproduced here)
    seeded: bool = False  # takes random_state (the seed changes the model)
    prepare: Callable | None = None  # precomputation after fit
    matrix: Callable | None = None  # (predictor, u, i) -> [len(u), len(i)] estimates, faster than pair by pair
    train: Callable | None = None  # (algo, trainset) -> algo: a faster exact re-implementation of ``algo.fit``


BASELINE_FALLBACK = "its baseline without an item bias: global mean + the user's bias"
MEAN_FALLBACK = "the global mean (Surprise: PredictionImpossible -> default prediction)"
ALGORITHMS = {
    "NormalPredictor": Algorithm(surprise.NormalPredictor, _normal, "a random draw, as for every pair", seeded=True),
    "BaselineOnly": Algorithm(surprise.BaselineOnly, _baseline, BASELINE_FALLBACK),
    "SVD": Algorithm(surprise.SVD, _factorised(lambda m: m.algo.pu), BASELINE_FALLBACK, seeded=True,
                     matrix=_factorised_matrix(lambda m: m.algo.pu), train=_svd_train),
    "SVDpp": Algorithm(surprise.SVDpp, _factorised(lambda m: m.pu_eff), BASELINE_FALLBACK, seeded=True,
                       prepare=_svdpp_prepare, matrix=_factorised_matrix(lambda m: m.pu_eff), train=_svdpp_train),
    "NMF": Algorithm(surprise.NMF, _factorised(lambda m: m.algo.pu), f"{BASELINE_FALLBACK} when biased, else "
                     "the global mean", seeded=True, matrix=_factorised_matrix(lambda m: m.algo.pu),
                     train=_nmf_train),
    "KNNBaseline": Algorithm(surprise.KNNBaseline, _knn, BASELINE_FALLBACK, prepare=_knn_prepare, train=_knn_train),
    "SlopeOne": Algorithm(surprise.SlopeOne, _slope_one, MEAN_FALLBACK, prepare=_slope_one_prepare),
    "CoClustering": Algorithm(surprise.CoClustering, _co_clustering, MEAN_FALLBACK, seeded=True),
}


def _options(options: dict, cls) -> dict:
    """Flat params (``sim_name``, ``sim_user_based``, ``sim_shrinkage``, ``bsl_method``...) -> Surprise kwargs
    for ``cls`` (quiet: Surprise prints progress per fit otherwise)."""
    kwargs, sim, bsl = {}, {}, {}
    for k, v in options.items():
        if k.startswith("sim_"):
            sim[k[4:]] = v
        elif k.startswith("bsl_"):
            bsl[k[4:]] = v
        else:
            kwargs[k] = v
    if sim:
        kwargs["sim_options"] = {"verbose": False, **sim}
    if bsl:
        kwargs["bsl_options"] = bsl
    if "verbose" in _arguments(cls):
        kwargs.setdefault("verbose", False)
    return kwargs


# The keys Surprise reads from sim_options / bsl_options (surprise/similarities.pyx and prediction_algorithms/
# algo_base.py, baseline_only.py): any other key is silently ignored by Surprise, so it is refused here.
SIM_KEYS = frozenset({"name", "user_based", "min_support", "shrinkage"})
BSL_KEYS = frozenset({"method", "n_epochs", "reg", "reg_u", "reg_i", "learning_rate"})


def _arguments(cls) -> set:
    return set(inspect.signature(cls.__init__).parameters) - {"self", "kwargs"}


class SurprisePredictor(RatingPredictor):
    kind = "surprise"
    default_role = "baseline"  # a comparator (params.yaml `role` overrides it)
    spec_keys = ("algo", "options", "search")

    def __init__(self, algo: str, options: dict | None = None, label: str | None = None):
        if algo not in ALGORITHMS:
            raise ParamsError(f"params.yaml: unknown Surprise algorithm {algo!r} (known: {', '.join(ALGORITHMS)})")
        self.algo_name, self.options = algo, dict(options or {})
        self.name = label or algo
        self.deterministic = not ALGORITHMS[algo].seeded

    # --- the family ------------------------------------------------------------------------
    @classmethod
    def check_spec(cls, spec, key: str) -> None:
        if spec.algo not in ALGORITHMS:
            raise ParamsError(f"params.yaml: {key}.algo = {spec.algo!r}: must be a Surprise algorithm "
                              f"({', '.join(ALGORITHMS)})")
        args = _arguments(ALGORITHMS[spec.algo].cls)
        known = args - {"random_state", "sim_options", "bsl_options"}
        for opt in list(spec.options) + list(spec.search):
            for prefix, keys, arg in (("sim_", SIM_KEYS, "sim_options"), ("bsl_", BSL_KEYS, "bsl_options")):
                if opt.startswith(prefix) and (opt[len(prefix):] not in keys or arg not in args):
                    raise ParamsError(f"params.yaml: {key}: {opt!r} is not a {arg} key of {spec.algo} "
                                      + (f"(Surprise reads {', '.join(prefix + k for k in sorted(keys))})"
                                         if arg in args else f"({spec.algo} takes no {arg})"))
            if not (opt in known or opt.startswith(("sim_", "bsl_"))):
                raise ParamsError(f"params.yaml: {key}: {spec.algo} has no option {opt!r} "
                                  f"(known: {', '.join(sorted(known)) or 'none'}; sim_* / bsl_* for similarity "
                                  "and baseline options)")
        if spec.algo == "KNNBaseline":  # refused here, when params load, not in a worker half-way through a run
            user_based = [spec.options.get("sim_user_based", True)]
            if "sim_user_based" in spec.search:
                user_based = list(spec.search["sim_user_based"].values())
            if any(v is not False for v in user_based):
                raise ParamsError(f"params.yaml: {key}: KNNBaseline runs item-based similarity only here (its "
                                  "vectorised scores); set options {sim_user_based: false} (Surprise's default is "
                                  "user-based)")

    @classmethod
    def default_label(cls, spec) -> str:
        return f"Surprise {spec.algo}"

    @classmethod
    def platform_invariant(cls, spec) -> bool:
        """Surprise's algorithms are Cython loops over doubles (no BLAS; sqrt at most, which IEEE rounds exactly):
        under the SSE4 kernel set every Surprise model, tuning included, gave the same bits (reports/stability.md).
        Surprise is built from source, so two different compilers could still differ.

        SVD++ trains with numba code (baselines/svdpp_numba.py) that LLVM compiles for the host CPU, so the
        instructions differ per CPU; without fastmath LLVM may neither reassociate (the sums keep their order) nor
        contract a*b+c into an FMA, and +, -, *, /, sqrt round the same on every IEEE CPU, so the bits do not
        depend on the instructions chosen: tests/test_svdpp.py compiles the kernel for a generic x86-64 CPU and
        for the host (AVX-512 and FMA here; x86-64-v2 and haswell gave the same bits too) and checks them equal."""
        return True

    @classmethod
    def describe(cls, spec) -> dict:
        return {"consumes": "training ratings", "unseen_item": ALGORITHMS[spec.algo].unseen_item}

    @classmethod
    def defaults(cls, spec) -> dict:
        params = inspect.signature(ALGORITHMS[spec.algo].cls.__init__).parameters
        out = {k: v.default for k, v in params.items() if v.default is not inspect.Parameter.empty}
        sim = {"sim_shrinkage": 100, "sim_min_support": 1, "sim_user_based": True}  # Surprise's similarity defaults
        return {**out, **(sim if "sim_options" in params else {})}

    @classmethod
    def from_spec(cls, spec, ctx, override: dict | None = None):
        return cls(spec.algo, {**spec.options, **ctx.tuned.get(spec.name, {}), **(override or {})}, spec.label)

    # --- the predictor ---------------------------------------------------------------------
    def settings(self) -> dict:
        return dict(self.options)

    def fit(self, data: SplitData, seed: int):
        algorithm = ALGORITHMS[self.algo_name]
        kwargs = _options(self.options, algorithm.cls)
        if algorithm.seeded and "random_state" in _arguments(algorithm.cls):
            kwargs["random_state"] = seed
        try:
            self.algo = algorithm.cls(**kwargs)
        except TypeError as e:
            raise ParamsError(f"params.yaml: bad option for {self.algo_name}: {e}") from None
        reader = surprise.Reader(rating_scale=(data.scale.lo, data.scale.hi))
        df = data.train[["user_idx", "anime_idx", "rating"]]
        self.trainset = ts = surprise.Dataset.load_from_df(df, reader).build_full_trainset()
        self.seed = seed
        if algorithm.train is not None:
            algorithm.train(self.algo, ts)
        else:
            self.algo.fit(ts)
        # raw id -> inner id lookups as arrays (-1 = unknown)
        self.u_inner = np.full(data.n_users, -1, dtype=np.int64)
        self.i_inner = np.full(data.n_anime, -1, dtype=np.int64)
        for raw, inner in ts._raw2inner_id_users.items():
            self.u_inner[int(raw)] = inner
        for raw, inner in ts._raw2inner_id_items.items():
            self.i_inner[int(raw)] = inner
        self.mu = ts.global_mean
        if algorithm.prepare is not None:
            algorithm.prepare(self)
        return self

    def score(self, users, anime):
        u, i = self.u_inner[np.asarray(users)], self.i_inner[np.asarray(anime)]
        ku, ki = u >= 0, i >= 0
        return ALGORITHMS[self.algo_name].estimate(self, u, i, ku, ki, ku & ki)

    def score_matrix(self, n_users, n_anime):
        matrix = ALGORITHMS[self.algo_name].matrix
        if matrix is None:
            return super().score_matrix(n_users, n_anime)
        return matrix(self, self.u_inner[:n_users], self.i_inner[:n_anime])
