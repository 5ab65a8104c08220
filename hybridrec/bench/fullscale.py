"""The pipeline on a full-scale (Kaggle-sized) synthetic data set, stage by stage, measuring each stage's
wall time, peak memory (``ru_maxrss`` of the stage's process, via ``os.wait4``) and throughput.

The full Kaggle data set has 57,633,278 ratings by 310,059 users of 16,872 anime; ``--scale`` shrinks
users (and anime by its square root) for a quick rehearsal. Training is mini-batch (sampled
neighbourhoods, identity user features as embeddings) for ``train.epochs`` epochs (default 1); the
projected time of a full training run is the epoch time times ``--epochs-projection``.

Writes data/<name>/..., models/<name>/... and a JSON summary for ``hybridrec timing-report --fullscale``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

from hybridrec import io
from hybridrec.paths import Paths
from hybridrec.synthetic import GENERATOR_FILE

FULL_USERS, FULL_ANIME, FULL_RATINGS = 310_059, 16_872, 57_633_278
# log-normal activity with sigma 1: mean = median * e^(1/2); 57.6M / 310k = 186 ratings per user
FULL_MEDIAN = round(FULL_RATINGS / FULL_USERS / 1.6487)


def overrides(scale: float, name: str, batch_size: int, epochs: int, num_neighbors) -> dict:
    n_users = max(50, round(FULL_USERS * scale))
    n_anime = max(200, round(FULL_ANIME * min(1.0, scale ** 0.5)))
    return {
        "data": {"name": name, "source": "synthetic", "dir": str(Paths(name).raw), "download": False},
        "synthetic": {"n_users": n_users, "n_anime": n_anime, "ratings_per_user_median": FULL_MEDIAN,
                      "chunk_users": 2000},
        "subset": {"n_users": "all"},
        "train": {"batch_size": batch_size, "num_neighbors": list(num_neighbors), "epochs": epochs,
                  "weighted_loss": False},
    }


def _deep(base, upd):
    out = dict(base)
    for k, v in upd.items():
        out[k] = _deep(out.get(k, {}), v) if isinstance(v, dict) else v
    return out


def run_stage(cmd, env=None) -> dict:
    """Run one stage process; return its wall time and peak resident memory."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"stage failed ({proc.returncode}): {' '.join(cmd)}")
    return {"seconds": round(wall, 1), "peak_mb": round(usage.ru_maxrss / 1024, 1)}


def summarise(name, results, scale, batch_size, num_neighbors, epochs, epochs_projection) -> dict:
    """The JSON summary of a run: per-stage wall time and peak memory (``results``) plus throughput from the
    stages' own outputs, the training quality after the epochs run, and the generator's oracle RMSE floor."""
    results = {k: dict(v) for k, v in results.items()}
    paths = Paths(name)
    pre = io.read_json(paths.preprocess_stats)
    split = io.read_json(paths.split_info())
    emb = io.read_json(paths.embeddings_info)
    train = io.read_json(paths.train_info)
    n_raw, n_train = pre["raw"]["ratings"], split["counts"]["train"]
    results["generate"]["rows_per_s"] = round(n_raw / results["generate"]["seconds"])
    results["preprocess"]["rows_per_s"] = round(n_raw / results["preprocess"]["seconds"])
    results["subset"]["rows_per_s"] = round(pre["merged"]["ratings"] / results["subset"]["seconds"])
    results["embed"]["rows_per_s"] = round(emb["n"] / results["embed"]["seconds"], 1)
    results["split"]["rows_per_s"] = round(pre["merged"]["ratings"] / results["split"]["seconds"])
    if "evaluate" in results:  # scores every train/val/test rating once
        results["evaluate"]["rows_per_s"] = round(sum(split["counts"].values()) / results["evaluate"]["seconds"])
    epoch_s = train["epoch_seconds_median"]
    results["train"].update({"edges_per_s": round(n_train / epoch_s), "epoch_seconds": round(epoch_s, 1),
                             "best_val_rmse": train["best_val_rmse"]})
    summary = {"scale": scale, "name": name, "users": pre["raw"]["users"], "anime": pre["raw"]["anime"],
               "ratings": n_raw, "train_edges": n_train, "embedded_synopses": emb["n"],
               "batch_size": batch_size, "num_neighbors": num_neighbors, "epochs": epochs,
               "epochs_projection": epochs_projection,
               "projected_training_seconds": round(epoch_s * epochs_projection, 1),
               "projected_training_hours": round(epoch_s * epochs_projection / 3600, 3),
               "device": train["device"], "stages": results, "cpu_count": os.cpu_count()}
    gen = paths.raw / GENERATOR_FILE
    if gen.exists():
        summary["oracle_rmse_floor"] = round(io.read_json(gen)["oracle_rmse_floor"], 4)
    if "evaluate" in results and paths.metrics.exists():
        test = io.read_json(paths.metrics)["test"]
        summary["test"] = {k: round(test[k], 4) for k in ("rmse", "mae", "accuracy", "within1")} | {"n": test["n"]}
    return summary


def _positive_scale(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(v) or v <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be a finite number > 0 (1 = the full Kaggle size)")
    return v


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be > 0")
    return v


def _fan_out(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if v == 0 or v < -1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be > 0, or -1 for all neighbours")
    return v


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="hybridrec fullscale", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=_positive_scale, default=1.0,
                    help="fraction of the full data set's users (default 1)")
    ap.add_argument("--batch-size", type=_positive_int, default=8192, help="supervision ratings per mini-batch")
    ap.add_argument("--num-neighbors", type=_fan_out, nargs=2, default=[10, 10], help="fan-out per hop")
    ap.add_argument("--epochs", type=_positive_int, default=1, help="training epochs to run (default 1)")
    ap.add_argument("--epochs-projection", type=_positive_int, default=20,
                    help="epochs of a full run, for the projection")
    ap.add_argument("--evaluate", action="store_true", help="also run the evaluate stage (batched, full graph)")
    ap.add_argument("--params", default="params.yaml", help="base parameters (default: params.yaml)")
    ap.add_argument("--out", default=".benchmarks/fullscale.json", help="JSON summary")
    args = ap.parse_args(argv)
    if not Path(args.params).is_file():
        ap.error(f"argument --params: {args.params}: file not found")

    name = "synthetic-full" if args.scale == 1 else f"synthetic-scale{args.scale:g}"
    base = yaml.safe_load(Path(args.params).read_text())
    raw = _deep(base, overrides(args.scale, name, args.batch_size, args.epochs, args.num_neighbors))
    from hybridrec.params import parse  # noqa: PLC0415

    parse(raw)  # fail before running anything
    params_file = Paths(name).data / "params.yaml"
    io.write_text(params_file, yaml.safe_dump(raw, sort_keys=False))
    py = [sys.executable]
    stages = [("generate", ["stages/generate.py", "--out", raw["data"]["dir"]]), ("preprocess", ["stages/preprocess.py"]),
              ("subset", ["stages/subset.py"]), ("embed", ["stages/embed.py"]), ("split", ["stages/split.py"]),
              ("train", ["stages/train.py"])] + ([("evaluate", ["stages/evaluate.py"])] if args.evaluate else [])
    results = {}
    for stage, cmd in stages:
        print(f"=== fullscale: {stage}", flush=True)
        results[stage] = run_stage(py + cmd + ["--params", str(params_file)])
        print(f"=== fullscale: {stage}: {results[stage]}", flush=True)
    summary = summarise(name, results, args.scale, args.batch_size, args.num_neighbors, args.epochs,
                        args.epochs_projection)
    io.write_json(args.out, summary)
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
