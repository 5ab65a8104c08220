"""Ranking metrics on a hand-computed example, and the popularity correlation."""

import numpy as np
import pytest

from hybridrec.ranking import popularity_correlation, topk_metrics


def test_topk_metrics_hand_computed():
    # 2 users x 5 anime; k = 2
    scores = np.array([[0.9, 0.8, 0.7, 0.1, 0.5],
                       [0.1, 0.2, 0.3, 0.9, 0.8]])
    seen = (np.array([0, 1]), np.array([0, 3]))  # user 0 rated anime 0, user 1 anime 3: never ranked
    relevant = (np.array([0, 0, 1]), np.array([2, 4, 1]))  # user 0: anime 2 and 4; user 1: anime 1
    m = topk_metrics(scores, seen, relevant, k=2)
    # user 0 ranks 1, 2 -> hit at rank 2 (anime 2); user 1 ranks 4, 2 -> no hit
    # precision: (1/2 + 0/2) / 2; recall: (1/2 + 0/1) / 2
    # NDCG user 0: (1/log2(3)) / (1 + 1/log2(3)); user 1: 0
    assert m["precision"] == pytest.approx(0.25)
    assert m["recall"] == pytest.approx(0.25)
    assert m["ndcg"] == pytest.approx((1 / np.log2(3)) / (1 + 1 / np.log2(3)) / 2)
    assert m["users"] == 2


def test_seen_items_are_never_recommended():
    scores = np.array([[9.0, 1.0, 2.0]])
    m = topk_metrics(scores, (np.array([0]), np.array([0])), (np.array([0]), np.array([0])), k=1)
    assert m["precision"] == 0.0  # the only relevant anime was already rated: not a recommendation


def test_no_relevant_rating_is_nan_not_zero():
    m = topk_metrics(np.ones((1, 3)), (np.array([], int), np.array([], int)), (np.array([], int), np.array([], int)), 2)
    assert np.isnan(m["ndcg"]) and m["users"] == 0


def test_popularity_correlation():
    pop = np.array([10, 5, 1, 0])
    assert popularity_correlation(np.tile([4.0, 3.0, 2.0, 1.0], (3, 1)), pop) == pytest.approx(1.0)
    assert popularity_correlation(np.tile([1.0, 2.0, 3.0, 4.0], (3, 1)), pop) == pytest.approx(-1.0)
    assert np.isnan(popularity_correlation(np.ones((3, 4)), pop))
