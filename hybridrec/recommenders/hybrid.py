"""Family ``kind: hybrid`` ("ours"): a rating model designed to use both signals, ratings and content.

    rating(u, i) = lo + (hi - lo) * sigmoid(mu + b_u + b_i + <p_u, q_i>)        (bounded by construction)

* q_i = E_i + C(c_i), b_i = e_i + w . c_i: a learned item embedding and bias plus a projection (an MLP) of
  the anime's content c_i = [synopsis embedding || one-hot genres] (standardised). An anime without training
  ratings has no learned part (it is zeroed, never used), so it still gets a content-based embedding and bias.
* p_u = P_u + A(mean_j (r_uj - mu) / sd * q_j) + B(mean_j q_j) over the anime j the user rated in training:
  one GraphSAGE-style propagation step over the training graph whose messages carry the ratings (the paper's
  messages do not), so a user is also what they liked and disliked. For a training pair the pair's own edge
  is left out of the user's aggregate (else the model would read its own label).
* Training: full-batch Adam on MSE plus ``reg`` x the squared norms of the factors and biases each rating uses
  (as in SGD matrix factorisation), weight decay on the other weights, dropout on the content input, and *item-embedding
  dropout*: each epoch a share ``cold_dropout`` of the anime being scored lose their learned part, so the
  content path learns to carry an anime alone (what an unseen anime needs). Early stopping on validation RMSE.

* Recommendations rank by the 95% lower confidence bound of the predicted rating (a prediction resting on few
  training ratings must be higher to be recommended); the predicted ratings themselves are the model's.

Options (the `hybrid` section of params.yaml, overridden per model): ``features`` (any of synopsis, genres),
``graph`` (false: p_u = P_u), ``item_embeddings`` (false: q_i, b_i from content only), and the training
settings. Its ablations are entries with one of those changed.
"""

from __future__ import annotations

import copy
import math
import time

import numpy as np

from hybridrec.errors import ParamsError
from hybridrec.params import Hybrid
from hybridrec.predictors import ConfiguredFamily, SplitData


def _module(n_users: int, n_items: int, content_dim: int, cfg: Hybrid):
    import torch  # noqa: PLC0415
    from torch import nn  # noqa: PLC0415

    from hybridrec.model import Dropout, pair_dot  # noqa: PLC0415

    class HybridModel(nn.Module):
        def __init__(self):
            super().__init__()
            d = cfg.dim
            self.P = nn.Embedding(n_users, d)
            self.bu = nn.Embedding(n_users, 1)
            nn.init.normal_(self.P.weight, std=0.01)
            nn.init.zeros_(self.bu.weight)
            if cfg.item_embeddings:
                self.E = nn.Embedding(n_items, d)
                self.bi = nn.Embedding(n_items, 1)
                nn.init.normal_(self.E.weight, std=0.01)
                nn.init.zeros_(self.bi.weight)
            if content_dim:
                layers = [Dropout(cfg.dropout)]
                if cfg.content_hidden:
                    layers += [nn.Linear(content_dim, cfg.content_hidden), nn.ReLU(),
                               nn.Linear(cfg.content_hidden, d + 1)]
                else:
                    layers += [nn.Linear(content_dim, d + 1)]
                self.C = nn.Sequential(*layers)  # -> [q_i content part || b_i content part]
            if cfg.graph:
                self.A = nn.Linear(d, d, bias=False)
                self.B = nn.Linear(d, d, bias=False)
                nn.init.zeros_(self.A.weight)  # start as plain MF; the data decide how much the graph adds
                nn.init.zeros_(self.B.weight)

        def items(self, content, known, keep=None):
            """(q for aggregation, b, q for scoring, b for scoring): learned parts only for ``known`` anime,
            and for scoring only where ``keep`` (item-embedding dropout)."""
            q = torch.zeros(n_items, cfg.dim, device=known.device)
            b = torch.zeros(n_items, device=known.device)
            q_s, b_s = q, b
            if content is not None:
                cb = self.C(content)
                q, b = cb[:, :-1], cb[:, -1]
                q_s, b_s = q, b
            if cfg.item_embeddings:
                m = known.float()
                q = q + self.E.weight * m[:, None]
                b = b + self.bi.weight[:, 0] * m
                ms = m if keep is None else m * keep
                q_s = q_s + self.E.weight * ms[:, None]
                b_s = b_s + self.bi.weight[:, 0] * ms
            return q, b, q_s, b_s

        def users(self, q, graph, own=None):
            """Every user's p_u (``own`` None), or, for training edges ``own`` = (u, i, r~, q_scored), each
            edge's score <p_u, q_i> with the edge itself left out of the user's aggregate.

            A and B are linear, so A(sum_j r~_uj q_j) = sum_j r~_uj A(q_j): the aggregation runs on the
            projected anime rows, and leaving one edge out is a per-anime scalar correction."""
            p = self.P.weight
            if own is None:
                if not cfg.graph:
                    return p
                aq, bq = self.A(q), self.B(q)
                return p + (graph["rated"] @ aq + graph["plain"] @ bq) / graph["deg"].clamp(min=1)[:, None]
            u, i, r, q_s = own
            if not cfg.graph:
                return pair_dot(p, q_s, u, i)
            aq, bq = self.A(q), self.B(q)
            n = (graph["deg"] - 1).clamp(min=1)
            pu = p + (graph["rated"] @ aq + graph["plain"] @ bq) / n[:, None]
            own_rated, own_plain = (aq * q_s).sum(1), (bq * q_s).sum(1)  # [n_items]
            dot = pair_dot(pu, q_s, u, i)
            return dot - (r * own_rated.index_select(0, i) + own_plain.index_select(0, i)) / n.index_select(0, u)

    return HybridModel()


class HybridPredictor(ConfiguredFamily):
    """Ours: MF whose item side is learned + content and whose user side is propagated over the rating graph."""

    kind = "hybrid"
    section, config_type = "hybrid", Hybrid

    # --- the family ------------------------------------------------------------------------
    @classmethod
    def check_spec(cls, spec, key: str) -> None:
        super().check_spec(spec, key)
        if spec.options.get("item_embeddings") is False and spec.options.get("features") == []:
            raise ParamsError(f"params.yaml: {key}: without item embeddings and without features an anime has no "
                              "representation")

    @classmethod
    def describe(cls, spec) -> dict:
        o = spec.options
        feats = o.get("features")
        parts = ["training ratings (graph)" if o.get("graph", True) else "training ratings",
                 "anime content" + (f" ({', '.join(feats) or 'none'})" if feats is not None else
                                    " (synopsis + genres of the `hybrid` section)")]
        unseen = ("its content-based embedding and bias (no learned part)" if feats != [] else
                  "no content and no learned part: the global mean + the user's bias")
        return {"consumes": " + ".join(parts), "unseen_item": unseen}

    # --- the predictor ---------------------------------------------------------------------
    def fit(self, data: SplitData, seed: int):
        import torch  # noqa: PLC0415

        from hybridrec.device import resolve_device  # noqa: PLC0415
        from hybridrec.model import Aggregation  # noqa: PLC0415

        cfg = self.cfg
        device = resolve_device(cfg.device)
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        self.lo, self.hi = data.scale.lo, data.scale.hi
        tr = data.train
        u = torch.tensor(tr["user_idx"].to_numpy(), dtype=torch.long)
        i = torch.tensor(tr["anime_idx"].to_numpy(), dtype=torch.long)
        r = torch.tensor(tr["rating"].to_numpy(), dtype=torch.float32)
        self.mu, sd = float(r.mean()), float(r.std()) or 1.0
        rt = (r - self.mu) / sd
        n_users, n_items = data.n_users, data.n_anime
        self.known = torch.zeros(n_items, dtype=torch.bool)
        self.known[i] = True
        self.known_counts = np.bincount(tr["anime_idx"].to_numpy(), minlength=n_items).astype(np.float64)
        self.content = None
        if cfg.features:
            x = data.graph_inputs(tuple(cfg.features)).anime_x.float()
            self.content = ((x - x.mean(0)) / x.std(0).clamp(min=1e-6)).to(device)
        self.graph = None
        if cfg.graph:
            self.graph = {"plain": Aggregation(u, i, n_users, n_items, mean=False).to(device),
                          "rated": Aggregation(u, i, n_users, n_items, weights=rt).to(device),
                          "deg": torch.bincount(u, minlength=n_users).float().to(device)}
        self.model = model = _module(n_users, n_items, 0 if self.content is None else self.content.size(1), cfg).to(device)
        span = self.hi - self.lo
        p0 = min(max((self.mu - self.lo) / span, 1e-3), 1 - 1e-3)
        self.offset = math.log(p0 / (1 - p0))
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        # halve the learning rate when validation stalls for two evaluations (full-batch Adam oscillates)
        plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=1)
        known = self.known.to(device)
        u_d, i_d, r_d, rt_d = u.to(device), i.to(device), r.to(device), rt.to(device)
        n_u = torch.bincount(u, minlength=n_users).float().to(device)  # training ratings per user / per anime
        n_i = torch.bincount(i, minlength=n_items).float().to(device)
        n_ratings = float(len(u))
        val = data.val
        vu = torch.tensor(val["user_idx"].to_numpy(), dtype=torch.long, device=device)
        vi = torch.tensor(val["anime_idx"].to_numpy(), dtype=torch.long, device=device)
        vr = torch.tensor(val["rating"].to_numpy(), dtype=torch.float32, device=device)
        best, best_state, self.history = (float("inf"), 0), None, []
        t0 = time.perf_counter()
        for epoch in range(1, cfg.epochs + 1):
            model.train()
            keep = (torch.rand(n_items, generator=gen) >= cfg.cold_dropout).float().to(device)
            q, _, q_s, b_s = model.items(self.content, known, keep)
            dot = model.users(q, self.graph, own=(u_d, i_d, rt_d, q_s))
            pred = self._squash(dot + b_s.index_select(0, i_d) + model.bu.weight[:, 0].index_select(0, u_d))
            # per-rating L2 on the free user factors and the anime rows that score (as SGD-MF; a prior per user
            # and per anime instead, which shrinks rare ones more, measured worse: val RMSE 1.017 vs 0.996). The
            # mean over ratings of |p_u|^2 + |q_i|^2 + b_u^2 + b_i^2 is a rating-count-weighted sum over users and
            # anime: computed on those rows (not on one copy per rating: 60x fewer elements; a fit 7.7 -> 6.9 s)
            penalty = ((model.P.weight.pow(2).sum(1) + model.bu.weight[:, 0].pow(2)) @ n_u
                       + (q_s.pow(2).sum(1) + b_s.pow(2)) @ n_i) / n_ratings
            loss = ((pred - r_d) ** 2).mean() + cfg.reg * penalty
            opt.zero_grad()
            loss.backward()
            if cfg.clip_norm:  # a rare full-batch step that throws the fit off (see params.yaml hybrid.clip_norm)
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_norm)
            opt.step()
            if epoch % cfg.eval_every and epoch != cfg.epochs:
                continue
            model.eval()
            with torch.no_grad():
                val_rmse = float(torch.sqrt(((self._predict(vu, vi) - vr) ** 2).mean()))
            self.history.append({"epoch": epoch, "loss": float(loss.detach()), "val_rmse": val_rmse})
            plateau.step(val_rmse)
            if val_rmse < best[0]:
                best, best_state = (val_rmse, epoch), copy.deepcopy(model.state_dict())
            self.report_validation(epoch, best[0])
            if cfg.patience and epoch - best[1] >= cfg.patience:
                break
        if best_state is not None:
            model.load_state_dict(best_state)
        model.eval()
        self.best_epoch, self.best_val_rmse, self.train_seconds = best[1], best[0], time.perf_counter() - t0
        self._encode()
        return self

    @property
    def prune_after(self) -> int:
        """Epochs before a tuning trial may be pruned: its early-stopping patience, at least 10 validations."""
        return max(self.cfg.patience, 10 * self.cfg.eval_every)

    def _squash(self, s):
        import torch  # noqa: PLC0415

        return self.lo + (self.hi - self.lo) * torch.sigmoid(s + self.offset)

    def _encode(self):
        """Every user's and anime's final representation, once, for scoring."""
        import torch  # noqa: PLC0415

        with torch.no_grad():
            q, b, _, _ = self.model.items(self.content, self.known.to(self.model.P.weight.device))
            self.q, self.b = q, b
            self.p = self.model.users(q, self.graph)
            self.bu = self.model.bu.weight[:, 0]

    def _predict(self, users, anime):
        import torch  # noqa: PLC0415

        with torch.no_grad():
            q, b, _, _ = self.model.items(self.content, self.known.to(users.device))
            p = self.model.users(q, self.graph)
            s = (p.index_select(0, users) * q.index_select(0, anime)).sum(1) + b.index_select(0, anime)
            return self._squash(s + self.model.bu.weight[users, 0])

    def score(self, users, anime):
        import torch  # noqa: PLC0415

        dev = self.p.device
        u = torch.tensor(np.asarray(users), dtype=torch.long, device=dev)
        a = torch.tensor(np.asarray(anime), dtype=torch.long, device=dev)
        with torch.no_grad():
            s = (self.p.index_select(0, u) * self.q.index_select(0, a)).sum(1) + self.b.index_select(0, a) + self.bu[u]
            return self._squash(s).double().cpu().numpy()

    def rank_scores(self, n_users, n_anime):
        """Recommendations rank by the one-sided 95% lower confidence bound of the predicted rating,
        r_hat - 1.645 * s / sqrt(1 + n_i), with s the model's validation RMSE and n_i the anime's training
        ratings: a prediction resting on few ratings must be higher to be recommended (predicted ratings, and
        so RMSE, are unchanged)."""
        n_i = self.known_counts[:n_anime]
        return self.score_matrix(n_users, n_anime) - 1.645 * self.best_val_rmse / np.sqrt(1.0 + n_i)[None, :]

    def score_matrix(self, n_users, n_anime):
        import torch  # noqa: PLC0415

        with torch.no_grad():
            s = self.p @ self.q.t() + self.b[None, :] + self.bu[:, None]
            return self._squash(s).double().cpu().numpy()
