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


def _noisy_family():
    """A constructed family whose option ``x`` does nothing: its validation RMSE is seed noise alone, so any
    "best" trial wins by chance (registered for one test only)."""
    from hybridrec.predictors import RatingPredictor

    class Noisy(RatingPredictor):
        kind = "noisy_test_family"
        spec_keys = ("search",)

        @classmethod
        def defaults(cls, spec):
            return {"x": 0}

        @classmethod
        def from_spec(cls, spec, ctx, override=None):
            out = cls()
            out.x = (override or ctx.tuned.get(spec.name, {})).get("x", 0)
            return out

        def fit(self, data, seed):
            self.mean, self.seed = float(data.train["rating"].mean()), seed
            return self

        def settings(self):
            return {"x": self.x}

        def score(self, users, anime):
            rng = np.random.default_rng([self.seed, 17])  # the seed moves every prediction, x moves none
            return self.mean + rng.normal(0, 0.5, len(users))

    return Noisy


def test_confirmation_keeps_the_defaults_when_the_gain_is_noise(data, monkeypatch):
    from hybridrec import registry

    fam = _noisy_family()
    monkeypatch.setitem(registry.families(), fam.kind, fam)
    raw = raw_params()
    raw["compare"]["models"]["noisy"] = {"kind": fam.kind, "search": {"x": [0, 1, 2, 3, 4, 5, 6, 7]}}
    ctx = zoo.Context(params.parse(raw))
    kept = 0
    for seed in range(6):
        plain = zoo.tune("noisy", ctx, data, trials=10, seed=seed)
        out = zoo.tune("noisy", ctx, data, trials=10, seed=seed, confirm=3)
        assert len(out["trials"]) == 7 and out["budget"] == 10  # 7 search + 3 confirmation fits: the same budget
        confirmed = [t for t in out["trials"] if "confirm_val_rmse" in t]
        assert len(confirmed) == 3 and out["trials"][0] in confirmed  # the defaults are among them
        assert out["best"] in [t["params"] for t in confirmed]
        kept += out["kept_defaults"]
        assert plain["best_val_rmse"] <= out["trials"][0]["val_rmse"]  # plain TPE: any trial that won by a hair
    assert kept == 6  # the gain of a setting that does nothing is always inside the noise


def test_confirmation_leaves_a_real_gain_alone(data):
    """SVD with a space holding a clearly better region: the confirmed choice moves off the defaults."""
    raw = raw_params()
    raw["compare"]["models"]["svd"] = {"kind": "surprise", "algo": "SVD",
                                       "search": {"reg_all": {"low": 0.001, "high": 3.0, "log": True},
                                                  "n_factors": [100, 1]}}
    ctx = zoo.Context(params.parse(raw))
    out = zoo.tune("svd", ctx, data, trials=10, seed=0, confirm=3)
    default = out["trials"][0]
    assert not out["kept_defaults"] and out["best"] != default["params"]
    assert default["mean_val_rmse"] - out["best_val_rmse"] > 2 * out["seed_noise"]


def _reporting_family():
    """A constructed family that trains over 100 epochs, reporting its validation RMSE every 10: the option
    ``x`` sets how bad it ends (x = 0 best); a pruner can stop the bad ones early."""
    from hybridrec.predictors import RatingPredictor

    class Reporting(RatingPredictor):
        kind = "reporting_test_family"
        spec_keys = ("search",)
        prune_after = 20

        @classmethod
        def defaults(cls, spec):
            return {"x": 0}

        @classmethod
        def from_spec(cls, spec, ctx, override=None):
            out = cls()
            out.x = (override or ctx.tuned.get(spec.name, {})).get("x", 0)
            return out

        def fit(self, data, seed):
            self.mean, self.epochs = float(data.train["rating"].mean()), 0
            for epoch in range(10, 101, 10):
                self.epochs = epoch
                self.report_validation(epoch, 1.0 + self.x + 1.0 / epoch)
            return self

        def settings(self):
            return {"x": self.x}

        def score(self, users, anime):
            return np.full(len(users), self.mean + 0.3 * self.x)

    return Reporting


@pytest.mark.parametrize("pruner", ["median", "halving"])
def test_pruned_trials_count_against_the_budget_and_are_never_chosen(data, monkeypatch, pruner):
    from hybridrec import registry

    fam = _reporting_family()
    monkeypatch.setitem(registry.families(), fam.kind, fam)
    raw = raw_params()
    raw["compare"]["models"]["rep"] = {"kind": fam.kind, "search": {"x": [0, 1, 2, 3, 4, 5]}}
    ctx = zoo.Context(params.parse(raw))
    out = zoo.tune("rep", ctx, data, trials=10, seed=0, confirm=3, pruner=pruner)
    pruned = [t for t in out["trials"] if "pruned_at" in t]
    assert len(out["trials"]) == 7 and out["pruned"] == len(pruned) >= 1  # the budget holds, some were stopped
    assert all(t["pruned_at"] >= 20 and t["params"]["x"] > 0 for t in pruned)  # after the warm-up; never the best
    assert all("confirm_val_rmse" not in t for t in pruned) and out["best"] == {"x": 0}
    plain = zoo.tune("rep", ctx, data, trials=10, seed=0, confirm=3, pruner="none")
    assert plain["pruned"] == 0 and plain["best"] == {"x": 0}
