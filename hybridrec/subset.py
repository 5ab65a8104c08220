"""The paper's user subset: ``subset.n_users`` users chosen by ``subset.strategy``.

* ``head``: the first users in file order (most likely what the paper did: its HeteroData shows the
  first 100 users; its text says 800),
* ``random``: a seeded uniform sample,
* ``active``: the users with the most ratings (ties: file order).

Asking for more users than exist selects all of them and says so; it is not an error.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hybridrec.errors import DataError
from hybridrec.preprocess import contiguous_map


def select_users(ratings: pd.DataFrame, n_users, strategy: str, seed: int) -> np.ndarray:
    """user_ids of the subset, in file order."""
    users = pd.unique(ratings["user_id"])  # file order
    if n_users == "all" or n_users >= len(users):
        return users
    if strategy == "head":
        return users[:n_users]
    if strategy == "random":
        pick = np.random.default_rng(seed).choice(len(users), size=n_users, replace=False)
        return users[np.sort(pick)]
    if strategy == "active":
        counts = ratings.groupby("user_id", sort=False).size().reindex(users).to_numpy()
        order = np.argsort(-counts, kind="stable")[:n_users]
        return users[np.sort(order)]
    raise ValueError(f"unknown subset strategy {strategy!r}")


def make_subset(ratings: pd.DataFrame, anime: pd.DataFrame, n_users, strategy: str, seed: int):
    """Return (ratings, anime, stats) of the subset, re-indexed contiguously (user_idx, anime_idx)."""
    if n_users != "all" and n_users <= 0:
        raise DataError("params.yaml", f"subset.n_users = {n_users}: must be a positive number of users or 'all'")
    available = int(ratings["user_id"].nunique())
    users = select_users(ratings, n_users, strategy, seed)
    extra = [c for c in ("timestamp", "row") if c in ratings]  # kept where the source has them (MovieLens)
    sub = ratings.loc[ratings["user_id"].isin(users), ["user_id", "anime_id", "rating"] + extra].reset_index(drop=True)
    if sub.empty:
        raise DataError("params.yaml", "the subset holds no ratings")
    sub_anime = anime.loc[anime["anime_id"].isin(sub["anime_id"])].sort_values("anime_id").reset_index(drop=True)
    sub_anime = sub_anime.rename(columns={"anime_idx": "full_anime_idx"})
    sub_anime.insert(0, "anime_idx", np.arange(len(sub_anime), dtype=np.int64))
    user_map = contiguous_map(sub["user_id"])
    anime_map = pd.Series(sub_anime["anime_idx"].to_numpy(), index=sub_anime["anime_id"].to_numpy())
    sub["user_idx"] = sub["user_id"].map(user_map).to_numpy()
    sub["anime_idx"] = sub["anime_id"].map(anime_map).to_numpy()
    requested = n_users
    stats = {
        "strategy": strategy, "requested_users": requested, "available_users": available,
        "users": int(len(users)), "ratings": int(len(sub)), "anime": int(len(sub_anime)),
        "note": (f"only {available} users are available: all selected"
                 if requested != "all" and requested > available else
                 "all users selected" if requested == "all" else f"{strategy} {requested} of {available} users"),
    }
    return sub, sub_anime, stats
