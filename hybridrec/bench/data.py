"""In-memory data for the timing benchmarks: the same preprocessing, subset and split as the pipeline,
without writing files. Synopsis embeddings may be random vectors of the right shape (timings depend on
shapes, not values), so a benchmark of training never waits for the sentence encoder."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from hybridrec import data
from hybridrec.graph import SPLITS, GraphInputs, anime_features, split_edges
from hybridrec.params import Params
from hybridrec.predictors import SplitData
from hybridrec.preprocess import preprocess
from hybridrec.split import make_split
from hybridrec.subset import make_subset


@dataclasses.dataclass
class BenchData:
    name: str
    inputs: GraphInputs
    split: SplitData
    synopses: list[str]


def load(raw_dir, p: Params, n_users, name: str, embedding_dim: int = 384) -> BenchData:
    """Kaggle-schema files -> preprocess -> subset (n_users, head) -> split -> GraphInputs."""
    raw_dir = Path(raw_dir)
    ratings = data.load_ratings(raw_dir / data.RATINGS_FILE)
    syn = data.load_synopses(raw_dir / data.SYNOPSIS_FILE, p.preprocess.missing_synopsis_prefix)
    pre = preprocess(ratings, syn)
    sub, sub_anime, _ = make_subset(pre.ratings, pre.anime, n_users, "head", 0)
    split, _ = make_split(sub, p.split.val, p.split.test, p.split.seed)
    rng = np.random.default_rng(0)
    emb = {"anime_id": pre.anime["anime_id"].to_numpy(),
           "embedding": rng.normal(size=(len(pre.anime), embedding_dim)).astype(np.float32)}
    genres = pd.DataFrame(pre.onehot, columns=pre.genres)
    genres.insert(0, "anime_id", pre.anime["anime_id"].to_numpy())
    anime_x, desc = anime_features(sub_anime["anime_id"].to_numpy(), emb, genres, ["synopsis", "genres"])
    edges = split_edges(split)
    users = split[["user_idx", "user_id"]].drop_duplicates().sort_values("user_idx").reset_index(drop=True)
    inputs = GraphInputs(len(users), len(sub_anime), anime_x, desc, edges, users, sub_anime, "in-memory")
    parts = {s: split.loc[split["split"] == s].reset_index(drop=True) for s in SPLITS}
    sd = SplitData(parts["train"], parts["val"], parts["test"], inputs.n_users, inputs.n_anime, lambda f: inputs)
    synopses = pre.anime["synopsis"].tolist()
    return BenchData(name, inputs, sd, synopses)


def random_graph(n_users: int, n_anime: int, n_edges: int, feature_dim: int = 426, seed: int = 0,
                 device: str = "cpu") -> GraphInputs:
    """A Kaggle-sized graph for timing alone: log-normal user activity, Zipf anime popularity, random
    features and ratings (no synopses to embed, no CSV to parse), built in seconds on any machine."""
    gen = torch.Generator().manual_seed(seed)
    activity = torch.exp(torch.randn(n_users, generator=gen))
    users = torch.multinomial(activity / activity.sum(), n_edges, replacement=True, generator=gen)
    pop = 1.0 / torch.arange(1, n_anime + 1, dtype=torch.float64) ** 1.0
    anime = torch.multinomial(pop / pop.sum(), n_edges, replacement=True, generator=gen)
    rating = torch.randint(1, 11, (n_edges,), generator=gen).float()
    perm = torch.randperm(n_edges, generator=gen)
    n_val = n_test = n_edges // 10
    parts = {"test": perm[:n_test], "val": perm[n_test:n_test + n_val], "train": perm[n_test + n_val:]}
    edges = {s: (torch.stack([users[i], anime[i]]).to(device), rating[i].to(device)) for s, i in parts.items()}
    x = torch.randn(n_anime, feature_dim, generator=gen).to(device)
    users_df = pd.DataFrame({"user_idx": np.arange(n_users), "user_id": np.arange(n_users)})
    anime_df = pd.DataFrame({"anime_idx": np.arange(n_anime), "anime_id": np.arange(n_anime),
                             "name": [f"anime {i}" for i in range(n_anime)], "genres": ""})
    return GraphInputs(n_users, n_anime, x, "random", edges, users_df, anime_df, "random")
