"""Every baseline goes through the shared RatingPredictor interface; vectorised scores == Surprise's own."""

import numpy as np
import pandas as pd
import pytest

from baselines.surprise_models import ALGORITHMS, SurprisePredictor
from baselines.global_mean import GlobalMean
from hybridrec.predictors import SplitData

OPTIONS = {
    "SVD": {"n_factors": 8, "n_epochs": 5}, "SVDpp": {"n_factors": 4, "n_epochs": 2},
    "NMF": {"n_factors": 4, "n_epochs": 10}, "KNNBaseline": {"k": 5, "sim_name": "pearson_baseline",
                                                              "sim_user_based": False},
    "CoClustering": {"n_cltr_u": 3, "n_cltr_i": 3, "n_epochs": 5},
}


@pytest.fixture(scope="module")
def tiny():
    rng = np.random.default_rng(0)
    n_users, n_anime = 40, 30
    pairs = {(int(u), int(a)) for u, a in zip(rng.integers(0, n_users, 700), rng.integers(0, n_anime, 700))}
    df = pd.DataFrame(sorted(pairs), columns=["user_idx", "anime_idx"])
    df["rating"] = np.clip(np.rint(7 + rng.normal(0, 1.5, len(df)) + (df["anime_idx"] % 5 - 2) * 0.5), 1, 10).astype(int)
    idx = rng.permutation(len(df))
    train, val, test = df.iloc[idx[:500]], df.iloc[idx[500:600]], df.iloc[idx[600:]]
    # an unknown user (no training rating) and an unknown anime (never rated in training)
    test = pd.concat([test, pd.DataFrame({"user_idx": [n_users], "anime_idx": [0], "rating": [7]}),
                      pd.DataFrame({"user_idx": [0], "anime_idx": [n_anime], "rating": [8]})])
    return SplitData(train, val, test, n_users + 1, n_anime + 1)


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
