"""Replicates of the whole procedure: replicate r reads the split drawn with split.seed + r (replicate 0 is the
paper model's), tunes with tuning_seed + r and trains seeds + 1000 r; models whose settings come from tuning
get cross fits (replicate 0's settings on the other splits); the numbers do not depend on the worker count."""

import json

import numpy as np
import pytest

from hybridrec import experiment, io
from hybridrec.graph import read_split
from hybridrec.params import parse
from hybridrec.paths import Paths
from tests.conftest import raw_params, tiny_few

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def few(project):
    root, _ = project
    cfg = tiny_few()
    return parse(raw_params(**cfg))


@pytest.fixture(scope="module")
def ran(few):
    return experiment.run(few, "random", workers=2, progress=False)


def test_replicate_splits_have_their_own_seeds(project, few):
    paths = Paths(few.data.name)
    r0, _ = read_split(paths, "random", 0)
    r1, _ = read_split(paths, "random", 1)
    assert io.read_json(paths.split_info("random", 0))["seed"] == few.split.seed
    assert io.read_json(paths.split_info("random", 1))["seed"] == few.split.seed + 1
    assert paths.split_file("random", 0) == paths.split_file("random")  # the paper model's split
    assert len(r0) == len(r1) and not np.array_equal(r0["split"].to_numpy(), r1["split"].to_numpy())


def test_runs_are_nested_in_replicates_with_cross_fits(ran, few):
    tuning, runs, preds = ran
    R, S = few.compare.replicates, len(few.compare.seeds)
    for name, rec in runs.items():
        assert [r["replicate"] for r in rec["replicates"]] == list(range(R))
        seeds = [s for s in few.compare.seeds[: 1 if rec["deterministic"] else S]]
        for r in range(R):
            got = [x["seed"] for x in rec["runs"] if x["replicate"] == r]
            assert got == [s + 1000 * r for s in seeds], name
            assert preds[(name, r)].shape[0] == len(seeds)
        if rec["settings_from_tuning"]:  # the tuned models and their ablations
            assert [c["replicate"] for c in rec["cross"]] == list(range(1, R))
            for c in rec["cross"]:  # where replicate r tuned to replicate 0's settings, its first fit is reused
                same = rec["replicates"][c["replicate"]]["settings"] == rec["replicates"][0]["settings"]
                assert c.get("reused", False) == same, name
                if same:
                    first = next(x for x in rec["runs"] if x["replicate"] == c["replicate"])
                    assert {k: v for k, v in c.items() if k != "reused"} == first
        else:
            assert rec["cross"] == []
    for name, t in tuning.items():
        assert [x["seed"] for x in t["replicates"]] == [few.compare.tuning_seed + r for r in range(R)]
    # an ablation starts from its base's settings of the same replicate
    for r in range(R):
        base = tuning["sage_tuned"]["replicates"][r]["best"]
        assert {k: runs["sage_genres"]["replicates"][r]["settings"][k] for k in base} == base


def test_numbers_do_not_depend_on_the_worker_count(ran, few):
    _, runs2, preds2 = ran
    _, runs1, preds1 = experiment.run(few, "random", workers=1, progress=False)
    for key in preds1:
        assert np.array_equal(preds1[key], preds2[key]), key
    for name in runs1:
        strip = [{k: v for k, v in x.items() if k != "fit_seconds"} for x in runs1[name]["runs"] + runs1[name]["cross"]]
        strip2 = [{k: v for k, v in x.items() if k != "fit_seconds"} for x in runs2[name]["runs"] + runs2[name]["cross"]]
        assert json.dumps(strip, sort_keys=True) == json.dumps(strip2, sort_keys=True), name  # NaN == NaN
