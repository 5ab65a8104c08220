"""Faults found by the second hostile probe (issue 23's new cases): each is one readable line or a recomputed
task, never a traceback or a silently trusted entry."""

import errno
import json

import numpy as np
import pytest

from hybridrec import io, params, taskcache, zoo
from hybridrec.errors import ParamsError, UserError, one_line_errors
from hybridrec.reporting.comparison import plot
from tests.conftest import raw_params


# --- the per-task cache: an entry of the wrong shape is recomputed, never trusted --------------------------------

def write_entry(folder, key, text, pred=None):
    folder.mkdir(parents=True, exist_ok=True)
    if pred is not None:
        np.savez(folder / f"{key}.npz", pred=pred)
    (folder / f"{key}.json").write_text(text)


@pytest.mark.parametrize("text", ["null", "[]", '"x"', '{"version": 1, "key": "K", "result": null}',
                                  '{"version": 1, "key": "K", "result": [1, 2]}'])
def test_an_entry_that_is_not_an_entry_is_recomputed(tmp_path, text):
    cache = taskcache.TaskCache(tmp_path)
    write_entry(tmp_path, "K", text)
    assert cache.get("K") is None and cache.corrupt == 1


def test_the_consumers_check_decides(tmp_path):
    """A well-formed entry whose content the consumer refuses (a tuning under a fit's key, predictions of another
    fit) is recomputed and counted."""
    cache = taskcache.TaskCache(tmp_path)
    cache.put("K", {"run": {"seed": 0}}, np.zeros(3, np.float32))

    def refuse(result, pred):
        raise KeyError("settings")

    assert cache.get("K", refuse) is None and cache.corrupt == 1
    assert cache.get("K", lambda result, pred: None) is not None


def test_a_fit_entry_must_be_this_fits(project):
    """_Keys.check_fit: another replicate's or seed's result, predictions of another length, or predictions that
    do not give the stored test RMSE (another fit's, copied in with their sha256) are refused."""
    from hybridrec.experiment import _Keys
    from hybridrec.graph import read_split

    root, p = project
    keys = _Keys(p, "random", params.protocol_models(p, "random"))
    split, _ = read_split(__import__("hybridrec.paths", fromlist=["Paths"]).Paths(p.data.name), "random", 0)
    rating = split.loc[split["split"] == "test", "rating"].to_numpy(np.float64)
    pred = np.clip(rating + 0.5, 1, 10).astype(np.float32)
    rmse = float(np.sqrt(np.mean((np.clip(pred.astype(np.float64), 1, 10) - rating) ** 2)))
    good = {"run": {"seed": 3, "replicate": 0, "test": {"rmse": rmse}}, "settings": {}}
    keys.check_fit(0, 3, good, pred)  # accepted
    with pytest.raises(ValueError, match="another fit"):
        keys.check_fit(0, 4, good, pred)
    with pytest.raises(ValueError, match="predictions for"):
        keys.check_fit(0, 3, good, pred[:-1])
    with pytest.raises(ValueError, match="its predictions give test RMSE"):
        keys.check_fit(0, 3, good, np.roll(pred, 1) + 1)
    with pytest.raises((KeyError, TypeError)):
        keys.check_fit(0, 3, {"run": good["run"]}, pred)


# --- a full disk names the output -------------------------------------------------------------------------------

def test_a_write_that_fails_without_a_file_name_names_the_output(tmp_path, capsys):
    target = tmp_path / "out.json"

    def fill_the_disk():
        with io.atomic_path(target) as tmp:
            tmp.write_text("x")
            raise OSError(errno.ENOSPC, "No space left on device")  # what write(2) raises: no file name

    with pytest.raises(SystemExit) as e:
        one_line_errors(fill_the_disk)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {target}: No space left on device") and "Traceback" not in err
    assert not target.exists() and not list(tmp_path.glob(".out.json.partial-*"))


# --- params: seeds, alpha, a mistyped reference -----------------------------------------------------------------

@pytest.mark.parametrize("section,key,value", [("split", "seed", -1), ("subset", "seed", -2),
                                               ("compare", "bootstrap_seed", -3), ("compare", "tuning_seed", -1),
                                               ("synthetic", "seed", -1), ("train", "seed", 2**40)])
def test_params_refuse_a_seed_numpy_cannot_take(section, key, value):
    with pytest.raises(ParamsError, match=rf"{section}.{key} = {value}: a seed must be a whole number"):
        params.parse(raw_params(**{section: {key: value}}))


@pytest.mark.parametrize("alpha", [0, 1, -0.5, 1.5])
def test_params_refuse_an_alpha_outside_0_1(alpha):
    with pytest.raises(ParamsError, match="compare.alpha"):
        params.parse(raw_params(compare={"alpha": alpha}))


def test_a_mistyped_reference_is_named_as_such():
    with pytest.raises(ParamsError, match=r"compare.reference names model 'sage_papr', which is not in compare.models"):
        params.parse(raw_params(compare={"reference": "sage_papr"}))


# --- a NaN model in the figure; a failing trial's traceback; recommend by a model not on random -----------------

@pytest.mark.parametrize("order", [("a", "nan_model", "b"), ("nan_model", "a", "b"), ("a", "b", "nan_model")])
def test_the_figure_skips_a_model_with_nan_rmse(tmp_path, order):
    means = {"a": 1.2, "b": 1.3, "nan_model": float("nan")}
    agg = {n: {"rmse": {"mean": means[n]}, "rmse_ci": {"ci_low": means[n] - 0.1, "ci_high": means[n] + 0.1}}
           for n in order}
    runs = {n: {"kind": "surprise", "label": n} for n in agg}
    plot(tmp_path / "rmse_ci.png", agg, runs, None, "x")
    assert (tmp_path / "rmse_ci.png").stat().st_size > 0


def test_a_trial_that_raises_prints_no_optuna_traceback(toy_split, capfd, monkeypatch):
    from baselines.surprise_models import SurprisePredictor

    def broken_fit(self, data, seed):
        raise UserError("data/x/embeddings.npz: file not found")

    monkeypatch.setattr(SurprisePredictor, "fit", broken_fit)
    p = params.parse(raw_params())
    with pytest.raises(UserError, match="embeddings.npz"):
        zoo.tune("svd", zoo.Context(p), toy_split, trials=2, seed=0)
    err = capfd.readouterr().err
    assert "Traceback" not in err and "failed with parameters" not in err


def test_recommend_refuses_a_model_not_compared_on_random():
    from hybridrec.commands import recommend_with
    from hybridrec.paths import Paths

    raw = raw_params()
    raw["compare"]["models"]["svd"]["protocols"] = ["cold_items"]
    p = params.parse(raw)
    with pytest.raises(UserError, match="--model svd: not compared on protocol random"):
        recommend_with(p, Paths(p.data.name), "svd", 0, 10)


def test_cache_entries_round_trip_json(tmp_path):
    cache = taskcache.TaskCache(tmp_path)
    cache.put("K", {"best": {"lr": 0.1}})
    assert json.loads((tmp_path / "K.json").read_text())["result"] == {"best": {"lr": 0.1}}


@pytest.mark.parametrize("entry", [{"kind": "surprise", "algo": "KNNBaseline"},
                                   {"kind": "surprise", "algo": "KNNBaseline", "options": {"sim_user_based": True}},
                                   {"kind": "surprise", "algo": "KNNBaseline", "options": {"sim_user_based": False},
                                    "search": {"sim_user_based": [False, True]}}])
def test_a_user_based_knn_is_refused_when_params_load(entry):
    """Found by the MovieLens run: the item-based-only KNNBaseline failed inside a worker, half-way through."""
    raw = raw_params()
    raw["compare"]["models"]["knn_user"] = entry
    with pytest.raises(ParamsError, match="KNNBaseline runs item-based similarity only"):
        params.parse(raw)


def test_a_worker_interrupted_while_it_imports_the_stage_stays_silent(tmp_path):
    """Ctrl-C reaches every process of the group: a spawned pool worker that is still importing the stage script
    (multiprocessing's preparation, where its parent_process() is not set yet) must not print the stage's
    one line a second time (seen as two lines under load in the slow Ctrl-C test)."""
    import subprocess
    import sys
    import textwrap

    stages = tmp_path / "stages"
    stages.mkdir()
    (stages / "fake.py").write_text(textwrap.dedent("""
        import multiprocessing
        import hybridrec  # noqa: F401  (installs the Ctrl-C hook, as every stage script does)

        if __name__ == "__mp_main__":  # the worker, importing the stage script while it is prepared
            raise KeyboardInterrupt

        def task():
            pass

        if __name__ == "__main__":
            p = multiprocessing.get_context("spawn").Process(target=task)
            p.start()
            p.join()
            print("worker exit", p.exitcode)
    """))
    out = subprocess.run([sys.executable, "stages/fake.py"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=120)
    assert "worker exit" in out.stdout, out.stderr[-2000:]
    assert "interrupted (Ctrl-C)" not in out.stderr, out.stderr[-2000:]
