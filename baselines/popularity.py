"""The most-popular ranker: recommends the anime with the most training ratings to everyone. The floor any
personalised ranking should clear; as a rating predictor it says the global mean."""

from __future__ import annotations

import numpy as np

from hybridrec.predictors import RatingPredictor, SplitData


class MostPopular(RatingPredictor):
    kind = "popularity"
    default_role = "baseline"  # a comparator (params.yaml `role` overrides it)
    deterministic = True

    @classmethod
    def default_label(cls, spec) -> str:
        return "most popular (rates as global mean)"

    @classmethod
    def describe(cls, spec) -> dict:
        return {"consumes": "training ratings (counts per anime; their mean)",
                "unseen_item": "the global mean; ranked last (no training ratings)"}

    def fit(self, data: SplitData, seed: int):
        self.mean = float(data.train["rating"].mean())
        self.counts = np.bincount(data.train["anime_idx"], minlength=data.n_anime).astype(np.float64)
        return self

    def score(self, users, anime):
        return np.full(len(users), self.mean)

    def rank_scores(self, n_users, n_anime):
        return np.broadcast_to(self.counts[:n_anime], (n_users, n_anime))
