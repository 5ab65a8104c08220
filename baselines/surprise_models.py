"""Surprise baselines behind the suite's RatingPredictor interface.

Each wrapper fits the Surprise algorithm on the shared training split and scores pairs with a
vectorised re-implementation of that algorithm's ``estimate`` (from the fitted parameters), so the
full user x anime score matrix for ranking metrics costs a matrix product instead of millions of
Python calls. Unknown users/items fall back exactly as Surprise does (``default_prediction`` = global
mean where Surprise raises PredictionImpossible); a test checks scores == ``algo.predict`` on real pairs.
"""

from __future__ import annotations

import numpy as np
import surprise

from hybridrec.errors import ParamsError
from hybridrec.predictors import RatingPredictor, SplitData

ALGORITHMS = {
    "NormalPredictor": surprise.NormalPredictor, "BaselineOnly": surprise.BaselineOnly, "SVD": surprise.SVD,
    "SVDpp": surprise.SVDpp, "NMF": surprise.NMF, "KNNBaseline": surprise.KNNBaseline,
    "SlopeOne": surprise.SlopeOne, "CoClustering": surprise.CoClustering,
}
SEEDED = {"SVD", "SVDpp", "NMF", "CoClustering", "NormalPredictor"}


def _options(algo: str, options: dict) -> dict:
    """Flat params (``sim_name``, ``sim_user_based``, ``sim_shrinkage``, ``bsl_method``...) -> Surprise kwargs."""
    kwargs, sim, bsl = {}, {}, {}
    for k, v in options.items():
        if k.startswith("sim_"):
            sim[k[4:]] = v
        elif k.startswith("bsl_"):
            bsl[k[4:]] = v
        else:
            kwargs[k] = v
    if sim:
        kwargs["sim_options"] = {**sim, "verbose": False} if "verbose" not in sim else sim
    if bsl:
        kwargs["bsl_options"] = bsl
    if algo in ("KNNBaseline",):
        kwargs.setdefault("verbose", False)
    return kwargs


class SurprisePredictor(RatingPredictor):
    def __init__(self, algo: str, options: dict | None = None, label: str | None = None):
        if algo not in ALGORITHMS:
            raise ParamsError(f"params.yaml: unknown Surprise algorithm {algo!r} (known: {', '.join(ALGORITHMS)})")
        self.algo_name, self.options = algo, dict(options or {})
        self.name = label or algo
        self.deterministic = algo not in SEEDED

    def settings(self) -> dict:
        return dict(self.options)

    def fit(self, data: SplitData, seed: int):
        kwargs = _options(self.algo_name, self.options)
        if self.algo_name in SEEDED and self.algo_name != "NormalPredictor":
            kwargs["random_state"] = seed
        try:
            self.algo = ALGORITHMS[self.algo_name](**kwargs)
        except TypeError as e:
            raise ParamsError(f"params.yaml: bad option for {self.algo_name}: {e}") from None
        reader = surprise.Reader(rating_scale=(1, 10))
        df = data.train[["user_idx", "anime_idx", "rating"]]
        self.trainset = surprise.Dataset.load_from_df(df, reader).build_full_trainset()
        self.seed = seed
        self.algo.fit(self.trainset)
        ts = self.trainset
        # raw id -> inner id lookups as arrays (-1 = unknown)
        self.u_inner = np.full(data.n_users, -1, dtype=np.int64)
        self.i_inner = np.full(data.n_anime, -1, dtype=np.int64)
        for raw, inner in ts._raw2inner_id_users.items():
            self.u_inner[int(raw)] = inner
        for raw, inner in ts._raw2inner_id_items.items():
            self.i_inner[int(raw)] = inner
        self.mu = ts.global_mean
        self._prepare()
        return self

    # --- vectorised estimates -------------------------------------------------------------
    def _prepare(self):
        a, ts, name = self.algo, self.trainset, self.algo_name
        self.bu = getattr(a, "bu", None)
        self.bi = getattr(a, "bi", None)
        if name == "SVDpp":
            # implicit feedback: |N(u)|^-1/2 * sum of y_j over the items u rated
            self.pu_eff = np.array(a.pu, copy=True)
            for u in range(ts.n_users):
                items = [j for (j, _) in ts.ur[u]]
                self.pu_eff[u] += a.yj[items].sum(0) / np.sqrt(len(items))
        if name == "KNNBaseline":
            if a.sim_options.get("user_based", True):
                raise ParamsError("params.yaml: the KNNBaseline wrapper supports item-based similarity only "
                                  "(sim_user_based: false)")
        if name == "SlopeOne":
            self.R = np.zeros((ts.n_users, ts.n_items))
            for u in range(ts.n_users):
                for j, _ in ts.ur[u]:
                    self.R[u, j] = 1.0
            mask = (a.freq > 0).astype(np.float64)
            dev = np.where(a.freq > 0, a.dev, 0.0)  # Surprise leaves 0/0 = nan where no user rated both
            self.slope_num = self.R @ dev.T  # [users, items]: sum over rated j of dev[i, j]
            self.slope_den = self.R @ mask.T

    def _base(self, u, i, ku, ki):
        est = np.full(len(u), self.mu, dtype=np.float64)
        est[ku] += self.bu[u[ku]]
        est[ki] += self.bi[i[ki]]
        return est

    def score(self, users, anime):
        u, i = self.u_inner[np.asarray(users)], self.i_inner[np.asarray(anime)]
        ku, ki = u >= 0, i >= 0
        both = ku & ki
        a, name = self.algo, self.algo_name
        if name == "NormalPredictor":
            rng = np.random.default_rng(self.seed)
            return rng.normal(self.mu, a.sigma, len(u))
        if name == "BaselineOnly":
            return self._base(u, i, ku, ki)
        if name in ("SVD", "SVDpp", "NMF"):
            pu = self.pu_eff if name == "SVDpp" else a.pu
            dot = np.einsum("nk,nk->n", a.qi[i[both]], pu[u[both]])
            if name == "SVDpp" or a.biased:
                est = self._base(u, i, ku, ki)
                est[both] += dot
            else:  # unbiased: Surprise raises PredictionImpossible for unknowns -> global mean
                est = np.full(len(u), self.mu)
                est[both] = dot
            return est
        if name == "KNNBaseline":
            return self._knn(u, i, ku, ki, both)
        if name == "SlopeOne":
            est = np.full(len(u), self.mu)
            ub, ib = u[both], i[both]
            den = self.slope_den[ub, ib]
            est[both] = np.asarray(a.user_mean)[ub] + np.where(den > 0, self.slope_num[ub, ib] / np.maximum(den, 1), 0.0)
            return est
        if name == "CoClustering":
            est = np.full(len(u), self.mu)
            ub, ib = u[both], i[both]
            cu, ci = a.cltr_u[ub], a.cltr_i[ib]
            est[both] = (a.avg_cocltr[cu, ci] + np.asarray(a.user_mean)[ub] - a.avg_cltr_u[cu] + np.asarray(a.item_mean)[ib]
                         - a.avg_cltr_i[ci])
            return est
        raise AssertionError(name)

    def _knn(self, u, i, ku, ki, both):
        """Item-based KNNBaseline: baseline + sum of sim * (r_uj - b_uj) over the k most similar rated items."""
        a, ts = self.algo, self.trainset
        est = self._base(u, i, ku, ki)
        k, min_k = a.k, a.min_k
        idx = np.flatnonzero(both)
        order = np.argsort(u[idx], kind="stable")
        idx = idx[order]
        users = u[idx]
        bounds = np.flatnonzero(np.diff(users)) + 1
        for chunk in np.split(idx, bounds):
            if len(chunk) == 0:
                continue
            uu = u[chunk[0]]
            rated = np.array([j for (j, _) in ts.ur[uu]])
            r = np.array([x for (_, x) in ts.ur[uu]])
            resid = r - (self.mu + a.bi[rated] + a.bu[uu])
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
            actual_k = pos.sum(1)
            sum_r[actual_k < min_k] = 0.0
            adj = np.divide(sum_r, sum_sim, out=np.zeros_like(sum_r), where=sum_sim != 0)
            est[chunk] += adj
        return est
