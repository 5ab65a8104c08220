"""The models of the comparison: build any ``compare.models`` entry through its family
(:mod:`hybridrec.registry`), tune it on validation, and read the shared split once for all of them.

A ``search`` maps option names to lists of values; each tunable model gets the same budget of
``compare.tuning_trials`` configurations drawn without replacement from its grid (seeded).
"""

from __future__ import annotations

import itertools
import logging
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hybridrec import registry
from hybridrec.params import Train
from hybridrec.predictors import RatingPredictor, SplitData

log = logging.getLogger("hybridrec")


@dataclass(frozen=True)
class Context:
    """What a family needs to build a predictor: the `train` section, every spec (for ``base``) and the
    settings tuning chose (model name -> settings)."""

    train: Train
    models: dict  # name -> ModelSpec
    tuned: dict = field(default_factory=dict)


def build(name: str, ctx: Context, override: dict | None = None) -> RatingPredictor:
    """A fresh predictor for ``compare.models[name]``."""
    spec = ctx.models[name]
    return registry.family(spec.kind).from_spec(spec, ctx, override)


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


def tune(name: str, ctx: Context, data: SplitData, trials: int, seed: int) -> dict:
    """Seeded random search on the validation set; returns trials and the chosen settings."""
    spec = ctx.models[name]
    results = []
    configs = sample_trials(spec.search, trials, seed)
    for i, cfg in enumerate(configs):
        t0 = time.perf_counter()
        model = build(name, ctx, override=cfg).fit(data, seed)
        val = model.test(data.val)
        results.append({"params": cfg, "val_rmse": val["rmse"], "seconds": round(time.perf_counter() - t0, 2)})
        log.info("tune %s trial %d/%d %s: val RMSE %.4f", name, i + 1, len(configs), cfg, val["rmse"])
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

    def item_text():
        if "text" not in cache:
            from hybridrec import io  # noqa: PLC0415

            anime = io.read_parquet(paths.subset / "anime.parquet", ["anime_idx", "anime_id"])
            synopsis = io.read_parquet(paths.preprocessed / "anime.parquet", ["anime_id", "synopsis"])
            text = anime.merge(synopsis, on="anime_id", how="left").sort_values("anime_idx")
            cache["text"] = text["synopsis"].fillna("").tolist()
        return cache["text"]

    parts = {s: split_df.loc[split_df["split"] == s].reset_index(drop=True) for s in ("train", "val", "test")}
    return SplitData(parts["train"], parts["val"], parts["test"], int(split_df["user_idx"].max()) + 1,
                     int(split_df["anime_idx"].max()) + 1, graph_inputs, item_text)
