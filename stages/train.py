"""Stage `train`: the paper's model (GraphSAGE encoder via to_hetero + EdgeDecoder) with the `train`
params (default: the paper preset = PyG hetero_link_pred.py values). Keeps the best-validation checkpoint,
logs per-epoch metrics for `dvc plots` and a learning-curve PNG.

Usage: python stages/train.py [--params params.yaml]   (normally run by `dvc repro`)
       torchrun --nproc_per_node=2 stages/train.py            (DistributedDataParallel on one machine)
       torchrun --nnodes=2 --node_rank=R --nproc_per_node=G --rdzv_backend=c10d \
                --rdzv_endpoint=HOST:29500 stages/train.py      (on each of 2 machines; rank 0 writes)
"""

import logging

from hybridrec.stage import stage

log = logging.getLogger("hybridrec")


def run(p) -> None:
    from hybridrec import distributed
    from hybridrec.device import resolve_device
    from hybridrec.graph import load_inputs
    from hybridrec.paths import Paths
    from hybridrec.training import fit

    paths = Paths(p.data.name)
    cfg = p.train
    device = distributed.init(resolve_device(cfg.device))
    inputs = load_inputs(paths, cfg.features)
    all_edges = sum(e[0].size(1) for e in inputs.edges.values())
    n_train = inputs.edges["train"][0].size(1)
    # The HeteroData's shapes (the mini-batch path holds the identity user features as embeddings).
    shapes = {"user_x": [inputs.n_users, inputs.n_users], "anime_x": list(inputs.anime_x.shape),
              "edge_index_all": [2, all_edges],
              "training_graph": {"user_x": [inputs.n_users, inputs.n_users], "anime_x": list(inputs.anime_x.shape),
                                 "edge_index": [2, n_train]}}
    log.info("HeteroData: user x=%s, anime x=%s (%s), (user, rates, anime) edges: %d in all, %d in the "
             "training graph | paper: user x=[100, 100], anime x=[3534, 427], edge_index=[2, 16143]",
             shapes["user_x"], shapes["anime_x"], inputs.feature_desc, all_edges, n_train)
    trained = fit(inputs, cfg, device)
    _write(p, paths, cfg, inputs, trained, device, shapes)


def _write(p, paths, cfg, inputs, trained, device, shapes) -> None:
    import pandas as pd
    from hybridrec import checkpoint, distributed, io
    from hybridrec.params import as_dict
    from hybridrec.provenance import provenance
    from hybridrec.reporting.curves import plot_learning_curve

    if not distributed.is_main():  # only rank 0 writes
        distributed.finish()
        return
    checkpoint.save(paths.paper_model, trained, cfg, inputs)
    history = pd.DataFrame(trained.history)
    io.write_csv(paths.reports / "training_log.csv", history)
    plot_learning_curve(history, paths.reports / "learning_curve.png",
                        f"{p.data.name}: paper preset (best val epoch {trained.best_epoch})")
    io.write_json(paths.train_info, {
        "best_epoch": trained.best_epoch, "best_val_rmse": trained.best_val_rmse,
        "train_seconds": round(trained.train_seconds, 2), "epoch_seconds_median": trained.epoch_seconds,
        "device": device, "processes": distributed.world()[1], "features": inputs.feature_desc, "shapes": shapes,
        "split_sha256": inputs.split_sha256, "provenance": provenance(p, train=as_dict(cfg))})
    log.info("train: best val RMSE %.4f at epoch %d; %.1f s (%.4f s/epoch) on %s (%d process(es))",
             trained.best_val_rmse, trained.best_epoch, trained.train_seconds, trained.epoch_seconds, device,
             distributed.world()[1])
    distributed.finish()


if __name__ == "__main__":
    stage(run, __doc__)
