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


class Runner(torch.nn.Module):
    """Predicts ratings for edge_label_index with a model on a fixed training graph (a Module, so that
    DistributedDataParallel can wrap it)."""

    def __init__(self, model: Model, data, impl: str):
        super().__init__()
        self.model, self.impl = model, impl
        self.data = data  # plain attribute: the graph is input, not state
        self.fast = FastGraphSAGE(model, data) if impl == "fast" else None

    def forward(self, edge_label_index):
        if self.fast is not None:
            return self.fast(edge_label_index)
        return self.model(self.data.x_dict, self.data.edge_index_dict, edge_label_index)

    def encode(self):
        if self.fast is not None:
            return self.fast.encode()
        return self.model.encode(self.data.x_dict, self.data.edge_index_dict)


def build(inputs: GraphInputs, cfg, device: str):
    """Model + runner on ``device``.

    Full batch (``train.batch_size: 0``, the paper): the to_hetero Model on the HeteroData; its lazy
    (-1, -1) layers are materialised by one reference pass over a one-edge graph with the real feature
    widths (a pass over the whole graph would gather an n_users-wide identity row per edge).
    Mini-batch (``batch_size > 0``): the same function as :class:`EmbeddingSAGE` (identity user features as
    embeddings), run on the whole training graph by :class:`FullGraphRunner` for evaluation.
    """
    set_seed(cfg.seed)
    if cfg.batch_size > 0:
        from hybridrec.minibatch import EmbeddingSAGE, FullGraphRunner  # noqa: PLC0415

        if cfg.conv != "sage":
            raise ValueError("mini-batch training implements SAGEConv (the paper's operator) only")
        model = EmbeddingSAGE(inputs.n_users, inputs.anime_x.size(1), cfg.hidden).to(device)
        eli = inputs.edges["train"][0].to(device)
        return model, FullGraphRunner(model, inputs.anime_x.to(device), eli, inputs.n_users)
    data = train_graph(inputs, user_identity=cfg.impl == "reference").to(device)
    model = Model(cfg.hidden, data.metadata(), conv=cfg.conv).to(device)
    one = torch.zeros(2, 1, dtype=torch.long, device=device)
    x_dict = {"user": torch.zeros(1, inputs.n_users, device=device), "anime": data["anime"].x[:1]}
    edge_dict = {et: one for et in data.edge_types}
    with torch.no_grad():
        model(x_dict, edge_dict, one)
    return model, Runner(model, data, cfg.impl)


def weighted_mse(pred, target, weight=None):
    if weight is None:
        return torch.nn.functional.mse_loss(pred, target)
    return (weight[target.long()] * (pred - target) ** 2).mean()


def fit(inputs: GraphInputs, cfg, device: str, progress: bool = True) -> Trained:
    """Train for ``cfg.epochs`` epochs; keep the weights of the best validation RMSE.

    One epoch is one full-batch step (``train.batch_size: 0``, the paper) or a pass over the training
    ratings in mini-batches with sampled neighbourhoods. Under torchrun each process takes its shard of
    the training ratings and DistributedDataParallel averages the gradients.
    """
    from hybridrec import distributed  # noqa: PLC0415

    model, runner = build(inputs, cfg, device)
    rank, _ = distributed.world()
    train_eli, train_y = (t.to(device) for t in distributed.shard(*inputs.edges["train"]))
    val_eli, val_y = (t.to(device) for t in inputs.edges["val"])
    w = metrics.class_weights(inputs.edges["train"][1].numpy())
    weight = torch.tensor(w, dtype=torch.float32, device=device) if cfg.weighted_loss else None
    minibatch = cfg.batch_size > 0
    trainable = distributed.wrap(model if minibatch else runner, device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    if minibatch:
        from hybridrec.sampling import LinkNeighborSampler  # noqa: PLC0415

        sampler = LinkNeighborSampler(train_eli, train_y, inputs.n_users, inputs.n_anime,
                                      cfg.num_neighbors, cfg.batch_size, shuffle=True, seed=cfg.seed + rank,
                                      graph_edge_index=inputs.edges["train"][0].to(device))
        x_anime = inputs.anime_x.to(device)
    history, best_state, best = [], None, (float("inf"), -1)
    step_times = []
    t_start = time.perf_counter()
    bar = tqdm(range(1, cfg.epochs + 1), desc=f"train {cfg.conv}/{'minibatch' if minibatch else cfg.impl}",
               unit="epoch", disable=not progress or rank != 0, mininterval=1.0)
    lo, hi = metrics.RATING_MIN, metrics.RATING_MAX
    for epoch in bar:
        t0 = time.perf_counter()
        model.train()
        if minibatch:
            sq, n, loss_sum = 0.0, 0, 0.0
            for b in tqdm(sampler, desc=f"epoch {epoch}", unit="batch", leave=False,
                          disable=not progress or rank != 0 or len(sampler) < 50, mininterval=2.0):
                opt.zero_grad()
                pred = trainable(b, x_anime)
                loss = weighted_mse(pred, b.edge_label, weight)
                loss.backward()
                opt.step()
                sq += float(((pred.detach().clamp(lo, hi) - b.edge_label) ** 2).sum())
                n += len(b.edge_label)
                loss_sum += float(loss.detach()) * len(b.edge_label)
            loss_value, train_rmse = loss_sum / max(n, 1), (sq / max(n, 1)) ** 0.5
        else:
            opt.zero_grad()
            pred = trainable(train_eli)
            loss = weighted_mse(pred, train_y, weight)
            loss.backward()
            opt.step()
            loss_value = float(loss.detach())
            train_rmse = float(torch.sqrt(((pred.detach().clamp(lo, hi) - train_y) ** 2).mean()))
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        step_times.append(time.perf_counter() - t0)
        model.eval()
        with torch.no_grad():
            val_pred = runner(val_eli).clamp(lo, hi)
            val_rmse = float(torch.sqrt(((val_pred - val_y) ** 2).mean()))
        history.append({"epoch": epoch, "loss": loss_value, "train_rmse": train_rmse, "val_rmse": val_rmse})
        if val_rmse < best[0]:
            best = (val_rmse, epoch)
            best_state = copy.deepcopy(model.state_dict())
        bar.set_postfix(loss=f"{loss_value:.3f}", val_rmse=f"{val_rmse:.3f}", refresh=False)
    train_seconds = time.perf_counter() - t_start
    model.load_state_dict(best_state)
    model.eval()
    return Trained(model, runner, history, best[1], best[0], w, train_seconds, float(np.median(step_times)), device)


@torch.no_grad()
def predict(runner: Runner, edge_label_index, batch: int = 1 << 21) -> np.ndarray:
    """Raw (unclamped) predictions for the given (user_idx, anime_idx) pairs: the graph is encoded once,
    the pairs are decoded in batches (bounded memory for tens of millions of pairs)."""
    runner.model.eval()
    device = next(runner.model.parameters()).device
    z_user, z_anime = runner.encode()
    dec = runner.model.decoder
    out = [dec.forward_projected(z_user, z_anime, edge_label_index[:, s:s + batch].to(device)).float().cpu()
           for s in range(0, edge_label_index.size(1), batch)]
    return torch.cat(out).numpy() if out else np.zeros(0, np.float32)


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
