"""Model families plug in at one place: found by the registry, every compare.models entry checked when
params.yaml loads (unknown kinds, algorithms and options fail there, not inside tuning)."""

import pytest

from hybridrec import params, registry, zoo
from hybridrec.errors import ParamsError
from hybridrec.predictors import RatingPredictor
from tests.conftest import REPO, raw_params


def with_model(name, spec):
    raw = raw_params()
    raw["compare"]["models"][name] = spec
    return raw


def test_every_family_is_found():
    fams = registry.families()
    assert {"global_mean", "surprise", "gnn"} <= set(fams)
    for kind, cls in fams.items():
        assert issubclass(cls, RatingPredictor) and cls.kind == kind


def test_specs_are_typed_and_labelled():
    p = params.load(REPO / "params.yaml")
    svd = p.compare.models["svd"]
    assert isinstance(svd, params.ModelSpec) and svd.kind == "surprise" and svd.algo == "SVD"
    assert svd.label == "Surprise SVD"  # the family's default label
    assert p.compare.models["sage_paper"].label == "GraphSAGE, paper preset"  # an explicit one
    assert p.compare.models["global_mean"].label == "global mean"


@pytest.mark.parametrize("spec,message", [
    ({"kind": "xgboost"}, r"compare.models.m.kind must be one of"),
    ({"kind": "surprise", "algo": "SVDD"}, r"compare.models.m.algo = 'SVDD': must be a Surprise algorithm"),
    ({"kind": "surprise"}, r"compare.models.m.algo = None"),
    ({"kind": "surprise", "algo": "SVD", "options": {"n_factor": 5}}, r"SVD has no option 'n_factor'"),
    ({"kind": "surprise", "algo": "SVD", "search": {"lr_all": 0.01}}, r"search.lr_all must be a list of values or a range"),
    ({"kind": "gnn", "options": {"hiden": 8}}, r"unknown train option 'hiden'"),
    ({"kind": "gnn", "search": {"lr": ["fast"]}}, r"compare.models.m.lr = 'fast': must be a number"),
    ({"kind": "gnn", "algo": "SVD"}, r"unknown key compare.models.m.algo"),
    ({"kind": "gnn", "base": "svd"}, r"compare.models.m.base = 'svd': must name another gnn model"),
])
def test_bad_model_entries_fail_when_params_load(spec, message):
    with pytest.raises(ParamsError, match=message):
        params.parse(with_model("m", spec))


def test_build_resolves_base_and_tuned_settings():
    p = params.load(REPO / "params.yaml")
    ctx = zoo.Context(p, {"sage_tuned": {"hidden": 48, "lr": 0.003}})
    genres = zoo.build("sage_genres", ctx)
    assert genres.cfg.hidden == 48 and genres.cfg.lr == 0.003  # the base's tuned settings
    assert genres.cfg.features == ["genres"] and genres.cfg.weighted_loss is False  # its own + the base's options
    assert zoo.build("sage_paper", ctx).cfg == p.train  # the paper preset is the train section as is
    svd = zoo.build("svd", zoo.Context(p, {"svd": {"n_factors": 7}}), override={"n_epochs": 3})
    assert svd.options == {"n_factors": 7, "n_epochs": 3} and svd.name == "Surprise SVD"


README_FAMILY = '''
from hybridrec.predictors import RatingPredictor


class ItemMean(RatingPredictor):
    kind, deterministic = "item_mean", True

    def fit(self, data, seed):
        self.mu = data.train["rating"].mean()
        self.means = data.train.groupby("anime_idx")["rating"].mean().reindex(range(data.n_anime)).fillna(self.mu)
        return self

    def score(self, users, anime):
        return self.means.to_numpy()[anime]
'''


def test_a_new_family_is_one_module_and_a_params_entry(tmp_path, monkeypatch):
    """The README's "Add a model" example, as written: a module in a family folder + its params entry."""
    import sys

    import numpy as np
    import pandas as pd

    from hybridrec.predictors import SplitData

    pkg = tmp_path / "extra_families"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "item_mean.py").write_text(README_FAMILY)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "PACKAGES", registry.PACKAGES + ("extra_families",))
    registry.families.cache_clear()
    try:
        p = params.parse(with_model("item_mean", {"kind": "item_mean", "label": "item mean"}))
        model = zoo.build("item_mean", zoo.Context(p))
        train = pd.DataFrame({"user_idx": [0, 1, 1], "anime_idx": [0, 0, 1], "rating": [8, 6, 9]})
        data = SplitData(train, train, train, 2, 3)
        assert np.allclose(model.fit(data, 0).score(np.array([0, 0, 1]), np.array([0, 1, 2])), [7, 9, 23 / 3])
        assert model.name == "item mean"
    finally:
        registry.families.cache_clear()
        sys.modules.pop("extra_families.item_mean", None)
