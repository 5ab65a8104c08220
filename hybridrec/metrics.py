"""Rating metrics (paper §5 and the suite's additions) on the data set's rating scale.

The scale (MyAnimeList's 1..10, or e.g. 1..5 for another data set) is read from the data or set in
params.yaml (``data.rating_scale``), fixed by the preprocess stage and recorded in its stats: predictions are
clamped to it, the weighted loss counts its values, and "relevant" for ranking is its top share.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np


@dataclasses.dataclass(frozen=True)
class Scale:
    lo: float
    hi: float

    @property
    def span(self) -> float:
        return self.hi - self.lo

    def clamp(self, pred) -> np.ndarray:
        return np.clip(np.asarray(pred, dtype=np.float64), self.lo, self.hi)

    def relevant(self, share: float) -> float:
        """The lowest rating in the top ``share`` of the scale (0.3 of 1..10: 7.3, i.e. 8, 9 and 10)."""
        return self.hi - share * self.span

    def __str__(self) -> str:
        return f"{self.lo:g}..{self.hi:g}"


MAL = Scale(1.0, 10.0)  # MyAnimeList's scale, which the synthetic generator reproduces


def read_scale(paths) -> Scale:
    """The scale the preprocess stage fixed for this data set (``rating_scale`` in its stats)."""
    from hybridrec.errors import DataError  # noqa: PLC0415

    try:
        lo, hi = json.loads(paths.preprocess_stats.read_text(encoding="utf-8"))["rating_scale"]
    except FileNotFoundError:
        raise DataError(paths.preprocess_stats, "file not found (run `dvc repro preprocess`)") from None
    except (KeyError, ValueError, TypeError):
        raise DataError(paths.preprocess_stats, "no rating_scale [lo, hi] (re-run `dvc repro preprocess`)") from None
    return Scale(float(lo), float(hi))


def class_weights(train_ratings, scale: Scale) -> np.ndarray:
    """PyG's --use_weighted_loss weights: max(count) / count(rating) over the training ratings (index = rating)."""
    counts = np.bincount(np.asarray(train_ratings, dtype=np.int64), minlength=int(scale.hi) + 1).astype(np.float64)
    with np.errstate(divide="ignore"):
        w = counts.max() / counts
    w[~np.isfinite(w)] = 0.0
    return w


def rating_metrics(pred, rating, scale: Scale) -> dict:
    """RMSE, MAE (clamped predictions), accuracy (rounded prediction == rating) and within-1 accuracy."""
    pred, rating = scale.clamp(pred), np.asarray(rating, dtype=np.float64)
    err = pred - rating
    rounded = np.rint(pred)
    return {
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mae": float(np.mean(np.abs(err))),
        "accuracy": float(np.mean(rounded == rating)),
        "within1": float(np.mean(np.abs(rounded - rating) <= 1)),
        "n": int(len(rating)),
    }


def loss_readings(pred, rating, weights, scale: Scale) -> dict:
    """The candidate meanings of the paper's undefined "loss" (train 0.659, test 0.667).

    ``pred`` raw (unclamped, as the training loss sees it) for the weighted/plain MSE; the others use
    clamped predictions as evaluation does.
    """
    raw = np.asarray(pred, dtype=np.float64)
    rating = np.asarray(rating, dtype=np.float64)
    w = np.asarray(weights)[rating.astype(np.int64)]
    c = scale.clamp(raw)
    span = scale.span
    return {
        "weighted MSE (training loss)": float(np.mean(w * (raw - rating) ** 2)),
        "MSE": float(np.mean((c - rating) ** 2)),
        "RMSE": float(np.sqrt(np.mean((c - rating) ** 2))),
        "weighted RMSE": float(np.sqrt(np.mean(w * (c - rating) ** 2))),
        "RMSE on ratings scaled to [0,1]": float(np.sqrt(np.mean((c - rating) ** 2)) / span),
        f"RMSE on ratings / {scale.hi:g}": float(np.sqrt(np.mean((c - rating) ** 2)) / scale.hi),
        "MAE": float(np.mean(np.abs(c - rating))),
        "1 - accuracy": float(1 - np.mean(np.rint(c) == rating)),
    }
