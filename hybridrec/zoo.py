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


NOISE_SE = 2.0  # keep the defaults unless the chosen trial beats them by more than this many standard errors


PRUNERS = ("none", "median", "halving")


def make_pruner(kind: str, warmup: int | None):
    """The Optuna pruner of ``compare.tuning_pruner`` (None for a family that reports nothing): ``median``
    stops a trial whose best validation RMSE so far is worse than the median of the earlier trials' at the same
    epoch, after ``warmup`` epochs and 2 complete trials; ``halving`` is asynchronous successive halving with its
    first rung at ``warmup`` epochs (reduction factor 3)."""
    import optuna  # noqa: PLC0415

    if kind == "none" or warmup is None:
        return None
    if kind == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=warmup)
    return optuna.pruners.SuccessiveHalvingPruner(min_resource=warmup, reduction_factor=3)


def tune(name: str, ctx: Context, data: SplitData, trials: int, seed: int, confirm: int = 0,
         pruner: str = "none") -> dict:
    """Optuna's TPE (seeded) over ``compare.models[name].search`` with a budget of ``trials`` fits, each
    scored by validation RMSE; returns every trial, the chosen settings and the options chosen on an edge of
    their space (a hint that the space is too narrow).

    The first trial is the model as it stands (its defaults). A seeded model's last ``confirm`` fits of the
    budget re-evaluate the best search trials, the defaults among them, with a second training seed: the choice
    is the lowest two-seed mean, and the defaults stay when that gain is within ``NOISE_SE`` standard errors of
    the seed noise the pairs show (so a winner by a hair on one noisy fit does not decide). A deterministic
    model gets the whole budget as search trials (a second fit would repeat the first).

    ``pruner`` (``compare.tuning_pruner``): a family that reports its validation RMSE while it trains (the GNN and
    ours) has hopeless search trials stopped early (:func:`make_pruner`); a pruned trial counts against the
    budget like any other and is never chosen.
    """
    import optuna  # noqa: PLC0415

    # ERROR: a trial that raises is logged by Optuna at WARNING with its traceback before the exception reaches
    # the stage, which prints it as one line (a missing input, a model's own error)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    spec = ctx.models[name]
    deterministic = bool(build(name, ctx).deterministic)
    confirm = 0 if deterministic else min(confirm, trials - 1)
    n_search = trials - confirm
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup_trials(n_search))
    study = optuna.create_study(direction="minimize", sampler=sampler,
                                pruner=make_pruner(pruner, build(name, ctx).prune_after) or optuna.pruners.NopPruner())
    # the first trial is the model as it stands (the library's defaults, the entry's options, clipped into the
    # space): tuning never ends worse than not tuning
    known = {**registry.family(spec.kind).defaults(spec), **build(name, ctx).settings()}
    start = {opt: dim.start(known[opt]) for opt, dim in spec.search.items() if opt in known}
    start = {k: v for k, v in start.items() if v is not None}
    if start:
        study.enqueue_trial(start)
    results = []

    last = {}  # the latest value a trial reported

    def evaluate(cfg, fit_seed, trial=None):
        t0 = time.perf_counter()
        predictor = build(name, ctx, override=cfg)
        if trial is not None:
            def report(step, value):
                last["value"] = float(value) if np.isfinite(value) else 1e9
                trial.report(last["value"], step)
                if trial.should_prune():
                    raise optuna.TrialPruned(f"at epoch {step}")
            predictor.report = report
        val = predictor.fit(data, fit_seed).test(data.val, data.scale)["rmse"]
        return (val if np.isfinite(val) else float("inf")), round(time.perf_counter() - t0, 2)

    def objective(trial):
        cfg = {opt: dim.suggest(trial, opt) for opt, dim in sorted(spec.search.items())}
        t0 = time.perf_counter()
        try:
            val, seconds = evaluate(cfg, seed, trial)
        except optuna.TrialPruned as e:
            step = int(str(e).rsplit(" ", 1)[-1])
            results.append({"trial": trial.number, "params": cfg, "val_rmse": float("inf"), "pruned_at": step,
                            "pruned_val_rmse": last.get("value"),
                            "seconds": round(time.perf_counter() - t0, 2)})
            log.info("tune %s trial %d/%d %s: pruned at epoch %d", name, trial.number + 1, trials, cfg, step)
            raise
        results.append({"trial": trial.number, "params": cfg, "val_rmse": val, "seconds": seconds})
        log.info("tune %s trial %d/%d %s: val RMSE %.4f", name, trial.number + 1, trials, cfg, val)
        return val if np.isfinite(val) else 1e9  # a diverged fit is the worst trial, not a failed one

    study.optimize(objective, n_trials=n_search)
    ranked = sorted(results, key=lambda r: r["val_rmse"])
    chosen, selection = ranked[0], "lowest validation RMSE of the search"
    default = results[0] if start else None
    candidates = []
    if confirm:
        candidates = ranked[:confirm]
        if default is not None and default not in candidates and confirm >= 2 and np.isfinite(default["val_rmse"]):
            candidates[-1] = default
        candidates = [c for c in candidates if np.isfinite(c["val_rmse"])]
    for c in candidates:
        c["confirm_val_rmse"], c["confirm_seconds"] = evaluate(c["params"], seed + 1)
        c["mean_val_rmse"] = (c["val_rmse"] + c["confirm_val_rmse"]) / 2
        log.info("tune %s confirm trial %d (seed %d): val RMSE %.4f, mean %.4f", name, c["trial"], seed + 1,
                 c["confirm_val_rmse"], c["mean_val_rmse"])
    noise = None
    finite = [c for c in candidates if np.isfinite(c["mean_val_rmse"])]
    if finite:
        chosen = min(finite, key=lambda c: c["mean_val_rmse"])
        # seed noise of one fit from the pairs; a difference of two two-fit means has that standard error
        noise = float(np.sqrt(np.mean([(c["val_rmse"] - c["confirm_val_rmse"]) ** 2 / 2 for c in finite])))
        selection = f"lowest mean validation RMSE over 2 seeds of the best {len(candidates)} search trials"
        if default in finite and default is not chosen:
            gain = default["mean_val_rmse"] - chosen["mean_val_rmse"]
            if gain <= NOISE_SE * noise:
                selection = (f"the defaults kept: the best trial's gain {gain:.4f} is within {NOISE_SE:g} standard "
                             f"errors of the seed noise ({noise:.4f})")
                chosen = default
    best_val = chosen.get("mean_val_rmse", chosen["val_rmse"])
    pruned = [r for r in results if "pruned_at" in r]
    complete = [r["seconds"] for r in results if "pruned_at" not in r]
    edges = {opt: e for opt, dim in spec.search.items() if (e := dim.edge(chosen["params"][opt]))}
    return {"sampler": f"TPE (seed {seed}; first trial: the defaults {start}; then {startup_trials(n_search) - 1} "
                       f"random trials; {n_search} search + {len(candidates)} confirmation fits)", "budget": trials,
            "trials": results, "best": chosen["params"], "best_trial": chosen["trial"],
            "best_val_rmse": float(best_val), "selection": selection, "seed_noise": noise,
            "kept_defaults": default is not None and chosen is default, "edges": edges,
            "pruner": pruner if build(name, ctx).prune_after is not None else "none",
            "pruned": len(pruned), "pruned_seconds": round(sum(r["seconds"] for r in pruned), 1),
            # what the pruned trials would have cost at the median time of the complete search trials
            "saved_seconds": round(max(0.0, len(pruned) * float(np.median(complete)) - sum(r["seconds"] for r in pruned))
                                   if pruned and complete else 0.0, 1)}


AGREE_SHARE = 0.1  # two tunings agree on a range option when they chose it within this share of its (log) width


def tuning_agreement(spec, bests: list[dict]) -> dict:
    """How often the replicates' tunings chose the same settings: pairs of replicates whose choices match in
    every option (the same choice; within ``AGREE_SHARE`` of a range's width, on its log scale where it has
    one), and per option the share of agreeing pairs."""
    import itertools  # noqa: PLC0415
    import math  # noqa: PLC0415

    def same(dim, a, b):
        if dim.choices is not None:
            return a == b
        f = math.log if dim.log else float
        return abs(f(a) - f(b)) <= AGREE_SHARE * (f(dim.high) - f(dim.low))

    pairs = list(itertools.combinations(range(len(bests)), 2))
    per_option = {opt: sum(same(dim, bests[i][opt], bests[j][opt]) for i, j in pairs) / len(pairs) if pairs else
                  float("nan") for opt, dim in sorted(spec.search.items())}
    agree = sum(all(same(dim, bests[i][opt], bests[j][opt]) for opt, dim in spec.search.items()) for i, j in pairs)
    return {"pairs": len(pairs), "agree": int(agree), "share": agree / len(pairs) if pairs else float("nan"),
            "per_option": per_option}


def split_data(paths, protocol: str = "random", replicate: int = 0) -> SplitData:
    """The shared split of ``protocol`` (replicate ``replicate``) as SplitData, with lazily loaded (and
    cached) graph inputs and texts."""
    from hybridrec.graph import load_inputs, read_split  # noqa: PLC0415

    split_df, _ = read_split(paths, protocol, replicate)
    cache = {}

    def graph_inputs(features):
        key = tuple(features)
        if key not in cache:
            cache[key] = load_inputs(paths, list(key), protocol, replicate)
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
