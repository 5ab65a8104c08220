"""Stage `compare@<protocol>`: every model of compare.models on the splits of one protocol (random |
cold_items), in every replicate of the procedure (compare.replicates: own split, own tuning, nested seeds).
Tunable models get the same budget (compare.tuning_trials fits, seeded TPE and a confirmation on a second
seed, validation RMSE); then every model runs over every seed of compare.seeds (once when the seed does not
change it):
val/test rating metrics, full-ranking Precision/Recall/NDCG@k, popularity correlation, fit time, and the
test predictions for the paired statistics. Work runs in parallel over HYBRIDREC_WORKERS processes (default:
every core); the numbers do not depend on it.

Usage: python stages/compare.py --protocol random [--params params.yaml]   (normally run by `dvc repro`)
"""

import logging

from hybridrec.params import PROTOCOLS
from hybridrec.stage import stage

log = logging.getLogger("hybridrec")


def run(p, protocol: str) -> None:
    import numpy as np
    from hybridrec import experiment, io
    from hybridrec.device import resolve_device
    from hybridrec.errors import ParamsError
    from hybridrec.paths import Paths
    from hybridrec.provenance import provenance
    from hybridrec.recommend import pick_users
    from hybridrec.split import for_protocol, read_split

    if protocol not in PROTOCOLS:
        raise ParamsError(f"--protocol {protocol!r}: must be one of {', '.join(PROTOCOLS)}")
    p = for_protocol(p, protocol)  # folds: one replicate per fold
    paths = Paths(p.data.name)
    splits = [read_split(paths, protocol, r) for r in range(p.compare.replicates)]
    split = splits[0][0]
    users = split[["user_idx", "user_id"]].drop_duplicates().sort_values("user_idx")
    show = pick_users(users, p.evaluate.show_users)
    id_of_idx = dict(zip(users["user_idx"], users["user_id"]))
    tuning, runs, preds = experiment.run(p, protocol, show=[idx for idx, uid in id_of_idx.items() if uid in show],
                                         cache_dir=paths.task_cache(protocol))
    used = {resolve_device(d) for d in (p.train.device, p.hybrid.device)}  # the torch models' devices
    prov = provenance(p, protocol=protocol, split_sha256=[sha for _, sha in splits], device="cpu" if used == {"cpu"}
                      else "+".join(sorted(used)), workers=experiment.workers_default(),
                      tasks=dict(experiment.LAST_TASKS))
    io.write_json(paths.tuning(protocol), {"budget": p.compare.tuning_trials, "confirm": p.compare.tuning_confirm,
                                           "seed": p.compare.tuning_seed, "replicates": p.compare.replicates,
                                           "models": tuning, "provenance": prov})
    io.write_json(paths.runs(protocol), {"protocol": protocol, "replicates": p.compare.replicates, "models": runs,
                                         "provenance": prov})
    arrays = {}
    for r, (split_r, _) in enumerate(splits):
        test = split_r.loc[split_r["split"] == "test"]
        arrays[f"test_user__r{r}"] = test["user_idx"].to_numpy()
        arrays[f"test_anime__r{r}"] = test["anime_idx"].to_numpy()
    for (name, r), pred in preds.items():
        arrays[f"pred__{name}__r{r}"] = pred
        arrays[f"seeds__{name}__r{r}"] = np.array(runs[name]["replicates"][r]["seeds"])
    io.write_npz(paths.compare_predictions(protocol), **arrays)


if __name__ == "__main__":
    stage(run, __doc__, options=[("--protocol", {"required": True, "help": f"one of {', '.join(PROTOCOLS)}"})])
