"""A deterministic, MAL-like synthetic data set in the exact Kaggle schema, with planted ground truth.

Latent themes drive everything:

* each anime has a theme mixture ``theta`` (sparse Dirichlet); its synopsis is English text composed
  sentence by sentence from theme-specific phrases (a sentence's theme is drawn from ``theta``), so a
  sentence encoder can recover the themes; its genres are a noisy, partial view of its main themes;
* each user has a bias and a preference vector over themes;
* the latent score of a pair is ``m = b_user + b_anime + p_user . theta`` with
  ``b_anime = quality . theta + e_anime``; the observed score is ``y = m + noise`` and the rating is
  ``y`` rounded into 10 ordered bins (clipped to 1..10) whose edges are calibrated so the rating
  histogram matches MyAnimeList's (an ordered-probit model: rounding after a monotone rescaling);
* which anime a user rates follows a Zipf popularity and, with ``selection_strength``, the user's
  taste (users rate what they like more often), with log-normal activity per user.

Because the noise is Gaussian and the bin edges are known, the expected rating ``E[r | m]`` of every
pair is exact: it is written as the ground truth (the oracle predictor), and the RMSE it achieves is
the irreducible error floor. Users are generated in chunks, so a full-scale data set fits in memory.
Same parameters, same bytes.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from scipy.special import ndtr
from tqdm import tqdm

from hybridrec import io
from hybridrec.params import Synthetic
from hybridrec.synthetic_vocab import (FAMILY_NAMES, GIVEN_NAMES, MAL_GENRES, MAL_RATING_SHARES,
                                       NO_SYNOPSIS, OPENING_TEMPLATES, TEMPLATES, THEMES, TITLE_PATTERNS,
                                       TITLE_SUFFIXES, TYPES)

RATINGS_FILE = "rating_complete.csv"
SYNOPSIS_FILE = "anime_with_synopsis.csv"
ANIME_FILE = "anime.csv"
GROUND_TRUTH_FILE = "ground_truth.parquet"
GENERATOR_FILE = "generator.json"

# Synopsis length: log-normal number of sentences, fitted to MAL's median 264 / mean 377 characters.
_SENTENCES_MEDIAN, _SENTENCES_SIGMA, _SENTENCES_MAX = 3.6, 0.75, 36


# The data must be the same bits on every CPU: the generator avoids the operations whose result depends on which
# kernels the CPU gets (NumPy's SIMD exp/log, BLAS matrix products, vectorised reductions). What it uses instead
# is exact IEEE arithmetic done element by element in a fixed order (add, multiply, sqrt: correctly rounded on
# any CPU) and the C library's scalar log/exp. A last-bit difference would otherwise flip a few of the discrete
# choices downstream (which anime a user rates, which bin a score falls in) and change the data set itself:
# measured, an AVX2 and an AVX-512 CPU generated different ratings before (tests/test_synthetic.py).
def _matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` (a [n, K], b [K] or [K, m]) as K elementwise products added in order: no BLAS kernel."""
    b2 = b[:, None] if b.ndim == 1 else b
    out = a[:, 0:1] * b2[0:1]
    for k in range(1, a.shape[1]):
        out = out + a[:, k:k + 1] * b2[k:k + 1]
    return out[:, 0] if b.ndim == 1 else out


def _sum_last(x: np.ndarray) -> np.ndarray:
    """Sum over the last axis, element after element."""
    out = x[..., 0]
    for j in range(1, x.shape[-1]):
        out = out + x[..., j]
    return out


def _scalar(fn, x: np.ndarray) -> np.ndarray:
    """``fn`` (math.log, math.exp) applied element by element: the C library's scalar function, not a SIMD one."""
    return np.array([fn(v) for v in np.asarray(x, dtype=np.float64).ravel().tolist()]).reshape(np.shape(x))


def _mean_std(x: np.ndarray) -> tuple[float, float]:
    """Mean and (population) standard deviation with correctly rounded sums (math.fsum)."""
    v = np.asarray(x, dtype=np.float64).ravel()
    mean = math.fsum(v.tolist()) / len(v)
    return mean, math.sqrt(math.fsum(((v - mean) * (v - mean)).tolist()) / len(v))


def expected_rating(m: np.ndarray, edges: np.ndarray, noise_sd: float) -> np.ndarray:
    """E[rating | latent mean m] when rating = 1 + #{edges below m + N(0, noise_sd^2)}."""
    m = np.asarray(m, dtype=np.float64)
    return 1.0 + _sum_last(ndtr((m[..., None] - edges) / noise_sd))


def rating_variance(m: np.ndarray, edges: np.ndarray, noise_sd: float) -> np.ndarray:
    """Var[rating | m]: the part of each rating no predictor can explain."""
    m = np.asarray(m, dtype=np.float64)
    cdf = ndtr((edges - m[..., None]) / noise_sd)  # P(y < edge_k)
    lower = np.concatenate([np.zeros(m.shape + (1,)), cdf], -1)
    upper = np.concatenate([cdf, np.ones(m.shape + (1,))], -1)
    p = np.clip(upper - lower, 0, 1)
    k = np.arange(1, 11)
    mean = _sum_last(p * k)
    return _sum_last(p * (k * k)) - mean * mean


def _choice(rng, items, size=None):
    return items[rng.integers(len(items))] if size is None else [items[i] for i in rng.integers(len(items), size=size)]


class _Anime:
    """All per-anime latent variables and metadata."""

    def __init__(self, p: Synthetic, rng: np.random.Generator):
        K = p.n_themes
        if K > len(THEMES):
            raise ValueError(f"synthetic.n_themes = {K}: at most {len(THEMES)} themes are defined")
        self.themes = THEMES[:K]
        n_rated = p.n_anime
        n_extra = int(round(p.n_anime * p.unrated_share))  # anime in the metadata nobody rated
        n = n_rated + n_extra
        prevalence = rng.dirichlet(np.full(K, 2.0))
        self.theta = rng.dirichlet(p.theme_concentration * K * prevalence + 1e-3, size=n)
        quality = rng.normal(0, p.theme_quality_sd, K)
        self.bias = _matmul(self.theta, quality) + rng.normal(0, p.anime_bias_sd, n)
        # Zipf popularity over a random order; unrated extras get no weight at all.
        rank = rng.permutation(n_rated) + 1
        self.log_pop = np.concatenate([-p.popularity_exponent * _scalar(math.log, rank), np.full(n_extra, -np.inf)])
        self.ids = np.sort(rng.choice(np.arange(1, max(50_000, 4 * n)), size=n, replace=False))
        rng.shuffle(perm := np.arange(n))  # rated anime interleave with unrated ones in id order
        self.ids = self.ids[perm]
        self.n, self.n_rated = n, n_rated
        self.names = [self._title(rng, i) for i in range(n)]
        self.genres = [self._genres(p, rng, i) for i in range(n)]
        self.synopsis = [self._synopsis(rng, i) for i in range(n)]
        no_syn = rng.random(n) < p.no_synopsis_share
        self.synopsis = [NO_SYNOPSIS if flag else s for flag, s in zip(no_syn, self.synopsis)]
        # Some rated anime are absent from anime_with_synopsis.csv (but present in anime.csv).
        self.in_synopsis_file = rng.random(n) >= p.missing_metadata_share
        types = list(TYPES)
        self.type = rng.choice(types, size=n, p=np.array(list(TYPES.values())) / sum(TYPES.values()))
        self.episodes = [self._episodes(rng, t) for t in self.type]
        self.members = np.round(_scalar(math.exp, self.log_pop.clip(-50) + 13 + rng.normal(0, 0.3, n))).astype(np.int64)
        self.members[n_rated:] = rng.integers(50, 500, n_extra)

    def _dominant(self, i):
        return int(np.argmax(self.theta[i]))

    def _title(self, rng, i):
        t = self.themes[self._dominant(i)]
        other = self.themes[int(rng.choice(len(self.themes), p=self.theta[i]))]
        a, b, c = _choice(rng, t["title"]), _choice(rng, other["title"]), _choice(rng, t["title"])
        return _choice(rng, TITLE_PATTERNS).format(a=a, b=b, c=c).strip() + _choice(rng, TITLE_SUFFIXES)

    def _genres(self, p, rng, i):
        genres = set()
        for k in np.flatnonzero(self.theta[i] >= 0.2):
            for g, prob in self.themes[k]["genres"].items():
                if rng.random() < p.genre_recall * prob * min(1.0, self.theta[i, k] * 1.6):
                    genres.add(g)
        n_noise = rng.poisson(p.genre_noise)
        genres.update(_choice(rng, [g for g in MAL_GENRES if g != "Hentai"], size=n_noise))
        if not genres:
            genres.add(max(self.themes[self._dominant(i)]["genres"].items(), key=lambda kv: kv[1])[0])
        if rng.random() < 0.004:
            return ["Unknown"]  # MAL lists a few titles with no genre
        return sorted(genres)

    def _synopsis(self, rng, i):
        n_sent = int(min(_SENTENCES_MAX, max(1, round(rng.lognormal(math.log(_SENTENCES_MEDIAN), _SENTENCES_SIGMA)))))
        name = f"{_choice(rng, GIVEN_NAMES)} {_choice(rng, FAMILY_NAMES)}"
        pronoun = "she" if rng.random() < 0.5 else "he"
        sentences = []
        for s in range(n_sent):
            k = self._dominant(i) if s == 0 else int(rng.choice(len(self.themes), p=self.theta[i]))
            t = self.themes[k]
            tpl = TEMPLATES[_choice(rng, OPENING_TEMPLATES)] if s == 0 else _choice(rng, TEMPLATES)
            slots = {slot: _choice(rng, t[slot]) for slot in ("subject", "setting", "event", "goal", "companion", "mood")}
            text = tpl.format(Name=name.split()[0] if s else name, pronoun=pronoun, Pronoun=pronoun.capitalize(),
                              **slots)
            sentences.append(text[0].upper() + text[1:])
        text = " ".join(sentences)
        if rng.random() < 0.15:  # MAL synopses often end with a source line after a blank line
            text += "\n \n(Source: " + _choice(rng, ["ANN", "MAL Rewrite", "Crunchyroll", "Funimation"]) + ")"
        return text

    @staticmethod
    def _episodes(rng, t):
        if rng.random() < 0.02:
            return "Unknown"
        return str({"TV": int(_choice(rng, [12, 12, 13, 24, 25, 26, 39, 50, 51])), "Movie": 1,
                    "OVA": int(rng.integers(1, 7)), "Special": int(rng.integers(1, 4)),
                    "ONA": int(rng.integers(1, 13)), "Music": 1}[t])


def rating_edges(y: np.ndarray, shares=MAL_RATING_SHARES) -> np.ndarray:
    """The 9 bin edges that split the observed scores ``y`` into the target rating shares."""
    q = np.cumsum(np.asarray(shares, float))[:-1] / math.fsum(shares)
    return np.quantile(y, q)


def generate(p: Synthetic, out_dir) -> dict:
    """Write the synthetic data set (Kaggle schema + ground truth) into ``out_dir``; return a summary."""
    out_dir = Path(out_dir)
    ss = np.random.SeedSequence(p.seed)
    anime_ss, user_ss, chunk_ss = ss.spawn(3)
    rng = np.random.default_rng(anime_ss)
    anime = _Anime(p, rng)

    urng = np.random.default_rng(user_ss)
    U, K = p.n_users, p.n_themes
    user_ids = np.sort(urng.choice(np.arange(int(U * 1.15) + 1), size=U, replace=False))
    user_bias = urng.normal(0, p.user_bias_sd, U)
    pref = urng.normal(0, p.preference_sd, (U, K))
    activity = np.round(urng.lognormal(math.log(p.ratings_per_user_median), p.ratings_per_user_sigma, U))
    activity = np.clip(activity, p.min_ratings_per_user, int(0.6 * anime.n_rated)).astype(np.int64)

    rated = np.flatnonzero(np.isfinite(anime.log_pop))
    n_chunks = -(-U // p.chunk_users)
    chunk_rngs = [np.random.default_rng(s) for s in chunk_ss.spawn(n_chunks)]
    edges = None
    rating_sum = np.zeros(anime.n)
    rating_count = np.zeros(anime.n, dtype=np.int64)
    var_sum, n_ratings = 0.0, 0
    out_dir.mkdir(parents=True, exist_ok=True)
    # Ratings and ground truth are streamed chunk by chunk (bounded memory at full scale).
    with io.atomic_path(out_dir / RATINGS_FILE) as ratings_tmp, \
            io.atomic_path(out_dir / GROUND_TRUTH_FILE) as truth_tmp, open(ratings_tmp, "w") as ratings_f:
        ratings_f.write("user_id,anime_id,rating\n")
        truth_writer = None
        for c in tqdm(range(n_chunks), desc="synthetic ratings", unit="chunk", disable=n_chunks < 3):
            crng = chunk_rngs[c]
            lo, hi = c * p.chunk_users, min(U, (c + 1) * p.chunk_users)
            m = user_bias[lo:hi, None] + anime.bias[rated][None, :] + _matmul(pref[lo:hi], anime.theta[rated].T)
            # Weighted sampling without replacement (Gumbel top-k): popularity x taste.
            m_mean, m_sd = _mean_std(m)
            m_std = (m - m_mean) / (m_sd + 1e-12)
            keys = anime.log_pop[rated][None, :] + p.selection_strength * m_std + crng.gumbel(size=m.shape)
            rows, cols = [], []
            for r in range(hi - lo):
                # the top-k set is well defined; the order argpartition returns it in is not (NumPy's SIMD
                # partition differs between CPUs): sorted first, so the shuffle starts from the same order
                top = np.sort(np.argpartition(-keys[r], activity[lo + r] - 1)[: activity[lo + r]])
                crng.shuffle(top)  # file order within a user carries no signal
                rows.append(np.full(len(top), r))
                cols.append(top)
            rows, cols = np.concatenate(rows), np.concatenate(cols)
            mu = m[rows, cols]
            y = mu + crng.normal(0, p.noise_sd, len(mu))
            if edges is None:  # calibrate the bins once, on the first chunk
                edges = rating_edges(y)
            rating = 1 + np.searchsorted(edges, y, side="right")
            anime_pos = rated[cols]
            np.add.at(rating_sum, anime_pos, rating)
            rating_count += np.bincount(anime_pos, minlength=anime.n)
            variance = rating_variance(mu, edges, p.noise_sd)
            var_sum += math.fsum(variance.tolist())
            n_ratings += len(mu)
            chunk = pd.DataFrame({"user_id": user_ids[lo + rows], "anime_id": anime.ids[anime_pos],
                                  "rating": rating.astype(np.int16)})
            chunk.to_csv(ratings_f, header=False, index=False, lineterminator="\n")
            truth = pa.table({"user_id": chunk["user_id"].to_numpy(), "anime_id": chunk["anime_id"].to_numpy(),
                              "expected_rating": expected_rating(mu, edges, p.noise_sd).astype(np.float32),
                              "variance": variance.astype(np.float32)})
            if truth_writer is None:
                truth_writer = pq.ParquetWriter(truth_tmp, truth.schema)
            truth_writer.write_table(truth)
        truth_writer.close()

    # Anime metadata; Score is the mean rating (as MAL shows), "Unknown" for unrated titles.
    with np.errstate(invalid="ignore", divide="ignore"):
        score = rating_sum / rating_count
    score_text = [f"{s:.2f}" if c else "Unknown" for s, c in zip(score, rating_count)]
    genres_text = [", ".join(g) for g in anime.genres]
    meta = pd.DataFrame({"MAL_ID": anime.ids, "Name": anime.names, "Score": score_text, "Genres": genres_text,
                         "Type": anime.type, "Episodes": anime.episodes, "Members": anime.members})
    order = np.argsort(anime.ids, kind="stable")
    meta = meta.iloc[order]
    synopsis = pd.DataFrame({"MAL_ID": anime.ids, "Name": anime.names, "Score": score_text,
                             "Genres": genres_text, "sypnopsis": anime.synopsis}).iloc[order]
    synopsis = synopsis[anime.in_synopsis_file[order]]
    io.write_csv(out_dir / ANIME_FILE, meta)
    io.write_csv(out_dir / SYNOPSIS_FILE, synopsis)
    floor = float(np.sqrt(var_sum / n_ratings))
    dominant = np.argmax(anime.theta, axis=1)
    summary = {
        "model": "rating = 1 + #{edges < b_user + b_anime + pref_user . theta_anime + N(0, noise_sd^2)}; "
                 "b_anime = quality . theta_anime + N(0, anime_bias_sd^2)",
        "n_users": int(U), "n_anime": int(anime.n), "n_rated_anime": int(anime.n_rated),
        "n_ratings": int(n_ratings),
        "noise_sd": p.noise_sd, "edges": edges.tolist(),
        "oracle_rmse_floor": floor,
        "oracle_note": "RMSE of the exact expected rating E[r|m] over all generated ratings: no predictor "
                       "can do better in expectation",
        "themes": [t["name"] for t in anime.themes],
        "anime_dominant_theme": {int(a): anime.themes[d]["name"] for a, d in zip(anime.ids, dominant)},
    }
    io.write_json(out_dir / GENERATOR_FILE, summary)
    return summary


def oracle_predictions(pairs: pd.DataFrame, truth_path) -> np.ndarray:
    """The ground-truth expected rating E[r | m] of each (user_id, anime_id) pair (the oracle predictor);
    ``truth_path``: the generator's ground-truth file or the folder holding it."""
    from hybridrec.errors import DataError  # noqa: PLC0415

    truth_path = Path(truth_path)
    if truth_path.is_dir():
        truth_path = truth_path / GROUND_TRUTH_FILE
    if not truth_path.exists():
        raise DataError(truth_path, "ground truth not found (run `dvc repro generate`)")
    truth = pd.read_parquet(truth_path, columns=["user_id", "anime_id", "expected_rating"])
    merged = pairs[["user_id", "anime_id"]].merge(truth, on=["user_id", "anime_id"], how="left")
    if merged["expected_rating"].isna().any():
        raise DataError(truth_path, "some pairs have no ground truth (is data.source synthetic?)")
    return merged["expected_rating"].to_numpy(np.float64)
