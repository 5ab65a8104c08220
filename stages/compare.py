"""Stage `compare@<protocol>`: every model of compare.models on the split of one protocol (random |
cold_items). Tunable models get the same Optuna budget (compare.tuning_trials fits, seeded TPE, validation
RMSE); then every model runs over every seed of compare.seeds (once when the seed does not change it):
val/test rating metrics, full-ranking Precision/Recall/NDCG@k, popularity correlation, fit time, and the
test predictions for the paired statistics. Work runs in parallel over HYBRIDREC_WORKERS processes (default:
every core); the numbers do not depend on it.

Usage: python stages/compare.py --protocol random [--params params.yaml]   (normally run by `dvc repro`)
"""

import logging

import numpy as np

from hybridrec import experiment, io
from hybridrec.device import resolve_device
from hybridrec.errors import ParamsError
from hybridrec.graph import read_split
from hybridrec.paths import Paths
from hybridrec.provenance import provenance
from hybridrec.recommend import pick_users
from hybridrec.split import PROTOCOLS
from hybridrec.stage import stage

log = logging.getLogger("hybridrec")


def run(p, protocol: str) -> None:
    if protocol not in PROTOCOLS:
        raise ParamsError(f"--protocol {protocol!r}: must be one of {', '.join(PROTOCOLS)}")
    paths = Paths(p.data.name)
    split, sha = read_split(paths, protocol)
    test = split.loc[split["split"] == "test"]
    users = split[["user_idx", "user_id"]].drop_duplicates().sort_values("user_idx")
    show = pick_users(users, p.evaluate.show_users)
    id_of_idx = dict(zip(users["user_idx"], users["user_id"]))
    tuning, runs, preds = experiment.run(p, protocol, show=[idx for idx, uid in id_of_idx.items() if uid in show])
    used = {resolve_device(d) for d in (p.train.device, p.hybrid.device)}  # the torch models' devices
    prov = provenance(p, protocol=protocol, split_sha256=sha, device="cpu" if used == {"cpu"} else
                      "+".join(sorted(used)), workers=experiment.workers_default())
    io.write_json(paths.tuning(protocol), {"budget": p.compare.tuning_trials, "seed": p.compare.tuning_seed,
                                           "models": tuning, "provenance": prov})
    io.write_json(paths.runs(protocol), {"protocol": protocol, "models": runs, "provenance": prov})
    io.write_npz(paths.compare_predictions(protocol), test_user=test["user_idx"].to_numpy(),
                 test_anime=test["anime_idx"].to_numpy(),
                 **{f"seeds__{n}": np.array([r["seed"] for r in runs[n]["runs"]]) for n in runs},
                 **{f"pred__{n}": pr for n, pr in preds.items()})


if __name__ == "__main__":
    stage(run, __doc__, options=[("--protocol", {"required": True, "help": f"one of {', '.join(PROTOCOLS)}"})])
