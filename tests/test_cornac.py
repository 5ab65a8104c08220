"""Cornac models (family ``cornac``) behind the RatingPredictor interface: vectorised scores == Cornac's own
``model.score`` on its inner indices, the documented fallbacks for unseen users and anime, seeds, and bad
entries failing when params load."""

import numpy as np
import pandas as pd
import pytest

from baselines.cornac_models import ALGORITHMS, CornacPredictor
from hybridrec import params, zoo
from hybridrec.errors import ParamsError
from hybridrec.predictors import SplitData
from tests.conftest import REPO, raw_params

NEW_USER, NEW_ANIME = 5, 7
USER, ANIME = 9, 12  # seen in training, after the unseen ones
OPTIONS = {"MF": {"k": 4, "max_iter": 10}, "HFT": {"k": 4, "max_iter": 3, "grad_iter": 3}}
WORDS = ("robot pilot school girl magic sword dragon love war city space ship clone hacker demon idol band cook "
         "detective murder ghost village train summer festival prince").split()


@pytest.fixture(scope="module")
def tiny():
    rng = np.random.default_rng(0)
    n_users, n_anime = 40, 30
    pairs = {(int(u), int(a)) for u, a in zip(rng.integers(0, n_users, 1000), rng.integers(0, n_anime, 1000))}
    df = pd.DataFrame(sorted(pairs), columns=["user_idx", "anime_idx"])
    df["rating"] = np.clip(np.rint(7 + rng.normal(0, 1.5, len(df)) + (df["anime_idx"] % 5 - 2) * 0.5), 1, 10).astype(int)
    idx = rng.permutation(len(df))
    train, val, test = df.iloc[idx[:500]], df.iloc[idx[500:600]], df.iloc[idx[600:]]
    # an unseen user and an unseen anime (no training rating; the anime has a synopsis) in the middle of the
    # id ranges, so that Cornac's inner indices differ from ours
    cold = train["user_idx"].eq(NEW_USER) | train["anime_idx"].eq(NEW_ANIME)
    train, test = train[~cold], pd.concat([test, train[cold]])
    texts = [" ".join(rng.choice(WORDS, 15)) + ".\nThe end, " for _ in range(n_anime)]
    return SplitData(train, val, test, n_users, n_anime, item_text=lambda: texts)


def fit(tiny, algo, seed=3, **options):
    return CornacPredictor(algo, {**OPTIONS[algo], **options}).fit(tiny, seed=seed)


def known(tiny, model):
    """Test pairs whose user and anime both have training ratings, plus some training pairs."""
    t = pd.concat([tiny.test, tiny.train.head(50)])
    return t[model.known_user[t["user_idx"]] & model.known_item[t["anime_idx"]]]


@pytest.mark.parametrize("algo", sorted(ALGORITHMS))
def test_scores_match_cornac_score(tiny, algo):
    model = fit(tiny, algo)
    pairs = known(tiny, model)
    assert len(pairs) > 100
    c = model.model
    assert c.uid_map[USER] != USER and (algo == "HFT" or c.iid_map[ANIME] != ANIME)  # inner ids are not ours
    theirs = np.array([c.score(c.uid_map[u], c.iid_map[i]) for u, i in zip(pairs["user_idx"], pairs["anime_idx"])])
    ours = model.predict(pairs)
    assert np.allclose(ours, theirs, atol=1e-5), (algo, np.abs(ours - theirs).max())  # MF computes in float32
    full = model.score_matrix(tiny.n_users, tiny.n_anime)
    assert full.shape == (tiny.n_users, tiny.n_anime)
    assert np.allclose(full[tiny.test["user_idx"], tiny.test["anime_idx"]], model.predict(tiny.test))
    m = model.test(tiny.test, tiny.scale)
    assert set(m) == {"rmse", "mae", "accuracy", "within1", "n"} and m["n"] == len(tiny.test)


def test_mf_unseen_user_and_anime(tiny):
    model = fit(tiny, "MF")
    c, new_u, new_i = model.model, NEW_USER, NEW_ANIME
    u0, i0 = c.uid_map[USER], c.iid_map[ANIME]
    got = model.score(np.array([new_u, USER, new_u]), np.array([ANIME, new_i, new_i]))
    assert np.isfinite(got).all()
    assert np.isclose(got[0], c.score(c.num_users, i0), atol=1e-5)  # Cornac's own unknown-user rule
    assert np.isclose(got[0], c.global_mean + c.i_biases[i0], atol=1e-5)
    assert np.isclose(got[1], c.global_mean + c.u_biases[u0], atol=1e-5)  # mu + b_u (Cornac raises here)
    assert np.isclose(got[2], c.global_mean, atol=1e-5)
    # without biases: the training mean for anything unseen (Cornac's MF would give 0)
    plain = fit(tiny, "MF", use_bias=False)
    got = plain.score(np.array([new_u, USER, new_u, USER]), np.array([ANIME, new_i, new_i, ANIME]))
    assert np.allclose(got[:3], tiny.train["rating"].mean()) and got[3] != got[0]


def test_hft_unseen_user_and_anime(tiny):
    model = fit(tiny, "HFT")
    c, new_u, new_i = model.model, NEW_USER, NEW_ANIME
    assert new_i in c.iid_map and new_u not in c.uid_map  # every anime is in HFT's corpus; users as rated
    u0, i0, ic = c.uid_map[USER], c.iid_map[ANIME], c.iid_map[new_i]
    got = model.score(np.array([new_u, USER, new_u]), np.array([ANIME, new_i, new_i]))
    assert np.isfinite(got).all()
    assert np.isclose(got[0], c.alpha + c.beta_i[i0])  # offset + item bias
    # offset + user bias + factors . the unrated anime's text-inferred factors (its untrained bias -> 0)
    assert np.abs(c.gamma_i[ic]).sum() > 0
    assert np.isclose(got[1], c.alpha + c.beta_u[u0] + c.gamma_u[u0] @ c.gamma_i[ic])
    assert np.isclose(got[2], c.alpha)
    assert "synopsis" in model.unseen_item and model.consumes == "ratings + synopses (bag of words)"
    # the vocabulary: no empty or glued tokens from ".\nThe end, " ('the' is a stop word)
    assert fit(tiny, "HFT", text_max_doc_freq=1.0).vocab_size == len(WORDS) + 1
    assert model.vocab_size < len(WORDS)  # the default drops words in more than half of the synopses


@pytest.mark.parametrize("algo", sorted(ALGORITHMS))
def test_seeds(tiny, algo):
    state = np.random.get_state()[1].copy()
    a = fit(tiny, algo, seed=5).score_matrix(tiny.n_users, tiny.n_anime)
    b = fit(tiny, algo, seed=5).score_matrix(tiny.n_users, tiny.n_anime)
    c = fit(tiny, algo, seed=6).score_matrix(tiny.n_users, tiny.n_anime)
    assert np.array_equal(a, b) and not np.allclose(a, c)
    assert np.array_equal(np.random.get_state()[1], state)  # HFT's global-RNG seeding is undone
    assert CornacPredictor.deterministic is False


def with_model(name, spec):
    raw = raw_params()
    raw["compare"]["models"][name] = spec
    return raw


@pytest.mark.parametrize("spec,message", [
    ({"kind": "cornac", "algo": "BPR"}, r"compare.models.m.algo = 'BPR': must be a Cornac algorithm \(MF, HFT\)"),
    ({"kind": "cornac"}, r"compare.models.m.algo = None"),
    ({"kind": "cornac", "algo": "MF", "options": {"n_factors": 5}}, r"compare.models.m: Cornac MF has no option 'n_factors'"),
    ({"kind": "cornac", "algo": "MF", "search": {"lr": [0.01]}}, r"compare.models.m: Cornac MF has no option 'lr'"),
    ({"kind": "cornac", "algo": "MF", "options": {"text_max_vocab": 5}}, r"Cornac MF has no option 'text_max_vocab'"),
    ({"kind": "cornac", "algo": "MF", "options": {"seed": 1}}, r"Cornac MF has no option 'seed'"),
    ({"kind": "cornac", "algo": "HFT", "options": {"text_max_words": 5}}, r"compare.models.m: HFT has no text option 'text_max_words'"),
    ({"kind": "cornac", "algo": "HFT", "search": {"vocab_size": [5]}}, r"compare.models.m: HFT option 'vocab_size' is set from"),
    ({"kind": "cornac", "algo": "HFT", "options": {"lambda_reg": 0.1}}, r"Cornac HFT has no option 'lambda_reg'"),
])
def test_bad_entries_fail_when_params_load(spec, message):
    with pytest.raises(ParamsError, match=message):
        params.parse(with_model("m", spec))


def test_good_entries_build(tiny):
    p = params.parse(with_model("hft", {"kind": "cornac", "algo": "HFT", "options": {"k": 4, "text_max_vocab": 20},
                                        "search": {"lambda_text": [0.01, 0.1]}}))
    spec = p.compare.models["hft"]
    assert spec.label == "Cornac HFT"
    model = zoo.build("hft", zoo.Context(p, {"hft": {"l2_reg": 0.01}}),
                      override={"lambda_text": 0.01})
    assert model.options == {"k": 4, "text_max_vocab": 20, "l2_reg": 0.01, "lambda_text": 0.01}
    assert model.settings()["text_stop_words"] == "english"
    with pytest.raises(ParamsError, match="text_stop_words"):
        CornacPredictor("HFT", {**OPTIONS["HFT"], "text_stop_words": "french"}).fit(tiny, 0)
    with pytest.raises(ParamsError, match="bad option for Cornac MF"):
        CornacPredictor("MF", {"k": 4, "bogus": 1}).fit(tiny, 0)
    assert params.load(REPO / "params.yaml")  # the repository's own params still load


def test_listed_arguments_are_cornacs_own():
    from baselines.cornac_models import ALGORITHMS, _signature_arguments

    for algo, a in ALGORITHMS.items():
        assert a.arguments == _signature_arguments(algo), algo


# --- HFT's inner model with its Python loops vectorised (baselines/hft_vectorised.py) ------------------------

def _hft_models(k=4, n_user=12, n_item=9, n_vocab=20, seed=0):
    """Cornac's hft.Model and the vectorised one, with the same parameters, counts and rating data."""
    from cornac.models.hft.hft import Model

    from baselines.hft_vectorised import vectorised_model

    rng = np.random.default_rng(seed)
    kw = dict(n_user=n_user, n_item=n_item, n_vocab=n_vocab, alpha=7.0, beta_u=rng.normal(0, 0.1, n_user),
              beta_i=rng.normal(0, 0.1, n_item), gamma_u=rng.normal(0, 0.3, (n_user, k)),
              gamma_i=rng.normal(0, 0.3, (n_item, k)), k=k, lambda_text=0.2, l2_reg=0.01)
    docs = [rng.integers(0, n_vocab, rng.integers(0, 12)) for _ in range(n_item)]  # some documents empty
    pairs = sorted({(int(u), int(i)) for u, i in zip(rng.integers(0, n_user - 1, 60), rng.integers(0, n_item, 60))})
    user_data = ([np.array([i for u2, i in pairs if u2 == u], dtype=np.int64) for u in range(n_user)],
                 [rng.integers(1, 11, sum(u2 == u for u2, _ in pairs)).astype(float) for u in range(n_user)])
    item_data = ([np.array([u for u, i2 in pairs if i2 == i], dtype=np.int64) for i in range(n_item)], None)
    rating = {(u, i): r for u in range(n_user) for i, r in zip(user_data[0][u], user_data[1][u])}
    item_data = (item_data[0], [np.array([rating[(u, i)] for u in item_data[0][i]]) for i in range(n_item)])
    out = []
    for cls in (Model, vectorised_model()):
        np.random.seed(11)
        m = cls(**kw)
        m.init_count(docs)
        out.append(m)
    return out, docs, (user_data, item_data)


def test_vectorised_hft_objective_and_gradient_equal_cornacs():
    (orig, fast), docs, data = _hft_models()
    for m in (orig, fast):
        np.random.seed(5)
        m.assign_word_topics(docs)
    x = orig.params + np.random.default_rng(1).normal(0, 0.1, orig.params.shape)
    (lo, go), (lf, gf) = orig._func(x, *data), fast._func(x, *data)
    assert lf == pytest.approx(lo, rel=1e-12) and np.allclose(gf, go, rtol=1e-10, atol=1e-12)


def test_vectorised_hft_topic_draws_are_cornacs():
    (orig, fast), docs, _ = _hft_models(seed=2)
    orig.params[-orig.n_vocab * orig.k:] = fast.params[-fast.n_vocab * fast.k:] = np.random.default_rng(3).normal(
        0, 1, orig.n_vocab * orig.k)
    for sweep in range(3):
        for m in (orig, fast):
            np.random.seed(100 + sweep)  # the same uniform draws for both
            m.assign_word_topics(docs)
        assert all(np.array_equal(a, b) for a, b in zip(orig.topic_assignment, fast.topic_assignment))
        for attr in ("word_topic_cnt", "item_topic_cnt", "topic_cnt"):
            assert np.array_equal(getattr(orig, attr), getattr(fast, attr)), attr
        assert np.array_equal(orig.background_word, fast.background_word)
    assert np.random.rand() == pytest.approx(np.random.RandomState(102).rand(sum(map(len, docs)) + 1)[-1])


def test_vectorised_hft_fits_the_same_model(tiny, monkeypatch):
    import baselines.cornac_models as cm

    monkeypatch.setattr(cm, "VECTORISED_HFT", False)
    slow = fit(tiny, "HFT", seed=4, max_iter=4, grad_iter=8)
    monkeypatch.setattr(cm, "VECTORISED_HFT", True)
    fast = fit(tiny, "HFT", seed=4, max_iter=4, grad_iter=8)
    assert np.allclose(fast.predict(tiny.test), slow.predict(tiny.test), rtol=0, atol=1e-6)
