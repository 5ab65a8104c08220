"""The paper's model at full scale: identity user features held as embeddings, mini-batch training on
sampled neighbourhoods, exact full-graph inference.

For SAGEConv, ``lin(identity row u)`` is column ``u`` of the weight matrix, so holding the first layer's
two user-side weight matrices as ``nn.Embedding`` tables is *the same first layer* without the
n_users x n_users identity matrix. :meth:`EmbeddingSAGE.from_model` copies the weights of a
to_hetero ``Model``; a test checks both give the same predictions.
"""

from __future__ import annotations

import torch
from torch import nn
from torch_geometric.utils import scatter

from hybridrec.model import EDGE_KEY, REV_KEY, Aggregation, EdgeDecoder
from hybridrec.sampling import Batch


class EmbeddingSAGE(nn.Module):
    def __init__(self, n_users: int, anime_dim: int, hidden: int, dropout: float = 0.0):
        super().__init__()
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        # layer 1: messages into anime (from users) and into users (from anime)
        self.user_msg = nn.Embedding(n_users, hidden)  # = conv1[user->anime].lin_l.weight^T
        self.user_msg_bias = nn.Parameter(torch.zeros(hidden))  # = conv1[user->anime].lin_l.bias
        self.anime_self1 = nn.Linear(anime_dim, hidden, bias=False)  # = conv1[user->anime].lin_r
        self.anime_msg1 = nn.Linear(anime_dim, hidden)  # = conv1[anime->user].lin_l
        self.user_self = nn.Embedding(n_users, hidden)  # = conv1[anime->user].lin_r.weight^T
        # layer 2
        self.to_anime2_l, self.to_anime2_r = nn.Linear(hidden, hidden), nn.Linear(hidden, hidden, bias=False)
        self.to_user2_l, self.to_user2_r = nn.Linear(hidden, hidden), nn.Linear(hidden, hidden, bias=False)
        self.decoder = EdgeDecoder(hidden)
        bound = 1.0 / n_users**0.5  # as a Linear(n_users, hidden) would be initialised
        nn.init.uniform_(self.user_msg.weight, -bound, bound)
        nn.init.uniform_(self.user_self.weight, -bound, bound)
        nn.init.uniform_(self.user_msg_bias, -bound, bound)

    @classmethod
    def from_model(cls, model) -> "EmbeddingSAGE":
        """The same parameters as a to_hetero SAGEConv ``Model`` with identity user features."""
        c1, c2 = model.encoder.conv1, model.encoder.conv2
        n_users = c1[EDGE_KEY].lin_l.weight.size(1)
        hidden = c1[EDGE_KEY].lin_l.weight.size(0)
        out = cls(n_users, c1[EDGE_KEY].lin_r.weight.size(1), hidden)
        with torch.no_grad():
            out.user_msg.weight.copy_(c1[EDGE_KEY].lin_l.weight.t())
            out.user_msg_bias.copy_(c1[EDGE_KEY].lin_l.bias)
            out.anime_self1.weight.copy_(c1[EDGE_KEY].lin_r.weight)
            out.anime_msg1.load_state_dict(c1[REV_KEY].lin_l.state_dict())
            out.user_self.weight.copy_(c1[REV_KEY].lin_r.weight.t())
            out.to_anime2_l.load_state_dict(c2[EDGE_KEY].lin_l.state_dict())
            out.to_anime2_r.load_state_dict(c2[EDGE_KEY].lin_r.state_dict())
            out.to_user2_l.load_state_dict(c2[REV_KEY].lin_l.state_dict())
            out.to_user2_r.load_state_dict(c2[REV_KEY].lin_r.state_dict())
            out.decoder.load_state_dict(model.decoder.state_dict())
        return out

    def _layers(self, x_anime, user_ids, mean_to_anime, mean_to_user, mean_anime_proj):
        """Both layers. ``mean_to_*(x)``: neighbour mean of a per-source tensor; ``mean_anime_proj(W)``: the
        neighbour mean of the anime features projected by W (projecting first keeps the per-edge work
        h-wide instead of feature-wide; the mean is linear, so the result is the same)."""
        user_msg = self.user_msg(user_ids) if user_ids is not None else self.user_msg.weight
        user_self = self.user_self(user_ids) if user_ids is not None else self.user_self.weight
        h_anime = mean_to_anime(user_msg) + self.user_msg_bias + self.anime_self1(x_anime)
        h_user = mean_anime_proj(self.anime_msg1.weight) + self.anime_msg1.bias + user_self
        h_anime, h_user = self.drop(h_anime.relu()), self.drop(h_user.relu())
        z_anime = self.to_anime2_l(mean_to_anime(h_user)) + self.to_anime2_r(h_anime)
        z_user = self.to_user2_l(mean_to_user(h_anime)) + self.to_user2_r(h_user)
        return z_user, z_anime

    def forward(self, batch: Batch, x_anime_all: torch.Tensor):
        """Predictions for the batch's supervision edges from its sampled subgraph."""
        n_u, n_a = len(batch.user_ids), len(batch.anime_ids)
        ua, au = batch.to_user, batch.to_anime

        def to_anime(x):
            return scatter(x[au[0]], au[1], dim=0, dim_size=n_a, reduce="mean")

        def to_user(x):
            return scatter(x[ua[0]], ua[1], dim=0, dim_size=n_u, reduce="mean")

        x_anime = x_anime_all[batch.anime_ids]
        z_user, z_anime = self._layers(x_anime, batch.user_ids, to_anime, to_user,
                                       lambda w: to_user(x_anime @ w.t()))
        return self.decoder.forward_projected(z_user, z_anime, batch.edge_label_index)


class FullGraphRunner(nn.Module):
    """Exact inference (and full-batch use) of an EmbeddingSAGE on the whole training graph."""

    def __init__(self, model: EmbeddingSAGE, x_anime: torch.Tensor, edge_index: torch.Tensor, n_users: int):
        super().__init__()
        self.model = model
        n_anime = x_anime.size(0)
        user, anime = edge_index
        self.a_au = Aggregation(anime, user, n_anime, n_users).to(x_anime.device)
        self.a_ua = Aggregation(user, anime, n_users, n_anime).to(x_anime.device)
        self.x_anime = x_anime
        with torch.no_grad():
            self.agg_anime_x = self.a_ua.a @ x_anime  # fixed inputs: aggregate once

    def encode(self):
        return self.model._layers(self.x_anime, None, lambda x: self.a_au @ x, lambda x: self.a_ua @ x,
                                  lambda w: self.agg_anime_x @ w.t())

    def forward(self, edge_label_index):
        z_user, z_anime = self.encode()
        return self.model.decoder.forward_projected(z_user, z_anime, edge_label_index)
