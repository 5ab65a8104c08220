"""The suite's SVD++ (baselines/svdpp_numba.py: Surprise's SGD with the y_j updates applied lazily per user block)
trains the same model as ``surprise.SVDpp.fit``: same start from the seed, same updates in the same order, so the
parameters and predictions agree up to rounding (measured ~1e-14 relative; asserted to 1e-10)."""

import numpy as np
import pandas as pd
import pytest
import surprise

from baselines import svdpp_numba
from baselines.surprise_models import SurprisePredictor
from hybridrec.predictors import SplitData
from tests.conftest import make_toy_split

RTOL = 1e-10  # relative to the largest magnitude of each array (the rounding differences are ~1e-14)
SETTINGS = [  # (n_factors, n_epochs, lr_all, reg_all): Surprise's defaults and the corners of params.yaml's search
    {},
    {"n_factors": 5, "n_epochs": 10, "lr_all": 0.002, "reg_all": 0.3},
    {"n_factors": 60, "n_epochs": 40, "lr_all": 0.02, "reg_all": 0.005},
    {"n_factors": 13, "n_epochs": 7, "lr_all": 0.011, "reg_all": 0.05, "lr_yj": 0.004, "reg_bu": 0.1},
]


def make_dense_split():
    """A split with heavy users: 6 users with 120-200 ratings and 40 with 2-25, over 250 anime (ratings 1..10)."""
    rng = np.random.default_rng(11)
    n_users, n_anime = 46, 250
    counts = np.concatenate([rng.integers(120, 201, 6), rng.integers(2, 26, n_users - 6)])
    rows = []
    for u in rng.permutation(n_users):
        for a in rng.choice(n_anime, counts[u], replace=False):
            rows.append((int(u), int(a), int(np.clip(np.rint(6.5 + rng.normal(0, 2) + (a % 7 - 3) * 0.3), 1, 10))))
    df = pd.DataFrame(rows, columns=["user_idx", "anime_idx", "rating"])
    idx = rng.permutation(len(df))
    n_train = int(0.85 * len(df))
    return SplitData(df.iloc[idx[:n_train]], df.iloc[idx[n_train:]].head(0), df.iloc[idx[n_train:]], n_users, n_anime)


SPLITS = {"toy": make_toy_split, "dense": make_dense_split}


@pytest.fixture(scope="module", params=sorted(SPLITS))
def split(request):
    return SPLITS[request.param]()


def _close(ours, theirs):
    return np.abs(ours - theirs).max() <= RTOL * max(np.abs(theirs).max(), 1e-300)


@pytest.mark.parametrize("seed", [0, 7])
@pytest.mark.parametrize("setting", range(len(SETTINGS)))
def test_fast_svdpp_equals_surprise(split, setting, seed, monkeypatch):
    options = SETTINGS[setting]

    def refuse(self, trainset):
        raise AssertionError("the suite's SVD++ must not train through surprise.SVDpp.fit")

    with monkeypatch.context() as mp:
        mp.setattr(surprise.SVDpp, "fit", refuse)
        model = SurprisePredictor("SVDpp", {"cache_ratings": True, **options}).fit(split, seed=seed)
    ref = surprise.SVDpp(random_state=seed, **options).fit(model.trainset)  # Surprise's own training

    for name in ("bu", "bi", "pu", "qi", "yj"):
        ours, theirs = getattr(model.algo, name), getattr(ref, name)
        assert ours.shape == theirs.shape and _close(ours, theirs), (name, np.abs(ours - theirs).max())
    pairs = pd.concat([split.test, split.train.head(200)])
    ours = model.predict(pairs)
    theirs = np.array([ref.predict(u, i, clip=False).est for u, i in zip(pairs["user_idx"], pairs["anime_idx"])])
    assert _close(ours, theirs), np.abs(ours - theirs).max()
    full = model.score_matrix(split.n_users, split.n_anime)
    assert _close(full[pairs["user_idx"], pairs["anime_idx"]], theirs)


def test_dense_split_has_heavy_users():
    ts = SurprisePredictor("SVDpp", {"n_epochs": 1}).fit(make_dense_split(), seed=0).trainset
    assert sum(len(r) >= 100 for r in ts.ur.values()) >= 5


def test_seed_repeats_bit_for_bit():
    split = make_dense_split()
    a = SurprisePredictor("SVDpp", {"n_factors": 8, "n_epochs": 5}).fit(split, seed=4).predict(split.test)
    b = SurprisePredictor("SVDpp", {"n_factors": 8, "n_epochs": 5}).fit(split, seed=4).predict(split.test)
    c = SurprisePredictor("SVDpp", {"n_factors": 8, "n_epochs": 5}).fit(split, seed=5).predict(split.test)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_a_user_rating_an_item_twice_trains_through_surprise():
    """The lazy update applies one affine map per rating to each y_j of I_u; an item twice in I_u gets it twice
    in Surprise, so such a trainset is left to Surprise's own loop (the suite's data refuses duplicate pairs)."""
    df = pd.DataFrame({"u": [0, 0, 0, 1, 1, 2], "i": [0, 1, 0, 1, 2, 2], "r": [3.0, 4, 5, 2, 1, 4]})
    ts = surprise.Dataset.load_from_df(df, surprise.Reader(rating_scale=(1, 5))).build_full_trainset()
    ours = svdpp_numba.fit(surprise.SVDpp(n_factors=3, n_epochs=4, random_state=1), ts)
    theirs = surprise.SVDpp(n_factors=3, n_epochs=4, random_state=1).fit(ts)
    assert all(np.array_equal(getattr(ours, n), getattr(theirs, n)) for n in ("bu", "bi", "pu", "qi", "yj"))


_BITS = """
import hashlib, surprise
from baselines import svdpp_numba
from baselines.surprise_models import SurprisePredictor
from tests.test_svdpp import make_dense_split
a = SurprisePredictor("SVDpp", {"n_factors": 24, "n_epochs": 6, "lr_all": 0.02}).fit(make_dense_split(), seed=2).algo
print(hashlib.sha256(b"".join(getattr(a, n).tobytes() for n in ("bu", "bi", "pu", "qi", "yj"))).hexdigest())
"""


def test_same_bits_whatever_cpu_numba_compiles_for(tmp_path):
    """platform_invariant: the kernel compiled for a generic CPU (no SIMD beyond the base ISA, no FMA) and for this
    host (its widest vectors, FMA where present) gives the same bits."""
    from tests.conftest import bits_per_numba_cpu

    out = bits_per_numba_cpu(_BITS, tmp_path)
    assert out["generic"] == out["host"] and len(out["host"]) == 64
