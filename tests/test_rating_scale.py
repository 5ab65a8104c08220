"""Data sets beyond MyAnimeList's 1..10: the scale is read from the data (or set in params.yaml), recorded, and
used for clamping, the weighted loss, relevance and the reports; on a 1..5 data set every reported metric is
finite and no prediction leaves the scale."""

import json
import math

import numpy as np
import pandas as pd
import pytest
import yaml

from hybridrec import params as params_mod
from hybridrec.errors import DataError
from tests.conftest import TINY, raw_params, run_stages, tiny_few

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def five(tmp_path_factory):
    from hybridrec import synthetic

    root = tmp_path_factory.mktemp("five")
    raw = root / "raw5"
    p0 = params_mod.parse(raw_params(**TINY))
    synthetic.generate(p0.synthetic, raw)
    ratings = pd.read_csv(raw / "rating_complete.csv")
    ratings["rating"] = np.ceil(ratings["rating"] / 2).astype(int)  # 1..10 -> 1..5
    ratings.to_csv(raw / "rating_complete.csv", index=False)
    (raw / "generator.json").unlink()
    cfg = tiny_few()
    cfg["data"] = {"source": "kaggle", "dir": str(raw), "name": "five", "rating_scale": "auto"}
    (root / "params.yaml").write_text(yaml.safe_dump(raw_params(**cfg), sort_keys=False))
    p = params_mod.load(root / "params.yaml")
    run_stages(root, p, ("preprocess", "subset", "data_report", "embed", "split", "train", "evaluate",
                         ("compare", "random"), ("comparison", "random"), ("compare", "cold_items"),
                         ("comparison", "cold_items"), "report"))
    return root, p


def finite_metrics(obj, prefix=""):
    """Every number under rating / ranking metric names."""
    out = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.update(finite_metrics(v, f"{prefix}.{k}"))
    elif isinstance(obj, (int, float)) and prefix.rsplit(".", 1)[-1] in ("rmse", "mae", "accuracy", "within1",
                                                                       "precision", "recall", "ndcg", "val_rmse"):
        out[prefix] = obj
    return out


def test_scale_is_read_from_the_data_and_recorded(five):
    root, _ = five
    stats = json.loads((root / "data/five/preprocessed/stats.json").read_text())
    assert stats["rating_scale"] == [1.0, 5.0] and "auto" in stats["rating_scale_from"]
    metrics = json.loads((root / "reports/five/metrics.json").read_text())
    assert metrics["provenance"]["params"]["data"]["rating_scale"] == "auto"


def test_every_reported_metric_is_finite(five):
    root, _ = five
    found = finite_metrics(json.loads((root / "reports/five/metrics.json").read_text()))
    for protocol in ("random", "cold_items"):
        found.update(finite_metrics(json.loads((root / f"reports/five/{protocol}/comparison.json").read_text())["models"],
                                    protocol))
    assert len(found) > 40
    assert all(math.isfinite(v) for v in found.values()), [k for k, v in found.items() if not math.isfinite(v)]
    md = (root / "reports/five/random/comparison.md").read_text()
    assert "**nan" not in md.lower() and "clamped to the rating range" in md


def test_predictions_stay_on_the_scale(five):
    root, _ = five
    z = np.load(root / "models/five/random/predictions.npz")
    for key in z.files:
        if key.startswith("pred__hybrid"):
            assert z[key].min() >= 1.0 and z[key].max() <= 5.0  # ours is bounded by construction
    preds = pd.read_parquet(root / "models/five/paper/predictions.parquet")
    metrics = json.loads((root / "reports/five/metrics.json").read_text())
    clamped = np.clip(preds.loc[preds["split"] == "test", "pred"], 1, 5)
    rating = preds.loc[preds["split"] == "test", "rating"]
    assert metrics["test"]["rmse"] == pytest.approx(float(np.sqrt(np.mean((clamped - rating) ** 2))), rel=1e-6)


def test_an_explicit_scale_refuses_ratings_outside(tmp_path):
    from hybridrec.data import load_ratings
    from hybridrec.metrics import Scale

    f = tmp_path / "rating_complete.csv"
    f.write_text("user_id,anime_id,rating\n0,1,5\n0,2,7\n")
    with pytest.raises(DataError, match="row 2, column 'rating': rating 7 is outside 1-5"):
        load_ratings(f, Scale(1, 5))
    assert load_ratings(f)["rating"].tolist() == [5, 7]  # auto: the scale follows the data
