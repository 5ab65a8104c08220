"""A researcher's model meets the comparison: scores outside the rating range are clamped and counted (never an
assertion), non-finite ones are counted, and an exception in the model's code or a module that does not import is
one line naming the model, not a traceback."""

import numpy as np
import pytest

from hybridrec import experiment, params, registry
from hybridrec.errors import UserError
from hybridrec.predictors import RatingPredictor
from hybridrec.reporting.comparison import range_notes
from tests.conftest import TINY, deep_update, raw_params


class Wild(RatingPredictor):
    """Raw scores far outside 1..10 for half the pairs, NaN for every 7th anime when asked to."""

    kind = "wild_test_family"
    deterministic = True
    spec_keys = ("options",)

    @classmethod
    def from_spec(cls, spec, ctx, override=None):
        out = cls()
        out.name, out.nan = spec.label, spec.options.get("nan")
        return out

    def fit(self, data, seed):
        if self.nan == "raise":
            raise ValueError("boom")
        return self

    def score(self, users, anime):
        out = np.where(np.asarray(users) % 2 == 0, 25.0, -3.0)
        if self.nan:
            out = np.where(np.asarray(anime) % 7 == 0, np.nan, out)
        return out


@pytest.fixture
def with_wild(monkeypatch):
    fams = {**registry.families(), Wild.kind: Wild}
    monkeypatch.setattr(registry, "families", lambda: fams)


def wild_params(options=None):
    models = {"global_mean": {"kind": "global_mean"}, "sage_paper": {"kind": "gnn"},
              "wild": {"kind": Wild.kind, "role": "candidate", "options": options or {}}}
    cfg = deep_update(TINY, {"compare": {"models": models, "reference": "sage_paper", "ours": "wild",
                                         "protocols": {"random": "all"}, "pairs": [], "replicates": 1, "seeds": [0]}})
    raw = raw_params(**cfg)
    raw["compare"]["protocols"] = {"random": "all"}
    return params.parse(raw)


def test_scores_outside_the_range_are_clamped_and_counted(project, with_wild):
    p = wild_params()
    _, runs, preds = experiment.run(p, "random", workers=1, progress=False)
    run = runs["wild"]["runs"][0]
    n_test = run["test"]["n"]
    assert run["out_of_range"]["test"] == n_test and run["nan"]["test"] == 0
    assert np.isfinite(run["test"]["rmse"]) and run["test"]["rmse"] > 0  # measured on clamped predictions
    assert runs["global_mean"]["runs"][0]["out_of_range"] == {"val": 0, "test": 0}
    notes = range_notes(runs, (1, 10))
    assert any(f"of {n_test:,} test predictions over 1 run(s), {n_test:,} outside 1..10 (clamped)" in line
               for line in notes), notes
    assert not any("global mean" in line for line in notes)


def test_nan_scores_are_counted(project, with_wild):
    _, runs, _ = experiment.run(wild_params({"nan": True}), "random", workers=1, progress=False)
    run = runs["wild"]["runs"][0]
    assert run["nan"]["test"] > 0 and not np.isfinite(run["test"]["rmse"])
    assert any("NaN (those runs' metrics are NaN)" in line for line in range_notes(runs, (1, 10)))


def test_an_exception_in_a_models_code_is_one_line(project, with_wild, monkeypatch):
    monkeypatch.delenv("HYBRIDREC_TRACEBACK", raising=False)
    with pytest.raises(UserError, match=r"^compare.models.wild failed while fitting replicate 0 seed 0: "
                                        r"ValueError: boom \(HYBRIDREC_TRACEBACK=1 shows where\)$"):
        experiment.run(wild_params({"nan": "raise"}), "random", workers=1, progress=False)
    monkeypatch.setenv("HYBRIDREC_TRACEBACK", "1")
    with pytest.raises(ValueError, match="boom"):
        experiment.run(wild_params({"nan": "raise"}), "random", workers=1, progress=False)


def test_a_family_module_that_does_not_import_is_one_line(monkeypatch):
    monkeypatch.delenv("HYBRIDREC_TRACEBACK", raising=False)
    real = registry.importlib.import_module

    def broken(name):
        if name == "baselines.global_mean":
            raise SyntaxError("invalid syntax", ("baselines/global_mean.py", 3, 1, "x ="))
        return real(name)

    monkeypatch.setattr(registry.importlib, "import_module", broken)
    registry.families.cache_clear()
    try:
        with pytest.raises(UserError, match=r"^baselines/global_mean.py, line 3: the model family module does not "
                                            r"import: SyntaxError"):
            registry.families()
    finally:
        monkeypatch.undo()
        registry.families.cache_clear()
