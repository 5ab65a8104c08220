"""Stage `comparison@<protocol>`: reports/<dataset>/<protocol>/comparison.md (+ comparison.json metrics,
rmse_ci.png, rmse_by_degree.png) from the runs of compare@<protocol>: mean ± std over replicates and seeds,
ΔRMSE with replicate-user-and-seed bootstrap intervals and Holm-corrected p-values, how each model's variance
splits into split, tuning and seed, RMSE by degree, findings from the statistics.

Usage: python stages/comparison.py --protocol random [--params params.yaml]   (normally run by `dvc repro`)
"""

from hybridrec.params import PROTOCOLS
from hybridrec.stage import stage


def run(p, protocol: str) -> None:
    import numpy as np
    from hybridrec import io, metrics, registry
    from hybridrec.errors import DataError, ParamsError
    from hybridrec.params import protocol_models
    from hybridrec.paths import Paths
    from hybridrec.provenance import provenance
    from hybridrec.reporting import comparison
    from hybridrec.sources import source_of
    from hybridrec.split import for_protocol, read_split

    if protocol not in PROTOCOLS:
        raise ParamsError(f"--protocol {protocol!r}: must be one of {', '.join(PROTOCOLS)}")
    p = for_protocol(p, protocol)  # folds: one replicate per fold
    paths = Paths(p.data.name)
    R = p.compare.replicates
    splits = [read_split(paths, protocol, r) for r in range(R)]
    recorded_runs = io.read_json(paths.runs(protocol))
    if recorded_runs.get("replicates") != R:
        raise DataError(paths.runs(protocol), f"holds {recorded_runs.get('replicates')} replicate(s), params.yaml "
                                              f"compare.replicates is {R} (re-run `dvc repro compare@{protocol}`)")
    recorded = recorded_runs["models"]
    z = io.read_npz(paths.compare_predictions(protocol), [f"test_user__r{r}" for r in range(R)])
    reps = []
    for r, (split, _) in enumerate(splits):
        test = split.loc[split["split"] == "test"]
        if not (np.array_equal(z[f"test_user__r{r}"], test["user_idx"])
                and np.array_equal(z[f"test_anime__r{r}"], test["anime_idx"])):
            raise DataError(paths.compare_predictions(protocol),
                            f"test pairs of replicate {r} differ from its split (re-run `dvc repro`)")
        reps.append({"test": test, "train": split.loc[split["split"] == "train"], "split": split})
    runs, preds, unseen, baselines, invariant = {}, {}, {}, set(), set()
    for name, spec in protocol_models(p, protocol).items():
        keys = [f"pred__{name}__r{r}" for r in range(R)]
        if name not in recorded or any(k not in z for k in keys):
            raise DataError(paths.runs(protocol), f"no runs of model {name!r} (re-run `dvc repro compare@{protocol}`)")
        runs[name] = recorded[name]
        preds[name] = [z[k] for k in keys]
        family = registry.family(spec.kind)
        unseen[name] = family.describe(spec)
        if family.platform_invariant(spec):
            invariant.add(name)
        if spec.role == "baseline":  # roles come from params.yaml (defaults by family), not from folders
            baselines.add(name)
    source = source_of(p)
    scale = metrics.read_scale(paths)
    oracles = [source.oracle(rep["test"]) for rep in reps]  # the split keeps user_id / anime_id beside the indices
    oracle = None if oracles[0] is None else _mean_metrics(
        [metrics.rating_metrics(o, rep["test"]["rating"].to_numpy(), scale) for o, rep in zip(oracles, reps)])
    tuning = io.read_json(paths.tuning(protocol))["models"]
    res = comparison.build(runs, preds, reps, p, tuning, oracle, baselines, scale.lo, scale.hi, invariant)
    subset = io.read_json(paths.subset / "stats.json")
    res["shape"] = (int(subset["users"]), int(subset["anime"]))  # users x items of the data compared
    # what content can add at most, where the anime are unseen (on the random split their ratings say more)
    res["content_ceiling"] = (_mean_metrics([source.content_ceiling(rep["split"], scale) for rep in reps])
                              if protocol == "cold_items" else None)
    metrics_json = comparison.metrics_json(res, runs, provenance(p, protocol=protocol,
                                                                 split_sha256=[sha for _, sha in splits],
                                                                 device=recorded_runs["provenance"].get("device"),
                                                                 computed_on=recorded_runs["provenance"]))
    anime = io.read_parquet(paths.subset / "anime.parquet", ["anime_idx", "name", "genres"])
    users = dict(zip(splits[0][0]["user_idx"], splits[0][0]["user_id"]))
    infos = [io.read_json(paths.split_info(protocol, r)) for r in range(R)]
    # comparison.md, comparison.json and both figures are renamed into place together, or none of them
    comparison.write(paths.protocol(protocol), res, runs, p, protocol, infos, source, unseen, anime, users,
                     extra={paths.comparison(protocol): io.dumps_json(metrics_json)})


def _mean_metrics(per_replicate: list) -> dict | None:
    """The mean over replicates of each number of a metrics mapping (None when a source has none)."""
    import numpy as np

    if not per_replicate or per_replicate[0] is None:
        return None
    return {k: (float(np.mean([m[k] for m in per_replicate])) if isinstance(v, (int, float)) and not
                isinstance(v, bool) else v) for k, v in per_replicate[0].items()}


if __name__ == "__main__":
    stage(run, __doc__, options=[("--protocol", {"required": True, "help": f"one of {', '.join(PROTOCOLS)}"})])
