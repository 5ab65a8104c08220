"""The per-task cache of the comparison: a rerun reuses every task and gives the same numbers bit for bit; a change
to one model's entry recomputes exactly that model's tasks (and its ablations'), and the result equals a cold
run; a change to a family's code invalidates that family only; a corrupt or partial entry is recomputed."""

import json

import numpy as np
import pytest

from hybridrec import codehash, experiment
from hybridrec.params import parse
from tests.conftest import raw_params, tiny_few

pytestmark = pytest.mark.slow


def few(**compare) -> dict:
    cfg = tiny_few()
    cfg["compare"].update(compare)
    return cfg


def run(cfg, cache_dir):
    p = parse(raw_params(**cfg))
    tuning, runs, preds = experiment.run(p, "random", workers=2, progress=False, cache_dir=cache_dir)
    return tuning, runs, preds, dict(experiment.LAST_TASKS)


def same(a, b) -> bool:
    """Every number of two runs equal (NaN == NaN), timings included: a cached task is its stored result."""
    ta, ra, pa, _ = a
    tb, rb, pb, _ = b
    return (json.dumps(ta, sort_keys=True) == json.dumps(tb, sort_keys=True)
            and json.dumps(ra, sort_keys=True) == json.dumps(rb, sort_keys=True)
            and pa.keys() == pb.keys() and all(np.array_equal(pa[k], pb[k]) for k in pa))


def numbers(x):
    """The runs without their timings (a cold run and a cached one time differently)."""
    tuning, runs, preds, _ = x
    strip = json.loads(json.dumps(runs), parse_constant=lambda c: c)
    for rec in strip.values():
        for r in rec["runs"] + rec["cross"]:
            r.pop("fit_seconds")
    tun = {n: {"best": t["best"], "replicates": [r["best"] for r in t["replicates"]]} for n, t in tuning.items()}
    return json.dumps(strip, sort_keys=True), json.dumps(tun, sort_keys=True), {k: v.tobytes() for k, v in preds.items()}


@pytest.fixture(scope="module")
def cold(project, tmp_path_factory):
    """The cold run's cache (the tests below add entries to it) and its result; a copy of its entries as that run
    left them is kept beside it, in ``tasks-cold``."""
    import shutil

    cache = tmp_path_factory.mktemp("taskcache") / "tasks"
    result = run(few(), cache)
    shutil.copytree(cache, cache.with_name("tasks-cold"))
    return cache, result


def test_a_rerun_reuses_every_task_bit_for_bit(cold):
    cache, first = cold
    again = run(few(), cache)
    assert all(v["computed"] == 0 and v["cached"] > 0 for v in again[3].values()), again[3]
    assert same(first, again)


def test_a_one_model_change_recomputes_that_model_only(cold, tmp_path):
    cache, _ = cold
    cfg = few()
    cfg["compare"]["models"]["svd"]["search"] = {"n_factors": [5, 20]}
    cfg["compare"]["models"]["hybrid"]["search"] = {"lr": [0.01, 0.02]}  # and ours: its ablation re-runs with it
    changed = run(cfg, cache)
    served = changed[3]
    recomputed = {n for n, v in served.items() if v["computed"]}
    assert recomputed == {"svd", "hybrid", "hybrid_no_content"}, served
    assert all(v["computed"] == 0 for n, v in served.items() if n not in recomputed)
    cold_run = run(cfg, None)  # the same params without any cache
    assert numbers(changed) == numbers(cold_run)


def test_a_family_code_change_invalidates_that_family(cold, monkeypatch):
    cache, _ = cold
    real = codehash.family_code_hash

    def edited(module):
        return real(module) + ("-edited" if module == "baselines.surprise_models" else "")

    monkeypatch.setattr(codehash, "family_code_hash", edited)
    served = run(few(), cache)[3]
    assert {n for n, v in served.items() if v["computed"]} == {"svd"}  # the only Surprise model here


def test_corrupt_or_partial_entries_are_recomputed(cold, tmp_path):
    import shutil

    cache, first = cold
    cache = shutil.copytree(cache.with_name("tasks-cold"), tmp_path / "tasks")  # the entries of few() alone
    entries = sorted(cache.glob("*.json"))
    npz = [f for f in sorted(cache.glob("*.npz")) if f.stem != entries[0].stem]  # another task's predictions
    entries[0].write_text(entries[0].read_text()[:40])  # a partial JSON
    with open(npz[0], "r+b") as f:  # flipped bytes in a prediction file
        f.seek(60)
        f.write(b"\x00\x01\x02\x03")
    for leftover in cache.glob(".*partial*"):
        leftover.unlink()
    again = run(few(), cache)
    assert sum(v["computed"] for v in again[3].values()) == 2  # both entries recomputed, not trusted
    assert numbers(again) == numbers(first)
