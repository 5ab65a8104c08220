"""Inference with a trained GNN: ratings for given pairs, the full score matrix, and top-k lists.

Every function encodes the graph once and decodes with :meth:`EdgeDecoder.project` (each node projected
once), in batches, so memory stays bounded for tens of millions of pairs or a large catalogue.
"""

from __future__ import annotations

import numpy as np
import torch


def _projected(runner):
    runner.model.eval()
    z_user, z_anime = runner.encode()
    dec = runner.model.decoder
    pu, pa = dec.project(z_user, z_anime)
    return dec, pu, pa


@torch.no_grad()
def predict(runner, edge_label_index, batch: int = 1 << 21) -> np.ndarray:
    """Raw (unclamped) predictions for the (user_idx, anime_idx) columns of ``edge_label_index``."""
    dec, pu, pa = _projected(runner)
    out = []
    for s in range(0, edge_label_index.size(1), batch):
        row, col = edge_label_index[:, s:s + batch].to(pu.device)
        out.append(dec.combine_pairs(pu, pa, row, col).float().cpu())
    return torch.cat(out).numpy() if out else np.zeros(0, np.float32)


def _user_blocks(pu, pa, max_elements: int):
    """Row blocks of users such that a [block, n_anime, h] intermediate stays below ``max_elements``."""
    return max(1, max_elements // (pa.size(0) * pu.size(1)))


@torch.no_grad()
def score_matrix(runner, max_elements: int = 1 << 24) -> np.ndarray:
    """[n_users, n_anime] raw predicted ratings (for full-ranking metrics)."""
    dec, pu, pa = _projected(runner)
    compiled = dec.combine_all(pu, pa)
    if compiled is not None:
        return compiled.numpy().astype(np.float64)
    out = np.empty((pu.size(0), pa.size(0)), dtype=np.float64)
    step = _user_blocks(pu, pa, max_elements)
    for s in range(0, pu.size(0), step):
        out[s:s + step] = dec.combine(pu[s:s + step, None, :], pa[None, :, :]).cpu().numpy()
    return out


@torch.no_grad()
def topk(runner, user_idx, exclude: dict, k: int, max_elements: int = 1 << 25):
    """Top-k anime per user by predicted rating, excluding ``exclude[user] = set(anime_idx)`` (already rated).

    Returns a list of (anime_idx array, predicted rating array) per user, in ``user_idx`` order. Users are
    scored in batches against every anime, so no full user x anime matrix is held at once.
    """
    dec, pu, pa = _projected(runner)
    user_idx = np.asarray(user_idx)
    batch = _user_blocks(pu, pa, max_elements)
    # exclusions as flat (row in user_idx, anime) arrays, so each batch masks them in one indexing op
    row_of = {int(u): r for r, u in enumerate(user_idx)}
    ex_rows, ex_cols = [], []
    for u, seen in exclude.items():
        r = row_of.get(int(u))
        if r is not None and seen:
            ex_rows.append(np.full(len(seen), r))
            ex_cols.append(np.fromiter(seen, dtype=np.int64, count=len(seen)))
    ex_rows = torch.as_tensor(np.concatenate(ex_rows) if ex_rows else np.zeros(0, np.int64), device=pu.device)
    ex_cols = torch.as_tensor(np.concatenate(ex_cols) if ex_cols else np.zeros(0, np.int64), device=pu.device)
    out = []
    for start in range(0, len(user_idx), batch):
        ub = torch.as_tensor(user_idx[start:start + batch], device=pu.device)
        s = dec.combine(pu[ub][:, None, :], pa[None, :, :])  # [B, n_anime]
        sel = (ex_rows >= start) & (ex_rows < start + len(ub))
        s[ex_rows[sel] - start, ex_cols[sel]] = float("-inf")
        top = torch.topk(s, min(k, s.size(1)), dim=1)
        values, indices = top.values.cpu().numpy(), top.indices.cpu().numpy()
        for row in range(len(ub)):
            keep = np.isfinite(values[row])
            out.append((indices[row][keep], values[row][keep]))
    return out
