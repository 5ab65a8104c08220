"""The models of the comparison, built from ``compare.models`` in params.yaml.

Every entry has a ``kind``:

* ``global_mean``: the mean training rating;
* ``surprise``: ``algo`` (a Surprise class name), fixed ``options`` and an optional ``search`` space;
* ``gnn``: the paper's model with ``train`` overrides of the `train` section (none = the paper preset),
  an optional ``search`` space, or ``base: <name>`` to start from another GNN entry's *tuned* settings
  (an ablation changes one thing, everything else identical).

A ``search`` maps option names to lists of values; each tunable model gets the same budget of
``compare.tuning_trials`` configurations drawn without replacement from its grid (seeded).
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import time

import numpy as np
import pandas as pd

from hybridrec.errors import ParamsError
from hybridrec.params import Train, check_type
from hybridrec.predictors import GlobalMean, RatingPredictor, SplitData

log = logging.getLogger("hybridrec")
KINDS = {"global_mean": {"label"}, "surprise": {"label", "algo", "options", "search"},
         "gnn": {"label", "train", "search", "base"}}


def check_spec(name: str, spec) -> dict:
    key = f"compare.models.{name}"
    if not isinstance(spec, dict) or spec.get("kind") not in KINDS:
        raise ParamsError(f"params.yaml: {key}.kind must be one of {', '.join(KINDS)}")
    unknown = set(spec) - KINDS[spec["kind"]] - {"kind"}
    if unknown:
        raise ParamsError(f"params.yaml: unknown key {key}.{sorted(unknown)[0]} "
                          f"(a {spec['kind']} model takes: {', '.join(sorted(KINDS[spec['kind']]))})")
    for sub in ("options", "search", "train"):
        if sub in spec and not isinstance(spec[sub], dict):
            raise ParamsError(f"params.yaml: {key}.{sub} must be a mapping")
    for opt, values in spec.get("search", {}).items():
        if not isinstance(values, list) or not values:
            raise ParamsError(f"params.yaml: {key}.search.{opt} must be a non-empty list of values")
    if spec["kind"] == "gnn":
        fields = {f.name for f in dataclasses.fields(Train)}
        for opt in list(spec.get("train", {})) + list(spec.get("search", {})):
            if opt not in fields:
                raise ParamsError(f"params.yaml: {key}: unknown train option {opt!r} (known: {', '.join(sorted(fields))})")
    if spec["kind"] == "surprise" and spec.get("algo") is None:
        raise ParamsError(f"params.yaml: {key}.algo is required (a Surprise algorithm, e.g. SVD)")
    return spec


def check_models(models: dict) -> None:
    for name, spec in models.items():
        check_spec(name, spec)
        base = spec.get("base")
        if base is not None and (base not in models or models[base]["kind"] != "gnn"):
            raise ParamsError(f"params.yaml: compare.models.{name}.base = {base!r}: must name a gnn model")


def label_of(name: str, spec: dict) -> str:
    return spec.get("label", name)


def grid(search: dict) -> list[dict]:
    keys = sorted(search)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(search[k] for k in keys))]


def sample_trials(search: dict, n: int, seed: int) -> list[dict]:
    """``n`` distinct configurations drawn from the grid (all of them when the grid is smaller)."""
    g = grid(search)
    if len(g) <= n:
        return g
    pick = np.random.default_rng(seed).choice(len(g), size=n, replace=False)
    return [g[i] for i in sorted(pick)]


def gnn_config(base_train: Train, overrides: dict, name: str) -> Train:
    raw = {**dataclasses.asdict(base_train), **overrides}
    try:
        return check_type(raw, Train, "train")
    except ParamsError as e:
        raise ParamsError(f"{e} (in compare.models.{name})") from None


class GraphSAGEPredictor(RatingPredictor):
    """The paper's GNN (any variant) behind the shared interface."""

    def __init__(self, cfg: Train, label: str):
        self.cfg, self.name = cfg, label

    def settings(self) -> dict:
        return dataclasses.asdict(self.cfg)

    def fit(self, data: SplitData, seed: int):
        from hybridrec.features import resolve_device  # noqa: PLC0415
        from hybridrec.training import fit  # noqa: PLC0415

        cfg = dataclasses.replace(self.cfg, seed=seed)
        self.inputs = data.graph_inputs(tuple(cfg.features))
        self.trained = fit(self.inputs, cfg, resolve_device(cfg.device), progress=False)
        return self

    def score(self, users, anime):
        import torch  # noqa: PLC0415 (keeps `import hybridrec.params` light)

        from hybridrec.training import predict  # noqa: PLC0415

        eli = torch.as_tensor(np.stack([np.asarray(users), np.asarray(anime)]), dtype=torch.long)
        return predict(self.trained.runner, eli)

    def score_matrix(self, n_users, n_anime):
        import torch  # noqa: PLC0415

        with torch.no_grad():
            return self._score_matrix(n_users, n_anime)

    def _score_matrix(self, n_users, n_anime):
        import torch  # noqa: PLC0415

        runner = self.trained.runner
        z_user, z_anime = runner.encode()
        dec = runner.model.decoder
        h = z_user.size(1)
        pu = torch.addmm(dec.lin1.bias, z_user, dec.lin1.weight[:, :h].t())
        pa = z_anime @ dec.lin1.weight[:, h:].t()
        out = np.empty((n_users, n_anime), dtype=np.float64)
        step = max(1, (1 << 24) // (n_anime * h))
        for s in range(0, n_users, step):
            block = dec.lin2((pu[s:s + step, None, :] + pa[None, :, :]).relu()).squeeze(-1)
            out[s:s + step] = block.cpu().numpy()
        return out


def build(name: str, spec: dict, train: Train, tuned: dict | None = None, models: dict | None = None,
          override: dict | None = None) -> RatingPredictor:
    """A fresh predictor for ``compare.models[name]``; ``tuned`` = chosen settings per tuned model."""
    tuned = tuned or {}
    kind, label = spec["kind"], label_of(name, spec)
    if kind == "global_mean":
        return GlobalMean()
    if kind == "surprise":
        from baselines.surprise_models import SurprisePredictor  # noqa: PLC0415

        options = {**spec.get("options", {}), **tuned.get(name, {}), **(override or {})}
        return SurprisePredictor(spec["algo"], options, label)
    overrides = {}
    if spec.get("base"):
        base = models[spec["base"]]
        overrides.update(base.get("train", {}))
        overrides.update(tuned.get(spec["base"], {}))
    overrides.update(spec.get("train", {}))
    overrides.update(tuned.get(name, {}))
    overrides.update(override or {})
    return GraphSAGEPredictor(gnn_config(train, overrides, name), label)


def tune(name: str, spec: dict, train: Train, data: SplitData, trials: int, seed: int, models: dict) -> dict:
    """Seeded random search on the validation set; returns trials and the chosen settings."""
    results = []
    for i, cfg in enumerate(sample_trials(spec["search"], trials, seed)):
        t0 = time.perf_counter()
        model = build(name, spec, train, models=models, override=cfg).fit(data, seed)
        val = model.test(data.val)
        results.append({"params": cfg, "val_rmse": val["rmse"], "seconds": round(time.perf_counter() - t0, 2)})
        log.info("tune %s trial %d/%d %s: val RMSE %.4f", name, i + 1, min(trials, len(grid(spec["search"]))),
                 cfg, val["rmse"])
    best = min(results, key=lambda r: r["val_rmse"])
    return {"trials": results, "best": best["params"], "best_val_rmse": best["val_rmse"]}


def split_data(paths, split_df: pd.DataFrame | None = None) -> SplitData:
    """The shared split as SplitData, with lazily loaded (and cached) graph inputs for the GNNs."""
    from hybridrec.graph import load_inputs, read_split  # noqa: PLC0415

    if split_df is None:
        split_df, _ = read_split(paths)
    cache = {}

    def graph_inputs(features):
        key = tuple(features)
        if key not in cache:
            cache[key] = load_inputs(paths, list(key))
        return cache[key]

    parts = {s: split_df.loc[split_df["split"] == s].reset_index(drop=True) for s in ("train", "val", "test")}
    return SplitData(parts["train"], parts["val"], parts["test"], int(split_df["user_idx"].max()) + 1,
                     int(split_df["anime_idx"].max()) + 1, graph_inputs)
