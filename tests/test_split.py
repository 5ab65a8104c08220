"""The splits every model shares: fractions, disjointness, determinism, every user in training; cold items
held out whole (no held-out anime in the training ratings or the message-passing graph, content present)."""

import numpy as np
import pandas as pd
import pytest

from hybridrec.errors import DataError
from hybridrec.split import make_split


@pytest.fixture(scope="module")
def ratings():
    rng = np.random.default_rng(0)
    pairs = {(int(u), int(a)) for u, a in zip(rng.integers(0, 200, 9000), rng.zipf(1.3, 9000) % 400)}
    df = pd.DataFrame(sorted(pairs), columns=["user_idx", "anime_idx"])
    df["user_id"], df["anime_id"] = df["user_idx"] + 1000, df["anime_idx"] + 5000
    df["rating"] = rng.integers(1, 11, len(df))
    return df


def keys(df):
    return set(zip(df["user_idx"], df["anime_idx"]))


def test_random_split(ratings):
    split, stats = make_split(ratings, 0.1, 0.2, seed=3)
    parts = {s: split.loc[split["split"] == s] for s in ("train", "val", "test")}
    assert sum(len(p) for p in parts.values()) == len(ratings)
    assert not (keys(parts["train"]) & keys(parts["val"])) and not (keys(parts["val"]) & keys(parts["test"]))
    assert keys(parts["train"]) | keys(parts["val"]) | keys(parts["test"]) == keys(ratings)
    moved = stats["moved_to_train"]
    assert abs(len(parts["test"]) - 0.2 * len(ratings)) <= moved + 1
    assert abs(len(parts["val"]) - 0.1 * len(ratings)) <= moved + 1
    assert set(split["user_idx"]) == set(parts["train"]["user_idx"])  # every user trains
    again, _ = make_split(ratings, 0.1, 0.2, seed=3)
    assert again.equals(split)
    other, _ = make_split(ratings, 0.1, 0.2, seed=4)
    assert not other["split"].equals(split["split"])


def test_cold_items_split(ratings):
    split, stats = make_split(ratings, 0.1, 0.1, seed=1, protocol="cold_items")
    parts = {s: split.loc[split["split"] == s] for s in ("train", "val", "test")}
    train_anime = set(parts["train"]["anime_idx"])
    for s in ("val", "test"):
        held = set(parts[s]["anime_idx"])
        assert held and not (held & train_anime)  # no held-out anime has a training rating (or edge)
        assert stats["cold_anime_ratings"][s] == len(parts[s])
    assert not (set(parts["val"]["anime_idx"]) & set(parts["test"]["anime_idx"]))
    n_anime = ratings["anime_idx"].nunique()
    assert stats["anime"]["test"] == round(0.1 * n_anime) and stats["anime"]["val"] == round(0.1 * n_anime)
    # users who rated only held-out anime are removed, counted, never moved to training
    assert len(split) + stats["dropped"]["ratings"] == len(ratings)
    assert set(split["user_idx"]) == set(parts["train"]["user_idx"])
    again, _ = make_split(ratings, 0.1, 0.1, seed=1, protocol="cold_items")
    assert again.equals(split)


def test_cold_items_keep_their_content(tiny_project):
    """Held-out anime are in the graph's node set with their features, but have no edge."""
    import os

    from hybridrec.graph import load_inputs, train_graph
    from hybridrec.paths import Paths

    root, p = tiny_project
    old = os.getcwd()
    os.chdir(root)
    try:
        inputs = load_inputs(Paths(p.data.name), ["synopsis", "genres"], "cold_items")
    finally:
        os.chdir(old)
    held = set(inputs.edges["test"][0][1].tolist()) | set(inputs.edges["val"][0][1].tolist())
    g = train_graph(inputs)
    assert not (held & set(g["user", "rates", "anime"].edge_index[1].tolist()))
    x = inputs.anime_x[sorted(held)]
    assert x.shape[1] > 384 and bool((x.abs().sum(1) > 0).all())  # synopsis + genres present


def test_a_split_leaving_a_part_empty_is_refused(ratings):
    with pytest.raises(DataError, match="leaves no (val|test) ratings"):
        make_split(ratings.head(5), 0.1, 0.01, seed=0)
