"""Stage `comparison`: reports/<dataset>/comparison.md (+ comparison.json metrics, rmse_ci.png) from every
compare@<model> run: mean ± std / 95% CI over seeds, paired tests, findings generated from the numbers.

Usage: python stages/comparison.py [--params params.yaml]   (normally run by `dvc repro`)
"""

import numpy as np

from hybridrec import io, metrics
from hybridrec.stage import stage
from hybridrec.errors import DataError
from hybridrec.graph import read_split
from hybridrec.paths import Paths
from hybridrec.reporting import comparison
from hybridrec.sources import source_of


def run(p) -> None:
    paths = Paths(p.data.name)
    split, sha = read_split(paths)
    test = split.loc[split["split"] == "test"]
    runs, preds = {}, {}
    for name, spec in p.compare.models.items():
        runs[name] = io.read_json(paths.run(name))
        runs[name]["label"] = spec.label
        z = io.read_npz(paths.compare_predictions(name), ["test_pred", "test_user", "test_anime"])
        if not (np.array_equal(z["test_user"], test["user_idx"]) and np.array_equal(z["test_anime"], test["anime_idx"])):
            raise DataError(paths.compare_predictions(name), "test pairs differ from the split (re-run `dvc repro`)")
        preds[name] = z["test_pred"]
    source = source_of(p)
    oracle_pred = source.oracle(test)
    oracle = None if oracle_pred is None else metrics.rating_metrics(oracle_pred, test["rating"].to_numpy())
    tuning = io.read_json(paths.tuning)["models"]
    res = comparison.build(runs, preds, test["rating"].to_numpy(np.float64), p, tuning, oracle)
    io.write_json(paths.comparison, {
        # timings stay out of the metrics file: it must be identical across identical runs
        "models": {n: {k: v["mean"] for k, v in a.items() if k != "fit_seconds"} for n, a in res["models"].items()},
        "significant_vs_reference": res["significant"]})
    comparison.write(paths.reports, res, runs, p, sha, source)


if __name__ == "__main__":
    stage(run, __doc__)
