import numpy as np
import pandas as pd
import pytest

from hybridrec.errors import DataError
from hybridrec.preprocess import contiguous_map, genre_vocabulary
from hybridrec.subset import make_subset, select_users


@pytest.fixture
def ratings():
    # users appear in file order 7, 3, 9, 1 with 1, 3, 2, 4 ratings
    users = [7, 3, 3, 3, 9, 9, 1, 1, 1, 1]
    anime = [10, 10, 11, 12, 11, 13, 10, 11, 12, 13]
    return pd.DataFrame({"user_id": users, "anime_id": anime, "rating": [5] * 10})


@pytest.fixture
def anime():
    return pd.DataFrame({"anime_idx": range(4), "anime_id": [10, 11, 12, 13], "name": list("abcd"),
                         "genres": ["x"] * 4, "synopsis": ["s"] * 4})


def test_head_is_file_order(ratings):
    assert list(select_users(ratings, 2, "head", 0)) == [7, 3]


def test_active_picks_most_ratings(ratings):
    assert list(select_users(ratings, 2, "active", 0)) == [3, 1]  # file order kept


def test_random_is_seeded(ratings):
    a = select_users(ratings, 2, "random", 5)
    assert list(a) == list(select_users(ratings, 2, "random", 5)) and len(set(a)) == 2
    picks = {tuple(select_users(ratings, 2, "random", s)) for s in range(20)}
    assert len(picks) > 1


def test_more_users_than_available_selects_all(ratings, anime):
    sub, sub_anime, stats = make_subset(ratings, anime, 800, "head", 0)
    assert stats["users"] == 4 and "only 4 users are available: all selected" in stats["note"]
    assert len(sub) == 10


def test_subset_is_contiguous(ratings, anime):
    sub, sub_anime, stats = make_subset(ratings, anime, 2, "head", 0)
    assert sorted(sub["user_idx"].unique()) == [0, 1] and sub.loc[sub.user_id == 7, "user_idx"].iat[0] == 0
    assert sorted(sub["anime_idx"].unique()) == list(range(len(sub_anime)))
    assert (sub_anime.set_index("anime_idx").loc[sub["anime_idx"], "anime_id"].to_numpy() == sub["anime_id"]).all()
    assert stats == {**stats, "users": 2, "ratings": 4, "anime": 3}


def test_zero_users_is_an_error(ratings, anime):
    with pytest.raises(DataError, match="subset.n_users = 0"):
        make_subset(ratings, anime, 0, "head", 0)


def test_contiguous_map_and_vocabulary():
    m = contiguous_map(pd.Series([5, 2, 5, 9]))
    assert m.to_dict() == {5: 0, 2: 1, 9: 2}
    syn = pd.DataFrame({"genres": [["Drama", "Action"], ["Comedy"], ["Action"]]})
    assert genre_vocabulary(syn) == ["Action", "Comedy", "Drama"]
    assert np.array_equal(m.reindex([9, 2]).to_numpy(), [2, 1])  # ids map back in any order


def test_preprocess_provenance_names_this_runs_inputs(project):
    """The preprocess stats' provenance carries the sha256 of the input files this run read (not the previous
    run's stats: a first run has none, a run on changed data would have named the old files)."""
    import json

    from hybridrec.paths import Paths

    root, p = project
    stats = json.loads(Paths(p.data.name).preprocess_stats.read_text())
    assert set(stats["inputs"]) == {"rating_complete.csv", "anime_with_synopsis.csv"}
    assert stats["provenance"]["dataset_sha256"] == stats["inputs"]
