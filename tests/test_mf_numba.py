"""The suite's SVD, NMF and KNNBaseline (baselines/mf_numba.py: Surprise's training loops and pearson_baseline
similarity compiled with numba) train the same model as ``surprise.SVD.fit`` / ``NMF.fit`` / ``KNNBaseline.fit``
bit for bit: same start from the seed, same arithmetic in the
same order; and the same bits whatever CPU numba compiles for."""

import numpy as np
import pandas as pd
import pytest
import surprise

from baselines import mf_numba
from baselines.surprise_models import SurprisePredictor
from tests.conftest import bits_per_numba_cpu, make_toy_split
from tests.test_svdpp import make_dense_split

SPLITS = {"toy": make_toy_split, "dense": make_dense_split}
SETTINGS = {  # Surprise's defaults, the corners of params.yaml's searches, every flag
    "SVD": [{}, {"n_factors": 5, "n_epochs": 10, "lr_all": 0.001, "reg_all": 0.3},
            {"n_factors": 300, "n_epochs": 12, "lr_all": 0.03, "reg_all": 0.005},
            {"n_factors": 7, "n_epochs": 9, "biased": False, "lr_pu": 0.02, "reg_qi": 0.1, "init_std_dev": 0.3}],
    "NMF": [{}, {"n_factors": 3, "n_epochs": 20, "reg_pu": 0.005, "reg_qi": 0.5},
            {"n_factors": 50, "n_epochs": 30, "reg_pu": 0.5, "reg_qi": 0.005, "biased": True},
            {"n_factors": 9, "n_epochs": 11, "biased": True, "lr_bu": 0.02, "reg_bi": 0.1, "init_high": 0.5}],
}
FIELDS = ("bu", "bi", "pu", "qi")


@pytest.fixture(scope="module", params=sorted(SPLITS))
def split(request):
    return SPLITS[request.param]()


@pytest.mark.parametrize("seed", [0, 7])
@pytest.mark.parametrize(("algo", "setting"), [(a, k) for a in SETTINGS for k in range(len(SETTINGS[a]))])
def test_compiled_training_equals_surprise_bit_for_bit(split, algo, setting, seed, monkeypatch):
    options = SETTINGS[algo][setting]
    cls = getattr(surprise, algo)

    def refuse(self, trainset):
        raise AssertionError(f"the suite's {algo} must not train through surprise.{algo}.fit")

    with monkeypatch.context() as mp:
        mp.setattr(cls, "fit", refuse)
        model = SurprisePredictor(algo, options).fit(split, seed=seed)
    ref = cls(random_state=seed, **options).fit(model.trainset)  # Surprise's own training
    for name in FIELDS:
        ours, theirs = getattr(model.algo, name), getattr(ref, name)
        assert ours.dtype == theirs.dtype and np.array_equal(ours, theirs), (name, np.abs(ours - theirs).max())
    pairs = pd.concat([split.test, split.train.head(200)])
    theirs = np.array([ref.predict(u, i, clip=False).est for u, i in zip(pairs["user_idx"], pairs["anime_idx"])])
    assert np.allclose(model.predict(pairs), theirs, rtol=1e-12, atol=0)  # a dot product of the same bits


def test_seed_changes_the_model_and_repeats_it():
    split = make_dense_split()
    for algo in SETTINGS:
        a, b, c = (SurprisePredictor(algo, {"n_epochs": 5}).fit(split, seed=s).predict(split.test) for s in (4, 4, 5))
        assert np.array_equal(a, b) and not np.array_equal(a, c), algo


def test_nmf_division_by_zero_raises_as_in_surprise():
    """Ratings of 0 with estimates that underflow to 0 and no regularisation leave 0 / 0: Surprise's NMF (no cdivision) raises
    ZeroDivisionError; the compiled loop raises it too rather than writing inf or NaN into the factors."""
    df = pd.DataFrame({"u": [0, 0, 1], "i": [0, 1, 1], "r": [0.0, 0.0, 0.0]})
    ts = surprise.Dataset.load_from_df(df, surprise.Reader(rating_scale=(0, 5))).build_full_trainset()
    for fit in (lambda a: a.fit(ts), lambda a: mf_numba.fit_nmf(a, ts)):
        with pytest.raises(ZeroDivisionError):
            fit(surprise.NMF(n_factors=2, n_epochs=2, random_state=0, init_high=1e-300, reg_pu=0, reg_qi=0))


_BITS = """
import hashlib
from baselines.surprise_models import SurprisePredictor
from tests.test_svdpp import make_dense_split
h = hashlib.sha256()
for algo, options, fields in (("SVD", {"n_factors": 37, "n_epochs": 6, "lr_all": 0.02}, ("bu", "bi", "pu", "qi")),
                              ("NMF", {"n_factors": 21, "n_epochs": 6, "biased": True}, ("bu", "bi", "pu", "qi")),
                              ("KNNBaseline", {"sim_name": "pearson_baseline", "sim_user_based": False}, ("sim",))):
    a = SurprisePredictor(algo, options).fit(make_dense_split(), seed=2).algo
    h.update(b"".join(getattr(a, n).tobytes() for n in fields))
print(h.hexdigest())
"""


def test_same_bits_whatever_cpu_numba_compiles_for(tmp_path):
    """The kernels compiled for a generic x86-64 (no SIMD beyond the base ISA, no FMA) and for this host (its
    widest vectors, FMA where present) give the same bits."""
    out = bits_per_numba_cpu(_BITS, tmp_path)
    assert out["generic"] == out["host"] and len(out["host"]) == 64


@pytest.mark.parametrize("options", [{"sim_name": "pearson_baseline", "sim_user_based": False},
                                     {"sim_name": "pearson_baseline", "sim_user_based": False, "sim_shrinkage": 10,
                                      "sim_min_support": 3, "k": 7, "min_k": 2},
                                     {"sim_name": "pearson_baseline", "sim_user_based": True, "sim_shrinkage": 1000},
                                     {"sim_name": "msd", "sim_user_based": False}])
def test_knn_baseline_equals_surprise_bit_for_bit(split, options, monkeypatch):
    """KNNBaseline's baselines and similarity matrix as Surprise's own fit computes them (pearson_baseline through
    the compiled loop, which must be taken; another similarity through Surprise)."""
    from baselines.surprise_models import _options

    compiled = options["sim_name"] == "pearson_baseline"
    with monkeypatch.context() as mp:
        if compiled:
            mp.setattr(surprise.KNNBaseline, "fit", lambda self, ts: pytest.fail("trained through Surprise's fit"))
        model = SurprisePredictor("KNNBaseline", options)
        model.algo = surprise.KNNBaseline(**_options(options, surprise.KNNBaseline))
        ts = surprise.Dataset.load_from_df(split.train[["user_idx", "anime_idx", "rating"]],
                                           surprise.Reader(rating_scale=(1, 10))).build_full_trainset()
        ours = mf_numba.fit_knn_baseline(model.algo, ts)
    theirs = surprise.KNNBaseline(**_options(options, surprise.KNNBaseline)).fit(ts)
    for name in ("bu", "bi", "sim"):
        assert np.array_equal(getattr(ours, name), getattr(theirs, name)), name
    assert np.abs(ours.sim).max() > 0


def test_knn_baseline_predictor_takes_the_compiled_similarity(split, monkeypatch):
    from surprise import similarities

    monkeypatch.setattr(similarities, "pearson_baseline", lambda *a: pytest.fail("Surprise's similarity was used"))
    model = SurprisePredictor("KNNBaseline", {"sim_name": "pearson_baseline", "sim_user_based": False}).fit(split, 0)
    assert np.isfinite(model.predict(split.test)).all()
