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
    label = np.empty(n, dtype=object)
    label[order[:n_test]] = "test"
    label[order[n_test:n_test + n_val]] = "val"
    label[order[n_test + n_val:]] = "train"
    out = ratings[["user_idx", "anime_idx", "user_id", "anime_id", "rating"]].copy()
    out["split"] = label
    # Every user keeps at least one training rating.
    has_train = out.loc[out["split"] == "train", "user_idx"].unique()
    lacking = np.setdiff1d(out["user_idx"].unique(), has_train)
    moved = 0
    for u in lacking:
        rows = np.flatnonzero((out["user_idx"] == u).to_numpy())
        out.iloc[rng.choice(rows), out.columns.get_loc("split")] = "train"
        moved += 1
    out["split"] = out["split"].astype(str)
    counts = out["split"].value_counts().to_dict()
    train_anime = set(out.loc[out["split"] == "train", "anime_idx"])
    cold = {s: int((~out.loc[out["split"] == s, "anime_idx"].isin(train_anime)).sum()) for s in ("val", "test")}
    stats = {"seed": seed, "fractions": {"val": val, "test": test},
             "counts": {s: int(counts.get(s, 0)) for s in ("train", "val", "test")},
             "moved_to_train": moved,
             "moved_note": f"{moved} user(s) had no training rating; one held-out rating each moved to train",
             "cold_anime_ratings": cold}
    return out, stats
