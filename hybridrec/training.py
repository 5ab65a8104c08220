"""Training the GraphSAGE rating model: full batch, Adam, (weighted) MSE, best-validation checkpoint."""

from __future__ import annotations

import copy
import logging
import random
import time
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from hybridrec import metrics
from hybridrec.graph import GraphInputs, train_graph
from hybridrec.model import FastGraphSAGE, Model

log = logging.getLogger("hybridrec")
warnings.filterwarnings("ignore", message=".*[Ss]parse CSR tensor support is in beta.*")


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@dataclass
class Trained:
    model: Model
    runner: object  # callable(edge_label_index) -> predictions (fast or reference formulation)
    history: list  # one dict per epoch
    best_epoch: int
    best_val_rmse: float
    weights: np.ndarray  # rating -> loss weight
    train_seconds: float
    epoch_seconds: float  # median time of one optimisation step (forward + backward + step)
    device: str


class Runner:
    """Predicts ratings for edge_label_index with a model on a fixed training graph."""

    def __init__(self, model: Model, data, impl: str):
        self.model, self.data, self.impl = model, data, impl
        self.fast = FastGraphSAGE(model, data) if impl == "fast" else None

    def __call__(self, edge_label_index):
        if self.fast is not None:
            return self.fast(edge_label_index)
        return self.model(self.data.x_dict, self.data.edge_index_dict, edge_label_index)

    def encode(self):
        if self.fast is not None:
            return self.fast.encode()
        return self.model.encode(self.data.x_dict, self.data.edge_index_dict)


def build(inputs: GraphInputs, cfg, device: str):
    """Model + runner on ``device``. The lazy (-1, -1) layers are materialised by one reference pass over a
    one-edge graph with the real feature widths (a pass over the whole graph would gather an
    n_users-wide identity row per edge, which is what the fast path exists to avoid)."""
    set_seed(cfg.seed)
    data = train_graph(inputs).to(device)
    model = Model(cfg.hidden, data.metadata(), conv=cfg.conv).to(device)
    one = torch.zeros(2, 1, dtype=torch.long, device=device)
    x_dict = {"user": data["user"].x[:1], "anime": data["anime"].x[:1]}
    edge_dict = {et: one for et in data.edge_types}
    with torch.no_grad():
        model(x_dict, edge_dict, one)
    return model, Runner(model, data, cfg.impl)


def weighted_mse(pred, target, weight=None):
    if weight is None:
        return torch.nn.functional.mse_loss(pred, target)
    return (weight[target.long()] * (pred - target) ** 2).mean()


def fit(inputs: GraphInputs, cfg, device: str, progress: bool = True) -> Trained:
    """Train for ``cfg.epochs`` full-batch epochs; keep the weights of the best validation RMSE."""
    model, runner = build(inputs, cfg, device)
    train_eli, train_y = (t.to(device) for t in inputs.edges["train"])
    val_eli, val_y = (t.to(device) for t in inputs.edges["val"])
    w = metrics.class_weights(inputs.edges["train"][1].numpy())
    weight = torch.tensor(w, dtype=torch.float32, device=device) if cfg.weighted_loss else None
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    history, best_state, best = [], None, (float("inf"), -1)
    step_times = []
    t_start = time.perf_counter()
    bar = tqdm(range(1, cfg.epochs + 1), desc=f"train {cfg.conv}/{cfg.impl}", unit="epoch", disable=not progress,
               mininterval=1.0)
    for epoch in bar:
        t0 = time.perf_counter()
        model.train()
        opt.zero_grad()
        pred = runner(train_eli)
        loss = weighted_mse(pred, train_y, weight)
        loss.backward()
        opt.step()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        step_times.append(time.perf_counter() - t0)
        model.eval()
        with torch.no_grad():
            val_pred = runner(val_eli).clamp(metrics.RATING_MIN, metrics.RATING_MAX)
            val_rmse = float(torch.sqrt(((val_pred - val_y) ** 2).mean()))
            train_rmse = float(torch.sqrt(((pred.detach().clamp(metrics.RATING_MIN, metrics.RATING_MAX) - train_y) ** 2).mean()))
        history.append({"epoch": epoch, "loss": float(loss.detach()), "train_rmse": train_rmse, "val_rmse": val_rmse})
        if val_rmse < best[0]:
            best = (val_rmse, epoch)
            best_state = copy.deepcopy(model.state_dict())
        bar.set_postfix(loss=f"{float(loss.detach()):.3f}", val_rmse=f"{val_rmse:.3f}", refresh=False)
    train_seconds = time.perf_counter() - t_start
    model.load_state_dict(best_state)
    model.eval()
    return Trained(model, runner, history, best[1], best[0], w, train_seconds, float(np.median(step_times)), device)


@torch.no_grad()
def predict(runner: Runner, edge_label_index) -> np.ndarray:
    """Raw (unclamped) predictions for the given (user_idx, anime_idx) pairs."""
    runner.model.eval()
    device = next(runner.model.parameters()).device
    return runner(edge_label_index.to(device)).float().cpu().numpy()


@torch.no_grad()
def score_matrix_topk(runner: Runner, user_idx, exclude: dict, k: int, max_elements: int = 1 << 25):
    """Top-k anime per user by predicted rating, excluding ``exclude[user] = set(anime_idx)`` (already rated).

    Returns a list of (anime_idx array, predicted rating array) per user, in ``user_idx`` order.
    Users are scored in batches against every anime, so no full user x anime matrix is held at once.
    """
    runner.model.eval()
    z_user, z_anime = runner.encode()
    dec = runner.model.decoder
    h = z_user.size(1)
    pu = torch.addmm(dec.lin1.bias, z_user, dec.lin1.weight[:, :h].t())
    pa = z_anime @ dec.lin1.weight[:, h:].t()
    user_idx = np.asarray(user_idx)
    batch = max(1, max_elements // (pa.size(0) * h))  # bounds the [batch, n_anime, h] intermediate
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
        s = dec.lin2((pu[ub][:, None, :] + pa[None, :, :]).relu()).squeeze(-1)  # [B, n_anime]
        sel = (ex_rows >= start) & (ex_rows < start + len(ub))
        s[ex_rows[sel] - start, ex_cols[sel]] = float("-inf")
        top = torch.topk(s, min(k, s.size(1)), dim=1)
        values, indices = top.values.cpu().numpy(), top.indices.cpu().numpy()
        for row in range(len(ub)):
            keep = np.isfinite(values[row])
            out.append((indices[row][keep], values[row][keep]))
    return out


def save_checkpoint(path, trained: Trained, cfg, inputs: GraphInputs) -> None:
    from hybridrec import io  # noqa: PLC0415
    from hybridrec.params import as_dict  # noqa: PLC0415

    state = {k: v.detach().cpu() for k, v in trained.model.state_dict().items()}
    payload = {"state_dict": state, "train": as_dict(cfg), "best_epoch": trained.best_epoch,
               "best_val_rmse": trained.best_val_rmse, "n_users": inputs.n_users, "n_anime": inputs.n_anime,
               "anime_x_dim": int(inputs.anime_x.size(1)), "split_sha256": inputs.split_sha256,
               "weights": trained.weights.tolist()}
    with io.atomic_path(path, suffix=".pt") as tmp:
        torch.save(payload, tmp)


def load_checkpoint(path, inputs: GraphInputs, device: str):
    """Rebuild the trained model from a checkpoint on the same inputs; returns (runner, checkpoint)."""
    from types import SimpleNamespace  # noqa: PLC0415

    from hybridrec.errors import DataError  # noqa: PLC0415

    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise DataError(path, "model checkpoint not found (run `dvc repro train`)") from None
    except Exception as e:
        raise DataError(path, f"unreadable checkpoint ({e})") from None
    if (ckpt["n_users"], ckpt["n_anime"], ckpt["anime_x_dim"]) != (inputs.n_users, inputs.n_anime,
                                                                     int(inputs.anime_x.size(1))):
        raise DataError(path, "checkpoint does not match the current graph (re-run `dvc repro`)")
    cfg = SimpleNamespace(**ckpt["train"])
    model, runner = build(inputs, cfg, device)
    model.load_state_dict(ckpt["state_dict"])
    model.eval()
    return runner, ckpt
