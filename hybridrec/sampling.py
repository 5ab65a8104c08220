"""Link-neighbour sampling for mini-batch training at full scale, in plain PyTorch.

It does what PyG's ``LinkNeighborLoader`` does for this bipartite graph: take a batch of supervision
(user, anime) edges, then for every node reached so far sample up to ``num_neighbors[hop]`` neighbours per
hop (for users: anime they rated; for anime: users who rated them), and return the sampled subgraph with
local indices. (PyG's loader needs pyg-lib or torch-sparse, neither of which has wheels for torch 2.13
on PyPI; this keeps the suite installable with pip alone.)

A fan-out of -1 takes every neighbour, so ``num_neighbors=[-1, -1]`` gives exact 2-layer embeddings.
Neighbours are drawn with replacement and de-duplicated (nodes with at most ``k`` neighbours keep all).
Sampling runs on the device of the edge tensors (on a GPU, the GPU samples).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Batch:
    user_ids: torch.Tensor  # global ids of the users in the subgraph
    anime_ids: torch.Tensor  # global ids of the anime in the subgraph
    to_anime: torch.Tensor  # [2, E1] local (user, anime) message edges into anime
    to_user: torch.Tensor  # [2, E2] local (anime, user) message edges into users
    edge_label_index: torch.Tensor  # [2, B] local (user, anime) supervision pairs
    edge_label: torch.Tensor  # [B]


def csr(src: torch.Tensor, dst: torch.Tensor, n_src: int):
    """Neighbour lists of every src node: (rowptr, col) with col sorted by src."""
    order = torch.argsort(src, stable=True)
    col = dst[order]
    rowptr = torch.zeros(n_src + 1, dtype=torch.long, device=src.device)
    rowptr[1:] = torch.cumsum(torch.bincount(src, minlength=n_src), 0)
    return rowptr, col


def _unique_pairs(a: torch.Tensor, b: torch.Tensor, n_b: int):
    """De-duplicate (a, b) pairs via one int64 key (much faster than torch.unique(dim=1))."""
    key = torch.unique(a * n_b + b)
    return key // n_b, key % n_b


def sample_neighbors(rowptr, col, nodes: torch.Tensor, k: int, gen: torch.Generator, n_cols: int):
    """(node, neighbour) pairs: up to ``k`` sampled neighbours of each node (all when k < 0 or deg <= k)."""
    dev = nodes.device
    start, deg = rowptr[nodes], rowptr[nodes + 1] - rowptr[nodes]
    take_all = deg <= k if k >= 0 else torch.ones_like(deg, dtype=torch.bool)
    # nodes keeping every neighbour
    n_all, d_all, s_all = nodes[take_all], deg[take_all], start[take_all]
    rep = torch.repeat_interleave(torch.arange(len(n_all), device=dev), d_all)
    offs = torch.arange(int(d_all.sum()), device=dev) - torch.repeat_interleave(torch.cumsum(d_all, 0) - d_all, d_all)
    src_a, nb_a = n_all[rep], col[s_all[rep] + offs]
    # nodes with more than k neighbours: k draws with replacement, de-duplicated
    n_s, d_s, s_s = nodes[~take_all], deg[~take_all], start[~take_all]
    if len(n_s):
        r = torch.rand(len(n_s), k, generator=gen, device=dev)
        pick = s_s[:, None] + (r * d_s[:, None]).long()
        src_b = n_s[:, None].expand(-1, k).reshape(-1)
        nb_b = col[pick.reshape(-1)]
        src_b, nb_b = _unique_pairs(src_b, nb_b, n_cols)
        src_a, nb_a = torch.cat([src_a, src_b]), torch.cat([nb_a, nb_b])
    return src_a, nb_a


class LinkNeighborSampler:
    """Iterate mini-batches of supervision edges with their sampled 2-hop neighbourhoods."""

    def __init__(self, edge_index: torch.Tensor, edge_label: torch.Tensor, n_users: int, n_anime: int,
                 num_neighbors, batch_size: int, shuffle: bool = True, seed: int = 0,
                 graph_edge_index: torch.Tensor | None = None):
        self.eli, self.y = edge_index, edge_label
        g = edge_index if graph_edge_index is None else graph_edge_index  # message-passing graph
        self.u_ptr, self.u_col = csr(g[0], g[1], n_users)  # user -> anime
        self.a_ptr, self.a_col = csr(g[1], g[0], n_anime)  # anime -> user
        self.n_users, self.n_anime = n_users, n_anime
        self.num_neighbors, self.batch_size, self.shuffle = list(num_neighbors), batch_size, shuffle
        self.gen = torch.Generator(device=edge_index.device).manual_seed(seed)

    def __len__(self):
        return -(-self.eli.size(1) // self.batch_size)

    def __iter__(self):
        n = self.eli.size(1)
        dev = self.eli.device
        order = torch.randperm(n, generator=self.gen, device=dev) if self.shuffle else torch.arange(n, device=dev)
        for s in range(0, n, self.batch_size):
            idx = order[s:s + self.batch_size]
            yield self.sample(self.eli[:, idx], self.y[idx])

    def sample(self, seeds: torch.Tensor, label: torch.Tensor) -> Batch:
        users, anime = seeds[0].unique(), seeds[1].unique()
        frontier_u, frontier_a = users, anime
        ua_src, ua_dst, au_src, au_dst = [], [], [], []  # (anime -> user), (user -> anime) messages
        for k in self.num_neighbors:
            u, a_nb = sample_neighbors(self.u_ptr, self.u_col, frontier_u, k, self.gen, self.n_anime)  # into users
            a, u_nb = sample_neighbors(self.a_ptr, self.a_col, frontier_a, k, self.gen, self.n_users)  # into anime
            ua_src.append(a_nb), ua_dst.append(u), au_src.append(u_nb), au_dst.append(a)
            new_a = torch.unique(a_nb)
            new_u = torch.unique(u_nb)
            frontier_a = new_a[~torch.isin(new_a, anime)]
            frontier_u = new_u[~torch.isin(new_u, users)]
            anime = torch.cat([anime, frontier_a])
            users = torch.cat([users, frontier_u])
        # local ids
        dev = seeds.device
        u_local = torch.full((self.n_users,), -1, dtype=torch.long, device=dev)
        u_local[users] = torch.arange(len(users), device=dev)
        a_local = torch.full((self.n_anime,), -1, dtype=torch.long, device=dev)
        a_local[anime] = torch.arange(len(anime), device=dev)
        to_user = torch.stack(_unique_pairs(a_local[torch.cat(ua_src)], u_local[torch.cat(ua_dst)], len(users)))
        to_anime = torch.stack(_unique_pairs(u_local[torch.cat(au_src)], a_local[torch.cat(au_dst)], len(anime)))
        eli = torch.stack([u_local[seeds[0]], a_local[seeds[1]]])
        return Batch(users, anime, to_anime, to_user, eli, label)
