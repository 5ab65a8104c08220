"""Stage `compare@<model>`: one model of compare.models (with its tuned settings) over every seed of
compare.seeds (once when the model is deterministic) on the shared split: val/test rating metrics,
full-ranking Precision/Recall/NDCG@k, fit time, and the test predictions for the paired tests.

Usage: python stages/compare.py --model svd [--params params.yaml]   (normally run by `dvc repro`)
"""

import logging
import time

import numpy as np

from hybridrec import io, zoo
from hybridrec.stage import stage
from hybridrec.errors import ParamsError
from hybridrec.paths import Paths
from hybridrec.provenance import provenance
from hybridrec.ranking import topk_metrics

log = logging.getLogger("hybridrec")


def run(p, model: str) -> None:
    if model not in p.compare.models:
        raise ParamsError(f"--model {model!r}: not in compare.models ({', '.join(p.compare.models)})")
    paths = Paths(p.data.name)
    spec = p.compare.models[model]
    tuning = io.read_json(paths.tuning)["models"]
    ctx = zoo.Context(p.train, p.compare.models, {name: t["best"] for name, t in tuning.items()})
    data = zoo.split_data(paths)
    relevant = data.test.loc[data.test["rating"] >= p.evaluate.relevant_threshold]
    seeds = list(p.compare.seeds)
    runs, preds = [], []
    for seed in seeds:
        predictor = zoo.build(model, ctx)
        t0 = time.perf_counter()
        predictor.fit(data, seed)
        fit_seconds = time.perf_counter() - t0
        test_pred = predictor.predict(data.test)
        scores = predictor.score_matrix(data.n_users, data.n_anime)
        ranking = topk_metrics(scores, (data.train["user_idx"], data.train["anime_idx"]),
                               (relevant["user_idx"], relevant["anime_idx"]), p.evaluate.k)
        runs.append({"seed": seed, "fit_seconds": round(fit_seconds, 3), "val": predictor.test(data.val),
                     "test": predictor.test(data.test), "ranking": ranking})
        preds.append(test_pred.astype(np.float32))
        log.info("%s seed %d: test RMSE %.4f, NDCG@%d %.4f, fit %.1f s", model, seed, runs[-1]["test"]["rmse"],
                 p.evaluate.k, ranking["ndcg"], fit_seconds)
        if predictor.deterministic:
            log.info("%s is deterministic: the seed does not change it, one run stands for all", model)
            break
    io.write_json(paths.run(model), {
        "model": model, "label": spec.label, "kind": spec.kind,
        "deterministic": bool(predictor.deterministic), "settings": predictor.settings(), "tuned": model in ctx.tuned,
        "runs": runs, "provenance": provenance(p)})
    io.write_npz(paths.compare_predictions(model), seeds=np.array([r["seed"] for r in runs]),
                 test_pred=np.stack(preds), test_user=data.test["user_idx"].to_numpy(),
                 test_anime=data.test["anime_idx"].to_numpy())


if __name__ == "__main__":
    stage(run, __doc__, options=[("--model", {"required": True, "help": "a name from compare.models"})])
