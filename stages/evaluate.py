"""Stage `evaluate`: the paper model's best-validation checkpoint on train/val/test - RMSE and MAE (clamped
to the rating scale), accuracy (rounded prediction == rating), within-1 accuracy, every candidate reading of the paper's
"loss" - plus top-k recommendations for the `evaluate.show_users` (paper Figure 3). The model's settings
(features, device...) are the ones stored in the checkpoint, never re-read from params.yaml.

Usage: python stages/evaluate.py [--params params.yaml]   (normally run by `dvc repro`)
"""

import logging

from hybridrec.stage import stage

log = logging.getLogger("hybridrec")


def run(p) -> None:
    import pandas as pd
    from hybridrec import checkpoint, io, metrics
    from hybridrec.device import resolve_device
    from hybridrec.graph import SPLITS, load_inputs
    from hybridrec.inference import predict
    from hybridrec.paths import Paths
    from hybridrec.provenance import provenance
    from hybridrec.recommend import pick_users, recommend

    paths = Paths(p.data.name)
    ckpt = checkpoint.load(paths.paper_model)
    device = resolve_device(ckpt.train.device)
    inputs = load_inputs(paths, ckpt.train.features)
    runner = checkpoint.restore(ckpt, inputs, device)
    out = {"model": "GraphSAGE (paper preset)", "best_epoch": ckpt.best_epoch}
    readings, frames = {}, []
    for s in SPLITS:
        eli, y = inputs.edges[s]
        pred = predict(runner, eli)
        out[s] = metrics.rating_metrics(pred, y.numpy(), inputs.scale)
        readings[s] = metrics.loss_readings(pred, y.numpy(), ckpt.weights, inputs.scale)
        frames.append(pd.DataFrame({"user_idx": eli[0].numpy(), "anime_idx": eli[1].numpy(), "split": s,
                                    "rating": y.numpy(), "pred": pred}))
    out["loss_readings"] = readings
    out["split_sha256"] = inputs.split_sha256
    out["provenance"] = provenance(p, device=device)
    io.write_json(paths.metrics, out)
    io.write_parquet(paths.paper_predictions, pd.concat(frames, ignore_index=True))
    users = pick_users(inputs.users, p.evaluate.show_users)
    recs = recommend(runner, inputs, users, p.evaluate.k)
    io.write_json(paths.recommendations, {str(u): df.to_dict(orient="records") for u, df in recs.items()})
    log.info("evaluate: test RMSE %.4f, MAE %.4f, accuracy %.4f, within-1 %.4f", out["test"]["rmse"],
             out["test"]["mae"], out["test"]["accuracy"], out["test"]["within1"])


if __name__ == "__main__":
    stage(run, __doc__)
