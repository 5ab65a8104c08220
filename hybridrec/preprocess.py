"""Paper §3.1: merge ratings with the anime synopses, drop rows with nulls, one-hot the genres over a
stable vocabulary, and map user and anime ids to contiguous indices.

Nothing is dropped silently: every filter's before/after counts go into the stats this returns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from hybridrec.errors import DataError
from hybridrec.features import GenresEncoder


@dataclass
class Preprocessed:
    ratings: pd.DataFrame  # user_id, anime_id, rating, user_idx, anime_idx (file order)
    anime: pd.DataFrame  # anime_idx, anime_id, name, score, genres ("|"-joined), synopsis
    genres: list[str]  # the one-hot vocabulary, in column order
    onehot: np.ndarray  # [n_anime, n_genres] uint8, row i = anime_idx i
    stats: dict


def _counts(df: pd.DataFrame) -> dict:
    return {"ratings": int(len(df)), "users": int(df["user_id"].nunique()), "anime": int(df["anime_id"].nunique())}


def contiguous_map(ids: pd.Series) -> pd.Series:
    """Map ids to 0..n-1 in order of first appearance."""
    uniq = pd.unique(ids)
    return pd.Series(np.arange(len(uniq), dtype=np.int64), index=uniq)


def genre_vocabulary(synopses: pd.DataFrame) -> list[str]:
    """Sorted genre labels of every anime in the synopsis file: stable across subsets and splits."""
    return sorted({g for gs in synopses["genres"] for g in gs})


def preprocess(ratings: pd.DataFrame, synopses: pd.DataFrame, ratings_path="rating_complete.csv",
               synopsis_path="anime_with_synopsis.csv") -> Preprocessed:
    stats = {"raw": _counts(ratings), "synopsis_rows": int(len(synopses))}
    steps = []

    known = ratings["anime_id"].isin(synopses["anime_id"])
    dropped = ratings.loc[~known]
    steps.append({"filter": "anime absent from the synopsis file", "dropped_ratings": int(len(dropped)),
                  "dropped_anime": int(dropped["anime_id"].nunique())})
    merged = ratings.loc[known]

    null = synopses.loc[synopses["synopsis_missing"] | synopses["genres_missing"], "anime_id"]
    nulls = merged["anime_id"].isin(null)
    dropped = merged.loc[nulls]
    steps.append({"filter": "null synopsis or genres (incl. 'No synopsis ...')",
                  "dropped_ratings": int(len(dropped)), "dropped_anime": int(dropped["anime_id"].nunique()),
                  "null_rows_in_synopsis_file": int(len(null))})
    merged = merged.loc[~nulls]
    if merged.empty:
        raise DataError(ratings_path, f"no ratings left after merging with {synopsis_path} and dropping nulls "
                                      "(do the anime ids match the MAL_IDs of the synopsis file?)")
    stats["filters"] = steps
    stats["merged"] = _counts(merged)

    vocab = genre_vocabulary(synopses.loc[~synopses["genres_missing"]])
    anime = synopses.loc[synopses["anime_id"].isin(merged["anime_id"])].sort_values("anime_id", kind="stable")
    anime = anime.reset_index(drop=True)
    anime.insert(0, "anime_idx", np.arange(len(anime), dtype=np.int64))
    onehot = GenresEncoder(vocab).onehot(anime["genres"]).astype(np.uint8)

    user_map = contiguous_map(merged["user_id"])
    anime_map = pd.Series(anime["anime_idx"].to_numpy(), index=anime["anime_id"].to_numpy())
    merged = merged.reset_index(drop=True).assign(
        user_idx=lambda d: d["user_id"].map(user_map).to_numpy(),
        anime_idx=lambda d: d["anime_id"].map(anime_map).to_numpy())
    anime = anime.assign(genres=anime["genres"].map("|".join))[
        ["anime_idx", "anime_id", "name", "score", "genres", "synopsis"]]
    stats["genres"] = len(vocab)
    stats["rating_histogram"] = {int(k): int(v) for k, v in merged["rating"].value_counts().sort_index().items()}
    return Preprocessed(merged, anime, vocab, onehot, stats)
