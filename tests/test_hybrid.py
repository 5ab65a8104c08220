"""Ours (the hybrid family): outputs bounded to the rating range by construction, a defined prediction for an
anime without training ratings (its content), the ablations' switches, and seeded reproducibility."""

import os

import numpy as np
import pytest

from hybridrec import params, zoo
from hybridrec.paths import Paths


@pytest.fixture(scope="module")
def cold(tiny_project):
    root, p = tiny_project
    old = os.getcwd()
    os.chdir(root)
    data = zoo.split_data(Paths(p.data.name), "cold_items")
    data.graph_inputs(("synopsis", "genres"))  # load while in the project folder
    data.graph_inputs(("genres",))
    yield p, data
    os.chdir(old)


def fit(p, data, seed=0, **options):
    ctx = zoo.Context(p)
    return zoo.build("hybrid", ctx, override={"epochs": 30, "patience": 0, **options}).fit(data, seed)


def test_outputs_are_bounded_by_construction(cold):
    p, data = cold
    m = fit(p, data, lr=0.3)  # a large step size, to push scores to the extremes
    s = m.score_matrix(data.n_users, data.n_anime)
    assert s.min() >= 1.0 and s.max() <= 10.0 and np.isfinite(s).all()
    m.p = m.p * 1e3  # even absurd factors stay in the range
    s = m.score_matrix(data.n_users, data.n_anime)
    assert s.min() >= 1.0 and s.max() <= 10.0


def test_unseen_anime_get_their_content(cold):
    p, data = cold
    held = np.unique(data.test["anime_idx"])
    assert not np.isin(held, data.train["anime_idx"]).any()
    m = fit(p, data)
    s = m.score_matrix(data.n_users, data.n_anime)[:, held]
    assert np.isfinite(s).all() and s.std(axis=1).mean() > 1e-3  # anime differ by their content
    blind = fit(p, data, features=[])  # no content: an unseen anime is the global mean + the user's bias
    b = blind.score_matrix(data.n_users, data.n_anime)[:, held]
    assert np.allclose(b, b[:, :1])
    assert np.allclose(blind.predict(data.test), blind.score(data.test["user_idx"].to_numpy(),
                                                             data.test["anime_idx"].to_numpy()))


def test_switches_and_seeds(cold):
    p, data = cold
    a, b = fit(p, data, seed=1), fit(p, data, seed=1)
    assert np.array_equal(a.predict(data.test), b.predict(data.test))
    assert not np.array_equal(a.predict(data.test), fit(p, data, seed=2).predict(data.test))
    no_graph = fit(p, data, graph=False)
    assert not hasattr(no_graph.model, "A")
    content_only = fit(p, data, item_embeddings=False)
    assert not hasattr(content_only.model, "E")


def test_no_item_embeddings_and_no_content_is_refused():
    from tests.conftest import raw_params

    raw = raw_params()
    raw["compare"]["models"]["h"] = {"kind": "hybrid", "options": {"item_embeddings": False, "features": []}}
    with pytest.raises(params.ParamsError, match="no representation"):
        params.parse(raw)
