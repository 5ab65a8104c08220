"""Every baseline goes through the shared RatingPredictor interface; vectorised scores == Surprise's own."""

import numpy as np
import pandas as pd
import pytest

from baselines.surprise_models import ALGORITHMS, SurprisePredictor
from baselines.global_mean import GlobalMean
from tests.conftest import make_toy_split

OPTIONS = {
    "SVD": {"n_factors": 8, "n_epochs": 5}, "SVDpp": {"n_factors": 4, "n_epochs": 2},
    "NMF": {"n_factors": 4, "n_epochs": 10}, "KNNBaseline": {"k": 5, "sim_name": "pearson_baseline",
                                                              "sim_user_based": False},
    "CoClustering": {"n_cltr_u": 3, "n_cltr_i": 3, "n_epochs": 5},
}


@pytest.fixture(scope="module")
def tiny():
    return make_toy_split()


@pytest.mark.parametrize("algo", sorted(ALGORITHMS))
def test_surprise_scores_match_surprise_predict(tiny, algo):
    model = SurprisePredictor(algo, OPTIONS.get(algo, {})).fit(tiny, seed=3)
    pairs = pd.concat([tiny.test, tiny.train.head(50)])
    ours = np.clip(model.predict(pairs), 1, 10)
    if algo == "NormalPredictor":  # random draws: check the distribution instead of values
        assert abs(ours.mean() - tiny.train["rating"].mean()) < 0.6
        return
    theirs = np.array([model.algo.predict(u, i).est for u, i in zip(pairs["user_idx"], pairs["anime_idx"])])
    assert np.allclose(ours, theirs, atol=1e-6), (algo, np.abs(ours - theirs).max())


@pytest.mark.parametrize("algo", sorted(ALGORITHMS))
def test_interface_and_score_matrix(tiny, algo):
    model = SurprisePredictor(algo, OPTIONS.get(algo, {})).fit(tiny, seed=1)
    m = model.test(tiny.test, tiny.scale)
    assert set(m) == {"rmse", "mae", "accuracy", "within1", "n"} and m["n"] == len(tiny.test)
    full = model.score_matrix(tiny.n_users, tiny.n_anime)
    assert full.shape == (tiny.n_users, tiny.n_anime)
    if algo != "NormalPredictor":
        t = tiny.test
        assert np.allclose(full[t["user_idx"], t["anime_idx"]], model.predict(t))


def test_seeded_models_repeat(tiny):
    a = SurprisePredictor("SVD", OPTIONS["SVD"]).fit(tiny, seed=5).predict(tiny.test)
    b = SurprisePredictor("SVD", OPTIONS["SVD"]).fit(tiny, seed=5).predict(tiny.test)
    c = SurprisePredictor("SVD", OPTIONS["SVD"]).fit(tiny, seed=6).predict(tiny.test)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_global_mean(tiny):
    g = GlobalMean().fit(tiny, seed=0)
    assert np.allclose(g.predict(tiny.test), tiny.train["rating"].mean())
