"""The paper's HeteroData: users (identity features), anime ([synopsis embedding || one-hot genres]),
(user, rates, anime) edges labelled with ratings and their reverse (anime, rev_rates, user).

Message passing only ever uses the *training* edges: validation and test ratings are prediction
targets, never graph structure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch

from hybridrec import io
from hybridrec.errors import DataError
from hybridrec.features import IdentityEncoder
from hybridrec.metrics import MAL, Scale, read_scale
from hybridrec.paths import Paths
from hybridrec.split import check_split, read_split  # noqa: F401 (read here, without torch: the stages that only read a split)

if TYPE_CHECKING:  # PyG is imported where a graph is built (reading a split needs only torch: stages start faster)
    from torch_geometric.data import HeteroData

EDGE = ("user", "rates", "anime")
REV_EDGE = ("anime", "rev_rates", "user")
SPLITS = ("train", "val", "test")


@dataclass
class GraphInputs:
    """Everything a model needs, read from the stage outputs."""

    n_users: int
    n_anime: int
    anime_x: torch.Tensor  # [n_anime, F] in anime_idx order
    feature_desc: str
    edges: dict  # split -> (edge_label_index [2, E] long, rating [E] float)
    users: pd.DataFrame  # user_idx, user_id
    anime: pd.DataFrame  # anime_idx, anime_id, name, genres
    split_sha256: str
    scale: Scale = MAL  # the data's rating scale (fixed by the preprocess stage)


def anime_features(anime_ids: np.ndarray, embeddings: dict, genres: pd.DataFrame, features) -> tuple:
    """[embedding || one-hot genres] rows for ``anime_ids`` (any subset of the two; none = identity)."""
    parts, desc = [], []
    if "synopsis" in features:
        pos = pd.Series(np.arange(len(embeddings["anime_id"])), index=embeddings["anime_id"])
        idx = pos.reindex(anime_ids)
        if idx.isna().any():
            missing = anime_ids[idx.isna().to_numpy()][:3]
            raise DataError("embeddings.npz", f"no embedding for anime_id {list(missing)} (re-run `dvc repro embed`)")
        emb = embeddings["embedding"][idx.to_numpy().astype(np.int64)]
        parts.append(torch.from_numpy(np.ascontiguousarray(emb, dtype=np.float32)))
        desc.append(f"synopsis embedding ({emb.shape[1]})")
    if "genres" in features:
        g = genres.set_index("anime_id").reindex(anime_ids)
        if g.isna().any().any():
            raise DataError("genres.parquet", "an anime of the subset has no genre row (re-run `dvc repro preprocess`)")
        parts.append(torch.from_numpy(g.to_numpy(dtype=np.float32, copy=True)))
        desc.append(f"one-hot genres ({g.shape[1]})")
    if not parts:
        return torch.eye(len(anime_ids)), f"identity ({len(anime_ids)})"
    return torch.cat(parts, dim=1), " || ".join(desc)


def build_hetero(n_users: int, anime_x: torch.Tensor, edge_index: torch.Tensor, rating: torch.Tensor,
                 user_identity: bool = True) -> HeteroData:
    """HeteroData as in the paper/PyG example: user x = eye, (user, rates, anime) + reverse edges.

    ``user_identity=False`` leaves the identity matrix implicit (only ``num_nodes``): the fast path and the
    embedding formulation never need it materialised (n_users^2 floats).
    """
    import torch_geometric.transforms as T  # noqa: PLC0415
    from torch_geometric.data import HeteroData  # noqa: PLC0415

    data = HeteroData()
    if user_identity:
        data["user"].x = torch.eye(n_users)
    else:
        data["user"].num_nodes = n_users
    data["anime"].x = anime_x
    data[EDGE].edge_index = edge_index
    data[EDGE].edge_label = rating
    data = T.ToUndirected()(data)
    del data[REV_EDGE].edge_label  # the reverse edges carry no label (as in the PyG example)
    return data


def load_inputs(paths: Paths, features, protocol: str = "random", replicate: int = 0) -> GraphInputs:
    users_anime = io.read_parquet(paths.subset / "anime.parquet", ["anime_idx", "anime_id", "name", "genres"])
    ratings = io.read_parquet(paths.subset / "ratings.parquet", ["user_idx", "user_id"])
    users = ratings[["user_idx", "user_id"]].drop_duplicates().sort_values("user_idx").reset_index(drop=True)
    split, sha = read_split(paths, protocol, replicate)
    embeddings = io.read_npz(paths.embeddings, ["anime_id", "embedding"]) if "synopsis" in features else None
    genres = io.read_parquet(paths.preprocessed / "genres.parquet", ["anime_id"]) if "genres" in features else None
    anime_x, desc = anime_features(users_anime["anime_id"].to_numpy(), embeddings, genres, features)
    return GraphInputs(len(users), len(users_anime), anime_x, desc, split_edges(split), users, users_anime, sha,
                       read_scale(paths))


def split_edges(split: pd.DataFrame) -> dict:
    """split -> (edge_label_index [2, E] long, rating [E] float), ratings through the IdentityEncoder."""
    label = IdentityEncoder(dtype=torch.float)
    edges = {}
    for s in SPLITS:
        part = split.loc[split["split"] == s]
        eli = torch.from_numpy(np.stack([part["user_idx"].to_numpy(), part["anime_idx"].to_numpy()])).long()
        edges[s] = (eli, label(part["rating"]))
    return edges


def train_graph(inputs: GraphInputs, user_identity: bool = True) -> HeteroData:
    """The message-passing graph: training edges only."""
    eli, rating = inputs.edges["train"]
    return build_hetero(inputs.n_users, inputs.anime_x, eli, rating, user_identity)
