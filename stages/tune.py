"""Stage `tune`: the same random-search budget (compare.tuning_trials configurations, seeded) for every
model in compare.models that has a `search` space; fit on train, choose by validation RMSE.

Usage: python stages/tune.py [--params params.yaml]   (normally run by `dvc repro`)
"""

import logging
import time

from tqdm import tqdm

from hybridrec import io, zoo
from hybridrec.stage import stage
from hybridrec.paths import Paths
from hybridrec.provenance import provenance

log = logging.getLogger("hybridrec")


def run(p) -> None:
    paths = Paths(p.data.name)
    data = zoo.split_data(paths)
    ctx = zoo.Context(p.train, p.compare.models)
    out = {}
    for name in tqdm([n for n, s in p.compare.models.items() if s.search], desc="tune", unit="model"):
        t0 = time.perf_counter()
        out[name] = zoo.tune(name, ctx, data, p.compare.tuning_trials, p.compare.tuning_seed)
        out[name]["seconds"] = round(time.perf_counter() - t0, 1)
        log.info("tune %s: best %s (val RMSE %.4f) in %.0f s", name, out[name]["best"], out[name]["best_val_rmse"],
                 out[name]["seconds"])
    io.write_json(paths.tuning, {"budget": p.compare.tuning_trials, "seed": p.compare.tuning_seed,
                                                  "models": out, "provenance": provenance(p)})


if __name__ == "__main__":
    stage(run, __doc__)
