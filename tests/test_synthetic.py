"""The synthetic default: Kaggle schema, determinism, calibration to MAL, planted ground truth."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hybridrec import data, synthetic
from hybridrec.io import sha256_file
from hybridrec.params import parse
from hybridrec.reporting.data_report import rating_tv_distance, shape_stats
from tests.conftest import raw_params

FILES = (synthetic.RATINGS_FILE, synthetic.SYNOPSIS_FILE, synthetic.ANIME_FILE, synthetic.GROUND_TRUTH_FILE,
         synthetic.GENERATOR_FILE)


@pytest.fixture(scope="module")
def default_synthetic(tmp_path_factory):
    """The full default synthetic data set (as `dvc repro` makes it)."""
    p = parse(raw_params())
    out = tmp_path_factory.mktemp("default_synthetic")
    summary = synthetic.generate(p.synthetic, out)
    return out, summary


def test_exact_kaggle_schema(synthetic_small):
    out, _ = synthetic_small
    assert open(out / "anime_with_synopsis.csv").readline().strip() == "MAL_ID,Name,Score,Genres,sypnopsis"
    assert open(out / "rating_complete.csv").readline().strip() == "user_id,anime_id,rating"
    header = open(out / "anime.csv").readline().strip().split(",")
    assert {"MAL_ID", "Name", "Genres", "Type", "Episodes"} <= set(header)
    # and the suite's own Kaggle loader accepts it
    ratings = data.load_ratings(out / "rating_complete.csv")
    syn = data.load_synopses(out / "anime_with_synopsis.csv", "No synopsis")
    assert ratings["rating"].between(1, 10).all() and len(syn) > 0


def test_same_seed_same_bytes(tmp_path, tiny_params):
    a, b = tmp_path / "a", tmp_path / "b"
    synthetic.generate(tiny_params.synthetic, a)
    synthetic.generate(tiny_params.synthetic, b)
    for f in FILES:
        assert sha256_file(a / f) == sha256_file(b / f), f
    c = tmp_path / "c"
    synthetic.generate(tiny_params.synthetic.__class__(**{**tiny_params.synthetic.__dict__, "seed": 1}), c)
    assert sha256_file(a / synthetic.RATINGS_FILE) != sha256_file(c / synthetic.RATINGS_FILE)


def test_same_bytes_whatever_simd_the_cpu_has(tmp_path):
    """The embedded data set is the same bits on any CPU: generated once with NumPy's widest kernels for this CPU
    and once with every SIMD target above the x86-64-v2 baseline disabled (another CPU's kernels: AVX2 against
    AVX-512 gave different ratings before, through the order NumPy's SIMD argpartition returned a top-k in),
    with the BLAS and torch kernels of the SSE4 set in the second run too."""
    import json
    import os
    import subprocess
    import sys

    from numpy._core import _multiarray_umath as npcore

    from hybridrec.fingerprint import KERNEL_ENV, SSE4_SET

    cfg = {"n_users": 150, "n_anime": 1500, "ratings_per_user_median": 50, "chunk_users": 50}
    script = ("import sys; from hybridrec import synthetic; from hybridrec.params import parse; "
              "from tests.conftest import raw_params; import json; "
              f"synthetic.generate(parse(raw_params(synthetic=json.loads(sys.argv[2]))).synthetic, sys.argv[1])")
    base = {k: v for k, v in os.environ.items() if k not in KERNEL_ENV and k != "NPY_DISABLE_CPU_FEATURES"}
    narrow = {**base, **SSE4_SET, "NPY_DISABLE_CPU_FEATURES": " ".join(npcore.__cpu_dispatch__)}
    digests = []
    for name, env in (("native", base), ("narrow", narrow)):
        run = subprocess.run([sys.executable, "-c", script, str(tmp_path / name), json.dumps(cfg)], env=env,
                             capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
        assert run.returncode == 0, run.stderr[-2000:]
        digests.append({f: sha256_file(tmp_path / name / f) for f in FILES})
    assert digests[0] == digests[1]


def test_rating_histogram_matches_mal(default_synthetic):
    out, _ = default_synthetic
    ratings = pd.read_csv(out / "rating_complete.csv")
    assert rating_tv_distance(ratings["rating"]) < 0.03


def test_shape_is_mal_like(default_synthetic):
    out, _ = default_synthetic
    ratings = pd.read_csv(out / "rating_complete.csv")
    syn = data.load_synopses(out / "anime_with_synopsis.csv", "No synopsis")
    syn = syn[~syn["synopsis_missing"]].assign(genres=lambda d: d["genres"].map("|".join))
    s = shape_stats(ratings, syn)
    q10, q25, q50, q75, q90, q99 = s["ratings per user q10/25/50/75/90/99"]
    assert q99 / q50 > 4 and q90 / q50 > 2.5  # long tail of heavy raters
    a10, a25, a50, a75, a90, a99 = s["ratings per anime q10/25/50/75/90/99"]
    assert a99 / a50 > 20 and a10 <= 3  # long tail of popular anime, many rarely rated ones
    assert 2.5 <= s["genres per anime (mean)"] <= 3.5
    median, mean = s["synopsis length median / mean (chars)"]
    assert 200 <= median <= 350 and mean > median  # right-skewed lengths, MAL median 264
    assert 0.6 <= s["std of user mean ratings"] <= 1.2


def test_synopses_are_english_sentences(synthetic_small):
    out, _ = synthetic_small
    syn = pd.read_csv(out / "anime_with_synopsis.csv")
    text = syn.loc[~syn["sypnopsis"].str.startswith("No synopsis"), "sypnopsis"]
    assert text.str.contains(r"\b(?:the|a|an|and|to|of|in)\b").all()
    assert text.str.match(r"^[A-Z]").all() and text.str.contains(r"[.!?]").all()
    assert syn["sypnopsis"].str.startswith("No synopsis").any()  # like MAL, some titles have none


def test_ground_truth_is_exact(default_synthetic):
    """The oracle (E[r|m]) beats any fixed predictor, and its RMSE is the recorded floor."""
    out, summary = default_synthetic
    truth = pd.read_parquet(out / synthetic.GROUND_TRUTH_FILE)
    ratings = pd.read_csv(out / "rating_complete.csv")
    assert len(truth) == len(ratings)
    assert (truth[["user_id", "anime_id"]].to_numpy() == ratings[["user_id", "anime_id"]].to_numpy()).all()
    err = ratings["rating"] - truth["expected_rating"]
    oracle = float(np.sqrt((err**2).mean()))
    assert abs(oracle - summary["oracle_rmse_floor"]) < 0.02
    assert oracle < 0.8 * ratings["rating"].std()  # planted structure: much better than the global mean
    assert truth["expected_rating"].between(1, 10).all()
    assert abs(err.mean()) < 0.02  # unbiased


def test_expected_rating_matches_simulation():
    edges = np.linspace(-2, 2, 9)
    rng = np.random.default_rng(0)
    m = np.array([-1.0, 0.3, 2.5])
    y = m[:, None] + rng.normal(0, 0.7, (3, 200_000))
    sim = (1 + (y[..., None] > edges).sum(-1)).mean(1)
    assert np.allclose(synthetic.expected_rating(m, edges, 0.7), sim, atol=0.01)


def test_sentence_encoder_recovers_themes(default_synthetic):
    """Synopses carry the latent themes: MiniLM embeddings classify an anime's dominant theme."""
    from hybridrec.features import SequenceEncoder

    out, summary = default_synthetic
    syn = pd.read_csv(out / "anime_with_synopsis.csv")
    syn = syn[~syn["sypnopsis"].str.startswith("No synopsis")].head(300)
    theme = syn["MAL_ID"].map(summary["anime_dominant_theme"]).to_numpy()
    assert not pd.isna(theme).any()
    x = SequenceEncoder(device="cpu").model.encode(syn["sypnopsis"].tolist(), batch_size=64)
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    train, test = np.arange(len(x)) % 3 != 0, np.arange(len(x)) % 3 == 0
    themes = sorted(set(theme[train]))
    centroids = np.stack([x[train][theme[train] == t].mean(0) for t in themes])
    pred = np.asarray(themes)[np.argmax(x[test] @ centroids.T, axis=1)]
    assert (pred == theme[test]).mean() > 0.7
