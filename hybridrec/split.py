"""The train/validation/test splits every model in the suite reads, one per protocol:

* ``random``: a seeded random split of the subset's ratings (paper: undefined; PyG's RandomLinkSplit uses
  80/10/10). A user whose ratings all fall into validation/test would have no edges in the training graph,
  so one of their held-out ratings is moved to training (counted and reported). The paper's model is
  trained on this one.
* ``cold_items``: a seeded ``val`` + ``test`` share of the *anime* is held out with all their ratings, so
  every validation/test anime is unseen in training: no rating, no edge in the message-passing graph (its
  content features remain). A user who rated only held-out anime cannot be known to any model; such
  users' ratings are removed (counted and reported), never moved to training (that would leak the item).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hybridrec.errors import DataError

PROTOCOLS = ("random", "cold_items")
CODES = ["train", "val", "test"]


def make_split(ratings: pd.DataFrame, val: float, test: float, seed: int,
               protocol: str = "random") -> tuple[pd.DataFrame, dict]:
    """(split frame with a ``split`` column, stats) for ``protocol``."""
    rng = np.random.default_rng(seed)
    out = ratings[["user_idx", "anime_idx", "user_id", "anime_id", "rating"]].copy()
    users = out["user_idx"].to_numpy()
    stats = {"protocol": protocol, "seed": seed, "fractions": {"val": val, "test": test}}
    if protocol == "random":
        code, moved = _random_codes(users, rng, val, test)
        stats["moved_to_train"] = moved
        stats["moved_note"] = f"{moved} user(s) had no training rating; one held-out rating each moved to train"
    elif protocol == "cold_items":
        code, dropped = _cold_item_codes(out["anime_idx"].to_numpy(), users, rng, val, test)
        stats["dropped"] = dropped
        stats["moved_note"] = (f"{dropped['ratings']} rating(s) of {dropped['users']} user(s) who rated only held-out "
                               "anime removed (no model can know those users)")
        keep = code >= 0
        out, code = out.loc[keep].reset_index(drop=True), code[keep]
    else:
        raise DataError("params.yaml", f"split protocol {protocol!r}: must be one of {', '.join(PROTOCOLS)}")
    out["split"] = pd.Categorical.from_codes(code, categories=CODES)
    counts = out["split"].value_counts().to_dict()
    stats["counts"] = {s: int(counts.get(s, 0)) for s in CODES}
    empty = [s for s in CODES if stats["counts"][s] == 0]
    if empty:
        raise DataError("params.yaml", f"split (protocol {protocol}, val={val}, test={test}) leaves no {empty[0]} "
                                       f"ratings out of {len(ratings)}: every split needs ratings to train on and "
                                       "to evaluate (raise split.val / split.test, or use more data)")
    train_anime = set(out.loc[out["split"] == "train", "anime_idx"])
    stats["cold_anime_ratings"] = {s: int((~out.loc[out["split"] == s, "anime_idx"].isin(train_anime)).sum())
                                   for s in ("val", "test")}
    stats["anime"] = {s: int(out.loc[out["split"] == s, "anime_idx"].nunique()) for s in CODES}
    return out, stats


def _random_codes(users: np.ndarray, rng, val: float, test: float):
    n = len(users)
    order = rng.permutation(n)
    n_test, n_val = int(round(test * n)), int(round(val * n))
    code = np.zeros(n, dtype=np.int8)  # 0 train, 1 val, 2 test
    code[order[:n_test]] = 2
    code[order[n_test:n_test + n_val]] = 1
    # Every user keeps at least one training rating: for each user without one, a random held-out rating
    # (the first in the random order) moves to train.
    has_train = np.zeros(int(users.max()) + 1, dtype=bool)
    has_train[users[code == 0]] = True
    lacking_rows = order[~has_train[users[order]]]  # held-out rows of users without training, random order
    _, first = np.unique(users[lacking_rows], return_index=True)
    code[lacking_rows[first]] = 0
    return code, int(len(first))


def _cold_item_codes(anime: np.ndarray, users: np.ndarray, rng, val: float, test: float):
    items = np.unique(anime)
    order = rng.permutation(items)
    n_test, n_val = int(round(test * len(items))), int(round(val * len(items)))
    item_code = np.zeros(int(items.max()) + 1, dtype=np.int8)
    item_code[order[:n_test]] = 2
    item_code[order[n_test:n_test + n_val]] = 1
    code = item_code[anime]
    has_train = np.zeros(int(users.max()) + 1, dtype=bool)
    has_train[users[code == 0]] = True
    unknown = ~has_train[users]
    code = np.where(unknown, -1, code).astype(np.int8)
    return code, {"ratings": int(unknown.sum()), "users": int(len(np.unique(users[unknown])))}
