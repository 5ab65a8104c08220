"""How sensitive is the tuning, and what does pruning save? A measurement on the splits of a finished
`dvc repro` (run it from the project root).

For each model and each tuning procedure (``--confirm``: fits of the budget that re-evaluate the best
trials on a second seed; ``--pruner``), tune on replicate 0's split of ``--protocol`` with several tuning
seeds, then fit the chosen settings on test with ``--fit-seeds``. The spread over tuning seeds of that test
RMSE is the tuning's own variance on a fixed split (what rounding on another platform can also move); the
time and the pruned trials show what pruning saves. Each (model, procedure, tuning seed) runs in a worker
process with one thread.

Usage: python -m hybridrec.bench.tuning --models hybrid sage_tuned --protocol cold_items \\
           --confirm 0 3 --pruner none --seeds 0 1 2 3 4 5 --out reports/benchmarks/tuning-sensitivity.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np


def _one(task):
    import torch  # noqa: PLC0415

    from hybridrec import params, zoo  # noqa: PLC0415
    from hybridrec.paths import Paths  # noqa: PLC0415

    torch.set_num_threads(1)
    name, protocol, budget, confirm, pruner, seed, fit_seeds = task
    p = params.load("params.yaml")
    data = zoo.split_data(Paths(p.data.name), protocol, 0)
    ctx = zoo.Context(p)
    base = p.compare.models[name].base
    tuned = {}
    if base and p.compare.models[base].search:  # an ablation: its base tuned the plain way first
        tuned[base] = zoo.tune(base, ctx, data, budget, seed, confirm, pruner)["best"]
    t0 = time.perf_counter()
    out = zoo.tune(name, zoo.Context(p, tuned), data, budget, seed, confirm, pruner) if p.compare.models[name].search \
        else {"best": {}, "kept_defaults": True, "pruned": 0, "saved_seconds": 0.0}
    seconds = time.perf_counter() - t0
    tuned_ctx = zoo.Context(p, {**tuned, name: out["best"]} if out["best"] else tuned)
    test = [zoo.build(name, tuned_ctx).fit(data, s).test(data.test, data.scale)["rmse"] for s in fit_seeds]
    return {"model": name, "confirm": confirm, "pruner": pruner, "tuning_seed": seed, "best": out["best"],
            "kept_defaults": out["kept_defaults"], "pruned": out["pruned"], "saved_seconds": out["saved_seconds"],
            "tune_seconds": round(seconds, 1), "best_val_rmse": out.get("best_val_rmse"),
            "test_rmse": float(np.mean(test)), "test_rmse_per_seed": test}


def summarize(rows: list[dict]) -> list[dict]:
    out = []
    for key, group in itertools.groupby(sorted(rows, key=lambda r: (r["model"], r["confirm"], r["pruner"])),
                                        key=lambda r: (r["model"], r["confirm"], r["pruner"])):
        g = list(group)
        test = np.array([r["test_rmse"] for r in g])
        seed_sd = np.mean([np.std(r["test_rmse_per_seed"], ddof=1) for r in g]) if len(g[0]["test_rmse_per_seed"]) > 1 \
            else float("nan")
        out.append({"model": key[0], "confirm": key[1], "pruner": key[2], "tunings": len(g),
                    "test_rmse_mean": float(test.mean()), "test_rmse_sd_over_tunings": float(test.std(ddof=1)),
                    "seed_sd_within": float(seed_sd), "distinct_choices": len({json.dumps(r["best"], sort_keys=True)
                                                                                for r in g}),
                    "kept_defaults": sum(r["kept_defaults"] for r in g),
                    "tune_seconds": round(sum(r["tune_seconds"] for r in g), 1),
                    "pruned": sum(r["pruned"] for r in g), "saved_seconds": round(sum(r["saved_seconds"] for r in g), 1)})
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m hybridrec.bench.tuning", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", required=True)
    ap.add_argument("--protocol", default="random")
    ap.add_argument("--budget", type=int, default=None, help="fits per tuning (default: compare.tuning_trials)")
    ap.add_argument("--confirm", type=int, nargs="+", default=[0, 3])
    ap.add_argument("--pruner", nargs="+", default=["none"])
    ap.add_argument("--seeds", type=int, nargs="+", default=list(range(6)), help="tuning seeds")
    ap.add_argument("--fit-seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    from hybridrec import io, params  # noqa: PLC0415

    p = params.load("params.yaml")
    budget = args.budget or p.compare.tuning_trials
    tasks = [(m, args.protocol, budget, c, pr, s, args.fit_seeds) for m in args.models for c in args.confirm
             for pr in args.pruner for s in args.seeds]
    os.environ.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    import multiprocessing  # noqa: PLC0415

    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        rows = list(pool.map(_one, tasks))
    summary = summarize(rows)
    io.write_json(args.out, {"command": "python -m hybridrec.bench.tuning " + " ".join(argv or []),
                             "protocol": args.protocol, "budget": budget, "data": p.data.name,
                             "wall_seconds": round(time.perf_counter() - t0, 1), "summary": summary, "runs": rows})
    for r in summary:
        print(json.dumps(r))


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
