"""The one train/validation/test split every model in the suite reads.

A seeded random split of the subset's ratings (paper: undefined; PyG's RandomLinkSplit uses 80/10/10).
A user whose ratings all fall into validation/test would have no edges in the training graph, so one
of their held-out ratings is moved to training (counted and reported).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def make_split(ratings: pd.DataFrame, val: float, test: float, seed: int) -> tuple[pd.DataFrame, dict]:
    rng = np.random.default_rng(seed)
    n = len(ratings)
    order = rng.permutation(n)
    n_test, n_val = int(round(test * n)), int(round(val * n))
    code = np.zeros(n, dtype=np.int8)  # 0 train, 1 val, 2 test
    code[order[:n_test]] = 2
    code[order[n_test:n_test + n_val]] = 1
    out = ratings[["user_idx", "anime_idx", "user_id", "anime_id", "rating"]].copy()
    # Every user keeps at least one training rating: for each user without one, a random held-out rating
    # (the first in the random order) moves to train.
    users = out["user_idx"].to_numpy()
    has_train = np.zeros(int(users.max()) + 1, dtype=bool)
    has_train[users[code == 0]] = True
    lacking_rows = order[~has_train[users[order]]]  # held-out rows of users without training, random order
    _, first = np.unique(users[lacking_rows], return_index=True)
    code[lacking_rows[first]] = 0
    moved = int(len(first))
    out["split"] = pd.Categorical.from_codes(code, categories=["train", "val", "test"])
    counts = out["split"].value_counts().to_dict()
    train_anime = set(out.loc[out["split"] == "train", "anime_idx"])
    cold = {s: int((~out.loc[out["split"] == s, "anime_idx"].isin(train_anime)).sum()) for s in ("val", "test")}
    stats = {"seed": seed, "fractions": {"val": val, "test": test},
             "counts": {s: int(counts.get(s, 0)) for s in ("train", "val", "test")},
             "moved_to_train": moved,
             "moved_note": f"{moved} user(s) had no training rating; one held-out rating each moved to train",
             "cold_anime_ratings": cold}
    return out, stats
