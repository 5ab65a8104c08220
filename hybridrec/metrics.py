"""Rating metrics (paper §5 and the suite's additions). Predictions are clamped to the rating range."""

from __future__ import annotations

import numpy as np

RATING_MIN, RATING_MAX = 1.0, 10.0


def clamp(pred) -> np.ndarray:
    return np.clip(np.asarray(pred, dtype=np.float64), RATING_MIN, RATING_MAX)


def class_weights(train_ratings) -> np.ndarray:
    """PyG's --use_weighted_loss weights: max(count) / count(rating) over the training ratings (index = rating)."""
    counts = np.bincount(np.asarray(train_ratings, dtype=np.int64), minlength=int(RATING_MAX) + 1).astype(np.float64)
    with np.errstate(divide="ignore"):
        w = counts.max() / counts
    w[~np.isfinite(w)] = 0.0
    return w


def rating_metrics(pred, rating) -> dict:
    """RMSE, MAE (clamped predictions), accuracy (rounded prediction == rating) and within-1 accuracy."""
    pred, rating = clamp(pred), np.asarray(rating, dtype=np.float64)
    err = pred - rating
    rounded = np.rint(pred)
    return {
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mae": float(np.mean(np.abs(err))),
        "accuracy": float(np.mean(rounded == rating)),
        "within1": float(np.mean(np.abs(rounded - rating) <= 1)),
        "n": int(len(rating)),
    }


def loss_readings(pred, rating, weights) -> dict:
    """The candidate meanings of the paper's undefined "loss" (train 0.659, test 0.667).

    ``pred`` raw (unclamped, as the training loss sees it) for the weighted/plain MSE; the others use
    clamped predictions as evaluation does.
    """
    raw = np.asarray(pred, dtype=np.float64)
    rating = np.asarray(rating, dtype=np.float64)
    w = np.asarray(weights)[rating.astype(np.int64)]
    c = clamp(raw)
    span = RATING_MAX - RATING_MIN
    return {
        "weighted MSE (training loss)": float(np.mean(w * (raw - rating) ** 2)),
        "MSE": float(np.mean((c - rating) ** 2)),
        "RMSE": float(np.sqrt(np.mean((c - rating) ** 2))),
        "weighted RMSE": float(np.sqrt(np.mean(w * (c - rating) ** 2))),
        "RMSE on ratings scaled to [0,1]": float(np.sqrt(np.mean((c - rating) ** 2)) / span),
        "RMSE on ratings / 10": float(np.sqrt(np.mean((c - rating) ** 2)) / RATING_MAX),
        "MAE": float(np.mean(np.abs(c - rating))),
        "1 - accuracy": float(1 - np.mean(np.rint(c) == rating)),
    }
