"""The train/validation/test splits every model in the suite reads, one per protocol:

* ``random``: a seeded random split of the subset's ratings (paper: undefined; PyG's RandomLinkSplit uses
  80/10/10). A user whose ratings all fall into validation/test would have no edges in the training graph,
  so one of their held-out ratings is moved to training (counted and reported). The paper's model is
  trained on this one.
* ``cold_items``: a seeded ``val`` + ``test`` share of the *anime* is held out with all their ratings, so
  every validation/test anime is unseen in training: no rating, no edge in the message-passing graph (its
  content features remain). A user who rated only held-out anime cannot be known to any model; such
  users' ratings are removed (counted and reported), never moved to training (that would leak the item).
* ``given``: the test ratings are the ones a file names (``split.given_test``: GroupLens's ``u1.test`` or any
  file of (user, item) pairs; ML-100K's u1..u5 also from RecBole's row order). Validation is a seeded ``val``
  share of the rest, carved per replicate; nothing of the test file reaches training or tuning. The test set is
  the same in every replicate: it has no split variance (the report says so).
* ``folds``: k-fold cross-validation with one fold assignment shared by every model (the canonical u1..u5 of
  ML-100K where the data has them, else a seeded partition of the ratings): replicate r tests on fold r + 1 and
  carves its validation from the other folds. Reported as mean ± std over the folds.
* ``temporal``: each user's last ``split.temporal_k`` ratings by timestamp are test and the ``temporal_k``
  before them validation (ties in time: the file's order), so no user is trained on a rating later than one
  it is tested on. Data without timestamps (MyAnimeList 2020's rating_complete.csv) cannot use it.

Every protocol keeps each user with at least one training rating where it can move a held-out one back
(random, and the validation carve of given and folds); a rating of a user with no training rating left in
given/folds/temporal is removed (counted), never moved out of the test set.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hybridrec import io
from hybridrec.errors import DataError
from hybridrec.params import MAX_FOLDS, PROTOCOLS  # noqa: F401 (PROTOCOLS: the stages import it from here)

CODES = ["train", "val", "test"]


def make_split(ratings: pd.DataFrame, val: float, test: float, seed: int, protocol: str = "random",
               test_mask: np.ndarray | None = None, temporal_k: int = 1) -> tuple[pd.DataFrame, dict]:
    """(split frame with a ``split`` column, stats) for ``protocol``; ``test_mask`` (given, folds): the test
    ratings, fixed by a file or a fold; ``temporal_k``: ratings per user held out by time (temporal)."""
    rng = np.random.default_rng(seed)
    out = ratings[["user_idx", "anime_idx", "user_id", "anime_id", "rating"]].copy()
    users = out["user_idx"].to_numpy()
    stats = {"protocol": protocol, "seed": seed, "fractions": {"val": val, "test": test}}
    if protocol in ("given", "folds"):
        if test_mask is None or len(test_mask) != len(out):
            raise DataError("params.yaml", f"split protocol {protocol}: no test ratings given")
        code, moved, dropped = _fixed_test_codes(users, np.asarray(test_mask, dtype=bool), rng, val)
        stats["fractions"] = {"val": val, "test": float(np.mean(test_mask))}
        stats["moved_to_train"], stats["dropped"] = moved, dropped
        stats["moved_note"] = (f"test fixed ({int(np.sum(test_mask)):,} ratings); {moved} user(s) had no training "
                               f"rating left by the validation carve: one validation rating each moved to train; "
                               f"{dropped['ratings']} test rating(s) of {dropped['users']} user(s) with no rating "
                               "outside the test set removed")
        keep = code >= 0
        out, code = out.loc[keep].reset_index(drop=True), code[keep]
    elif protocol == "temporal":
        if "timestamp" not in ratings or (ratings["timestamp"] < 0).any():
            raise DataError("params.yaml", "split protocol temporal needs a timestamp for every rating; this data "
                                           "has none (MyAnimeList 2020's rating_complete.csv records no time): use "
                                           "random, cold_items, given or folds")
        code, short = _temporal_codes(users, ratings["timestamp"].to_numpy(), ratings["row"].to_numpy()
                                      if "row" in ratings else np.arange(len(ratings)), temporal_k)
        stats["fractions"] = {"val_per_user": temporal_k, "test_per_user": temporal_k}
        stats["short_users"] = short
        stats["moved_note"] = (f"each user's last {temporal_k} rating(s) by time are test, the {temporal_k} before "
                               f"them validation; {short} user(s) with {2 * temporal_k} or fewer ratings keep at "
                               "least one (their earliest) for training")
    elif protocol == "random":
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


def _fixed_test_codes(users: np.ndarray, test: np.ndarray, rng, val: float):
    """Test = ``test``; validation a seeded ``val`` share of the other ratings (rounded), each user keeping a
    training rating where the carve took all of them (one validation rating moved back); test ratings of users
    with no other rating are removed (-1)."""
    code = np.where(test, 2, 0).astype(np.int8)
    rest = np.flatnonzero(~test)
    order = rest[rng.permutation(len(rest))]
    code[order[:int(round(val * len(rest)))]] = 1
    has_train = np.zeros(int(users.max()) + 1, dtype=bool)
    has_train[users[code == 0]] = True
    lacking = order[(code[order] == 1) & ~has_train[users[order]]]  # validation rows of users without training
    _, first = np.unique(users[lacking], return_index=True)
    code[lacking[first]] = 0
    has_train[users[lacking[first]]] = True
    unknown = ~has_train[users]
    code = np.where(unknown, -1, code).astype(np.int8)
    return code, int(len(first)), {"ratings": int(unknown.sum()), "users": int(len(np.unique(users[unknown])))}


def _temporal_codes(users: np.ndarray, timestamp: np.ndarray, row: np.ndarray, k: int):
    """Per user, ordered by (timestamp, file order): the last ``k`` ratings test, the ``k`` before validation,
    the rest training; a user with ``2 k`` or fewer ratings keeps at least their earliest one for training (test
    first, then validation, from what is left)."""
    order = np.lexsort((row, timestamp, users))  # by user, then time, then file order
    u_sorted = users[order]
    starts = np.flatnonzero(np.r_[True, u_sorted[1:] != u_sorted[:-1]])
    counts = np.diff(np.r_[starts, len(order)])
    pos_from_end = np.arange(len(order)) - np.repeat(starts + counts, counts)  # -1 = the user's last rating
    n = np.repeat(counts, counts)
    n_test = np.minimum(k, n - 1)
    n_val = np.minimum(k, n - 1 - n_test)
    rank = -pos_from_end  # 1 = last
    code_sorted = np.where(rank <= n_test, 2, np.where(rank <= n_test + n_val, 1, 0)).astype(np.int8)
    code = np.empty(len(users), dtype=np.int8)
    code[order] = code_sorted
    return code, int(np.sum(counts <= 2 * k))


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


def replicates_of(p, protocol: str) -> int:
    """How many replicates of the procedure ``protocol`` runs: one per fold for ``folds`` (split.folds), else
    compare.replicates."""
    return p.split.folds if protocol == "folds" else p.compare.replicates


def for_protocol(p, protocol: str):
    """``p`` with compare.replicates set to the replicates of ``protocol`` (what the compare and comparison
    stages of that protocol read)."""
    import dataclasses  # noqa: PLC0415

    n = replicates_of(p, protocol)
    return p if n == p.compare.replicates else dataclasses.replace(p, compare=dataclasses.replace(p.compare,
                                                                                                  replicates=n))


def protocols_of(p) -> list[str]:
    """The protocols whose splits the split stage writes: random (the paper model's) and every protocol of
    compare.protocols, in PROTOCOLS order."""
    return [x for x in PROTOCOLS if x == "random" or x in p.compare.protocols]


def fold_assignment(ratings: pd.DataFrame, k: int, seed: int, source) -> tuple[np.ndarray, str]:
    """(fold 1..k of every rating, where it comes from): the data's canonical folds where it has k of them
    (ML-100K's u1..u5), else a seeded partition into k folds of (nearly) equal size."""
    canonical, where = source.canonical_folds(ratings)
    if canonical is not None and int(canonical.max()) == k and int(canonical.min()) == 1:
        return np.asarray(canonical, dtype=np.int64), where
    fold = np.random.default_rng(seed).permutation(len(ratings)) % k + 1
    note = f"a seeded partition into {k} folds (seed {seed})"
    if canonical is not None:
        note += f"; the data's canonical folds ({where}) are {int(canonical.max())}, not split.folds = {k}"
    return fold.astype(np.int64), note


def read_split(paths, protocol: str = "random", replicate: int = 0) -> tuple[pd.DataFrame, str]:
    """The split of ``protocol`` (and replicate), checked against the sha256 its stage recorded; returns
    (split, sha256)."""
    path = paths.split_file(protocol, replicate)
    if not path.exists() and replicate:
        raise DataError(path, f"no split of replicate {replicate} (compare.replicates is larger than the split "
                              "stage's: re-run `dvc repro split`)")
    split = io.read_parquet(path, ["user_idx", "anime_idx", "rating", "split"])
    info = io.read_json(paths.split_info(protocol, replicate))
    sha = io.sha256_file(path)
    if info.get("sha256") != sha:
        raise DataError(path, f"sha256 {sha[:12]}... differs from the one recorded in "
                                                       "split.json: the split file was changed outside the pipeline")
    check_split(split, path)
    return split, sha


def check_split(split: pd.DataFrame, path) -> None:
    """Every user needs training ratings (else their node has no edges to learn from)."""
    users = split["user_idx"].unique()
    trained = split.loc[split["split"] == "train", "user_idx"].unique()
    lacking = np.setdiff1d(users, trained)
    if len(lacking):
        raise DataError(path, f"{len(lacking)} user(s) have no training ratings (first: user_idx {lacking[0]}); "
                              "every user needs at least one")
