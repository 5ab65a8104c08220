"""Tuning: the same budget for every model (Optuna TPE, seeded), validation only, and a flag for a chosen
value on an edge of its search space."""

import numpy as np
import pandas as pd
import pytest

from hybridrec import params, zoo
from hybridrec.params import SearchDim
from hybridrec.predictors import SplitData
from tests.conftest import raw_params


def test_search_dim_edges():
    log = SearchDim.from_params({"low": 0.001, "high": 0.1, "log": True}, "k")
    assert log.edge(0.001) == "low" and log.edge(0.1) == "high" and log.edge(0.01) is None
    assert log.edge(0.00118) == "low"  # within 5% of the width on the log scale
    lin = SearchDim.from_params({"low": 0, "high": 0.5}, "k")
    assert lin.edge(0.49) == "high" and lin.edge(0.25) is None
    choices = SearchDim.from_params([16, 64, 32], "k")
    assert choices.edge(16) == "low" and choices.edge(64) == "high" and choices.edge(32) is None
    assert SearchDim.from_params([True, False], "k").edge(True) is None  # not ordered numbers


@pytest.mark.parametrize("bad", [{"low": 1, "high": 1}, {"low": 0, "high": 1, "log": True}, {"low": 1},
                                 {"low": 1.5, "high": 3, "int": True}, []])
def test_bad_search_dims(bad):
    with pytest.raises(params.ParamsError):
        SearchDim.from_params(bad, "compare.models.m.search.x")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    n_users, n_anime = 60, 40
    pairs = {(int(u), int(a)) for u, a in zip(rng.integers(0, n_users, 1500), rng.integers(0, n_anime, 1500))}
    df = pd.DataFrame(sorted(pairs), columns=["user_idx", "anime_idx"])
    df["rating"] = np.clip(np.rint(7 + (df["anime_idx"] % 5 - 2) * 0.7 + rng.normal(0, 1, len(df))), 1, 10)
    idx = rng.permutation(len(df))
    n = len(df) // 10
    return SplitData(df.iloc[idx[2 * n:]], df.iloc[idx[:n]], df.iloc[idx[n:2 * n]], n_users, n_anime)


def test_budget_seeded_and_validation_only(data):
    spec = {"kind": "surprise", "algo": "SVD",
            "search": {"n_factors": {"low": 2, "high": 40, "log": True, "int": True},
                       "reg_all": {"low": 0.001, "high": 1.0, "log": True}}}
    raw = raw_params()
    raw["compare"]["models"]["svd"] = spec
    p = params.parse(raw)
    ctx = zoo.Context(p)
    out = zoo.tune("svd", ctx, data, trials=7, seed=3)
    assert len(out["trials"]) == out["budget"] == 7
    vals = [t["val_rmse"] for t in out["trials"]]
    assert out["best_val_rmse"] == min(vals)
    assert out["best"] == out["trials"][int(np.argmin(vals))]["params"]
    for t in out["trials"]:  # every value drawn inside its space, and scored on validation
        assert 2 <= t["params"]["n_factors"] <= 40 and 0.001 <= t["params"]["reg_all"] <= 1.0
        model = zoo.build("svd", ctx, override=t["params"]).fit(data, 3)
        assert model.test(data.val, data.scale)["rmse"] == pytest.approx(t["val_rmse"])
    again = zoo.tune("svd", ctx, data, trials=7, seed=3)["trials"]  # seeded: the same trials (times aside)
    assert [(t["params"], t["val_rmse"]) for t in again] == [(t["params"], t["val_rmse"]) for t in out["trials"]]
    assert out["trials"][0]["params"] == {"n_factors": 40, "reg_all": 0.02}  # the defaults first (100 -> 40 clipped)
    assert out["edges"] == {k: e for k, d in p.compare.models["svd"].search.items() if (e := d.edge(out["best"][k]))}
