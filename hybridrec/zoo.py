"""The models of the comparison: build any ``compare.models`` entry through its family
(:mod:`hybridrec.registry`), tune it on validation, and read the shared split once for all of them.

A ``search`` maps option names to a list of choices or a range (:class:`~hybridrec.params.SearchDim`); each
tunable model gets the same budget of ``compare.tuning_trials`` fits, chosen by Optuna's seeded TPE sampler
on validation RMSE.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from hybridrec import registry
from hybridrec.params import Params
from hybridrec.predictors import RatingPredictor, SplitData

log = logging.getLogger("hybridrec")


@dataclass(frozen=True)
class Context:
    """What a family needs to build a predictor: the params (its base section, e.g. `train` or `hybrid`, and
    every spec, for ``base``) and the settings tuning chose (model name -> settings)."""

    params: Params
    tuned: dict = field(default_factory=dict)

    @property
    def train(self):
        return self.params.train

    @property
    def hybrid(self):
        return self.params.hybrid

    @property
    def models(self) -> dict:
        return self.params.compare.models


def build(name: str, ctx: Context, override: dict | None = None) -> RatingPredictor:
    """A fresh predictor for ``compare.models[name]``."""
    spec = ctx.models[name]
    return registry.family(spec.kind).from_spec(spec, ctx, override)


def startup_trials(budget: int) -> int:
    """Random trials before TPE models the space: a third of the budget, between 3 and 10."""
    return min(10, max(3, budget // 3))


def tune(name: str, ctx: Context, data: SplitData, trials: int, seed: int) -> dict:
    """Optuna's TPE (seeded) over ``compare.models[name].search`` with a budget of ``trials`` fits, each
    scored by validation RMSE; returns every trial, the chosen settings and the options chosen on an edge of
    their space (a hint that the space is too narrow)."""
    import optuna  # noqa: PLC0415

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    spec = ctx.models[name]
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup_trials(trials))
    study = optuna.create_study(direction="minimize", sampler=sampler)
    # the first trial is the model as it stands (the library's defaults, the entry's options, clipped into the
    # space): tuning never ends worse than not tuning
    known = {**registry.family(spec.kind).defaults(spec), **build(name, ctx).settings()}
    start = {opt: dim.start(known[opt]) for opt, dim in spec.search.items() if opt in known}
    start = {k: v for k, v in start.items() if v is not None}
    if start:
        study.enqueue_trial(start)
    results = []

    def objective(trial):
        cfg = {opt: dim.suggest(trial, opt) for opt, dim in sorted(spec.search.items())}
        t0 = time.perf_counter()
        val = build(name, ctx, override=cfg).fit(data, seed).test(data.val, data.scale)["rmse"]
        results.append({"trial": trial.number, "params": cfg, "val_rmse": val,
                        "seconds": round(time.perf_counter() - t0, 2)})
        log.info("tune %s trial %d/%d %s: val RMSE %.4f", name, trial.number + 1, trials, cfg, val)
        return val if np.isfinite(val) else 1e9  # a diverged fit is the worst trial, not a failed one

    study.optimize(objective, n_trials=trials)
    finite = [r for r in results if np.isfinite(r["val_rmse"])]
    best = min(finite or results, key=lambda r: r["val_rmse"] if np.isfinite(r["val_rmse"]) else np.inf)
    edges = {opt: e for opt, dim in spec.search.items() if (e := dim.edge(best["params"][opt]))}
    return {"sampler": f"TPE (seed {seed}; first trial: the defaults {start}; then {startup_trials(trials) - 1} "
                       "random trials)", "budget": trials,
            "trials": results, "best": best["params"], "best_val_rmse": best["val_rmse"], "edges": edges}


def split_data(paths, protocol: str = "random") -> SplitData:
    """The shared split of ``protocol`` as SplitData, with lazily loaded (and cached) graph inputs and texts."""
    from hybridrec.graph import load_inputs, read_split  # noqa: PLC0415

    split_df, _ = read_split(paths, protocol)
    cache = {}

    def graph_inputs(features):
        key = tuple(features)
        if key not in cache:
            cache[key] = load_inputs(paths, list(key), protocol)
        return cache[key]

    def item_text():
        if "text" not in cache:
            from hybridrec import io  # noqa: PLC0415

            anime = io.read_parquet(paths.subset / "anime.parquet", ["anime_idx", "anime_id"])
            synopsis = io.read_parquet(paths.preprocessed / "anime.parquet", ["anime_id", "synopsis"])
            text = anime[["anime_idx", "anime_id"]].merge(synopsis[["anime_id", "synopsis"]], on="anime_id",
                                                          how="left").sort_values("anime_idx")
            cache["text"] = text["synopsis"].fillna("").tolist()
        return cache["text"]

    from hybridrec.metrics import read_scale  # noqa: PLC0415

    parts = {s: split_df.loc[split_df["split"] == s].reset_index(drop=True) for s in ("train", "val", "test")}
    return SplitData(parts["train"], parts["val"], parts["test"], int(split_df["user_idx"].max()) + 1,
                     int(split_df["anime_idx"].max()) + 1, graph_inputs, item_text, read_scale(paths))
