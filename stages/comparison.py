"""Stage `comparison@<protocol>`: reports/<dataset>/<protocol>/comparison.md (+ comparison.json metrics,
rmse_ci.png, rmse_by_degree.png) from the runs of compare@<protocol>: mean ± std over seeds, ΔRMSE with
user-and-seed bootstrap intervals and Holm-corrected p-values, RMSE by degree, findings from the statistics.

Usage: python stages/comparison.py --protocol random [--params params.yaml]   (normally run by `dvc repro`)
"""

import numpy as np

from hybridrec import io, metrics, registry
from hybridrec.errors import DataError, ParamsError
from hybridrec.graph import read_split
from hybridrec.params import protocol_models
from hybridrec.paths import Paths
from hybridrec.provenance import provenance
from hybridrec.reporting import comparison
from hybridrec.sources import source_of
from hybridrec.split import PROTOCOLS
from hybridrec.stage import stage


def run(p, protocol: str) -> None:
    if protocol not in PROTOCOLS:
        raise ParamsError(f"--protocol {protocol!r}: must be one of {', '.join(PROTOCOLS)}")
    paths = Paths(p.data.name)
    split, sha = read_split(paths, protocol)
    test = split.loc[split["split"] == "test"]
    recorded_runs = io.read_json(paths.runs(protocol))
    recorded = recorded_runs["models"]
    z = io.read_npz(paths.compare_predictions(protocol), ["test_user", "test_anime"])
    if not (np.array_equal(z["test_user"], test["user_idx"]) and np.array_equal(z["test_anime"], test["anime_idx"])):
        raise DataError(paths.compare_predictions(protocol), "test pairs differ from the split (re-run `dvc repro`)")
    runs, preds, unseen, baselines = {}, {}, {}, set()
    for name, spec in protocol_models(p, protocol).items():
        if name not in recorded or f"pred__{name}" not in z:
            raise DataError(paths.runs(protocol), f"no runs of model {name!r} (re-run `dvc repro compare@{protocol}`)")
        runs[name] = recorded[name]
        preds[name] = z[f"pred__{name}"]
        family = registry.family(spec.kind)
        unseen[name] = family.describe(spec)
        if family.__module__.startswith("baselines."):
            baselines.add(name)
    source = source_of(p)
    oracle_pred = source.oracle(test)  # the split keeps user_id / anime_id beside the indices
    scale = metrics.read_scale(paths)
    oracle = None if oracle_pred is None else metrics.rating_metrics(oracle_pred, test["rating"].to_numpy(), scale)
    tuning = io.read_json(paths.tuning(protocol))["models"]
    res = comparison.build(runs, preds, test, split.loc[split["split"] == "train"], p, tuning, oracle, baselines,
                           scale.lo, scale.hi)
    # what content can add at most, where the anime are unseen (on the random split their ratings say more)
    res["content_ceiling"] = source.content_ceiling(split, scale) if protocol == "cold_items" else None
    io.write_json(paths.comparison(protocol),
                  comparison.metrics_json(res, runs, provenance(p, protocol=protocol, split_sha256=sha,
                                                                device=recorded_runs["provenance"].get("device"))))
    anime = io.read_parquet(paths.subset / "anime.parquet", ["anime_idx", "name", "genres"])
    users = dict(zip(split["user_idx"], split["user_id"]))
    comparison.write(paths.protocol(protocol), res, runs, p, protocol, io.read_json(paths.split_info(protocol)),
                     source, unseen, anime, users)


if __name__ == "__main__":
    stage(run, __doc__, options=[("--protocol", {"required": True, "help": f"one of {', '.join(PROTOCOLS)}"})])
