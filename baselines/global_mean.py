"""The simplest comparator: the mean training rating for every pair."""

from __future__ import annotations

import numpy as np

from hybridrec.predictors import RatingPredictor, SplitData


class GlobalMean(RatingPredictor):
    """Predicts the mean training rating for everything."""

    kind = "global_mean"
    default_role = "baseline"  # a comparator (params.yaml `role` overrides it)
    deterministic = True

    @classmethod
    def default_label(cls, spec) -> str:
        return "global mean"

    @classmethod
    def describe(cls, spec) -> dict:
        return {"consumes": "training ratings (their mean)", "unseen_item": "the global mean, as for every pair"}

    def fit(self, data: SplitData, seed: int):
        self.mean = float(data.train["rating"].mean())
        return self

    def score(self, users, anime):
        return np.full(len(users), self.mean)
