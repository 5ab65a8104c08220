"""Training the GraphSAGE rating model: full batch, Adam, (weighted) MSE, best-validation checkpoint."""

from __future__ import annotations

import copy
import logging
import random
import time
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from hybridrec import metrics
from hybridrec.graph import GraphInputs, train_graph
from hybridrec.model import FastGraphSAGE, Model
from hybridrec.params import Train

log = logging.getLogger("hybridrec")
SHARE_VALIDATION = True  # validation predictions from the next epoch's forward where they are the same (fit())


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


def build(inputs: GraphInputs, cfg: Train, device: str):
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
        model = EmbeddingSAGE(inputs.n_users, inputs.anime_x.size(1), cfg.hidden, cfg.dropout).to(device)
        eli = inputs.edges["train"][0].to(device)
        return model, FullGraphRunner(model, inputs.anime_x.to(device), eli, inputs.n_users)
    data = train_graph(inputs, user_identity=cfg.impl == "reference").to(device)
    model = Model(cfg.hidden, data.metadata(), conv=cfg.conv, dropout=cfg.dropout).to(device)
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


def _full_batch_epoch(trainable, opt, eli, y, weight, scale):
    """One optimisation step on every training rating (the paper). Returns (loss, train RMSE)."""
    opt.zero_grad()
    return _step(trainable(eli), opt, y, weight, scale)


def _step(pred, opt, y, weight, scale):
    """The loss of the training ratings' predictions ``pred``, its backward and the optimiser's step. Returns
    (loss, train RMSE)."""
    loss = weighted_mse(pred, y, weight)
    loss.backward()
    opt.step()
    return float(loss.detach()), float(torch.sqrt(((pred.detach().clamp(scale.lo, scale.hi) - y) ** 2).mean()))


def _minibatch_epoch(trainable, opt, sampler, x_anime, weight, scale, progress: bool, epoch: int):
    """One pass over the training ratings in mini-batches with sampled neighbourhoods. Returns (loss, RMSE)."""
    sq, n, loss_sum = 0.0, 0, 0.0
    for b in tqdm(sampler, desc=f"epoch {epoch}", unit="batch", leave=False,
                  disable=not progress or len(sampler) < 50, mininterval=2.0):
        opt.zero_grad()
        pred = trainable(b, x_anime)
        loss = weighted_mse(pred, b.edge_label, weight)
        loss.backward()
        opt.step()
        sq += float(((pred.detach().clamp(scale.lo, scale.hi) - b.edge_label) ** 2).sum())
        n += len(b.edge_label)
        loss_sum += float(loss.detach()) * len(b.edge_label)
    return loss_sum / max(n, 1), (sq / max(n, 1)) ** 0.5


def fit(inputs: GraphInputs, cfg: Train, device: str, progress: bool = True, on_val=None) -> Trained:
    """Train for up to ``cfg.epochs`` epochs; keep the weights of the best validation RMSE (evaluated every
    ``cfg.eval_every`` epochs; stop early after ``cfg.patience`` epochs without a better one, if > 0).

    One epoch is one full-batch step (``train.batch_size: 0``, the paper) or a pass over the training
    ratings in mini-batches with sampled neighbourhoods. Under torchrun each process takes its shard of
    the training ratings and DistributedDataParallel averages the gradients. ``on_val(epoch, best val RMSE)``
    is called after every validation (tuning's pruner; it may raise to stop the fit).
    """
    from hybridrec import distributed  # noqa: PLC0415

    model, runner = build(inputs, cfg, device)
    rank, _ = distributed.world()
    progress = progress and rank == 0
    train_eli, train_y = (t.to(device) for t in distributed.shard(*inputs.edges["train"]))
    val_eli, val_y = (t.to(device) for t in inputs.edges["val"])
    scale = inputs.scale
    w = metrics.class_weights(inputs.edges["train"][1].numpy(), scale)
    weight = torch.tensor(w, dtype=torch.float32, device=device) if cfg.weighted_loss else None
    minibatch = cfg.batch_size > 0
    trainable = distributed.wrap(model if minibatch else runner, device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    if minibatch:
        from hybridrec.sampling import LinkNeighborSampler  # noqa: PLC0415

        sampler = LinkNeighborSampler(train_eli, train_y, inputs.n_users, inputs.n_anime,
                                      cfg.num_neighbors, cfg.batch_size, shuffle=True, seed=cfg.seed + rank,
                                      graph_edge_index=inputs.edges["train"][0].to(device))
        x_anime = inputs.anime_x.to(device)
    history, best_state, best = [], None, (float("inf"), -1)
    step_times = []
    # Validating the weights of epoch t needs the encoder at those weights: the forward of epoch t + 1 computes
    # exactly that (without dropout, training mode computes what evaluation does), so it also rates the validation
    # pairs, bit for bit what a separate pass gives (tested), and an evaluated epoch costs no second forward.
    shared = SHARE_VALIDATION and not minibatch and runner.fast is not None and cfg.dropout == 0 \
        and distributed.world()[1] == 1
    due = None  # the epoch whose validation the next forward makes

    def validate(epoch, val_pred) -> bool:
        """Record the validation of ``epoch`` (the model's weights now); whether training stops here."""
        nonlocal best, best_state
        row = history[epoch - 1]
        row["val_rmse"] = val_rmse = float(torch.sqrt(((val_pred.clamp(scale.lo, scale.hi) - val_y) ** 2).mean()))
        if val_rmse < best[0]:
            best = (val_rmse, epoch)
            best_state = copy.deepcopy(model.state_dict())
        bar.set_postfix(loss=f"{row['loss']:.3f}", val_rmse=f"{val_rmse:.3f}", refresh=False)
        if on_val is not None:
            on_val(epoch, best[0])
        return bool(cfg.patience and epoch - best[1] >= cfg.patience)

    t_start = time.perf_counter()
    bar = tqdm(range(1, cfg.epochs + 1), desc=f"train {cfg.conv}/{'minibatch' if minibatch else cfg.impl}",
               unit="epoch", disable=not progress, mininterval=1.0)
    for epoch in bar:
        t0 = time.perf_counter()
        model.train()
        if minibatch:
            loss_value, train_rmse = _minibatch_epoch(trainable, opt, sampler, x_anime, weight, scale, progress, epoch)
        elif due is not None:
            opt.zero_grad()
            pred, val_pred = runner.fast.forward_with(train_eli, val_eli)
            if validate(due, val_pred):
                break
            due = None
            loss_value, train_rmse = _step(pred, opt, train_y, weight, scale)
        else:
            loss_value, train_rmse = _full_batch_epoch(trainable, opt, train_eli, train_y, weight, scale)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        step_times.append(time.perf_counter() - t0)
        history.append({"epoch": epoch, "loss": loss_value, "train_rmse": train_rmse, "val_rmse": float("nan")})
        if epoch % cfg.eval_every and epoch != cfg.epochs:
            continue
        if shared and epoch != cfg.epochs:
            due = epoch
            continue
        model.eval()
        with torch.no_grad():
            stop = validate(epoch, runner(val_eli))
        if stop:
            break
    train_seconds = time.perf_counter() - t_start
    if best_state is None:  # validation RMSE was never finite (a diverged run): keep the last weights
        best, best_state = (float("nan"), len(history)), model.state_dict()
    model.load_state_dict(best_state)
    model.eval()
    return Trained(model, runner, history, best[1], best[0], w, train_seconds, float(np.median(step_times)), device)
