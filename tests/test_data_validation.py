"""Every validation case of the Kaggle loader: a clear error naming file, row/column and problem."""

import pandas as pd
import pytest

from hybridrec import data
from hybridrec.errors import DataError
from hybridrec.preprocess import preprocess
from tests.conftest import write

SYN_HEADER = "MAL_ID,Name,Score,Genres,sypnopsis\n"
GOOD_SYN = (SYN_HEADER
            + '1,Cowboy Bebop,8.78,"Action, Sci-Fi, Space","In the year 2071, bounty hunters roam."\n'
            + '5,Another,Unknown,"Drama","A quiet ""story"",\nover two lines."\n'
            + '6,Empty,7.1,"Comedy","No synopsis information has been added to this title."\n'
            + '7,Blank,7.0,"Comedy",""\n')
GOOD_RATINGS = "user_id,anime_id,rating\n0,1,9\n0,5,7\n1,1,10\n1,6,5\n1,999,8\n2,7,4\n"


def load_ratings_text(tmp_path, text):
    return data.load_ratings(write(tmp_path / "rating_complete.csv", text))


def test_missing_file_says_where_and_how(tmp_path):
    with pytest.raises(DataError) as e:
        data.ensure_files(tmp_path)
    msg = str(e.value)
    assert "anime_with_synopsis.csv" in msg and str(tmp_path) in msg
    assert "kaggle datasets download -d hernan4444/anime-recommendation-database-2020" in msg


def test_missing_column(tmp_path):
    with pytest.raises(DataError, match=r"rating_complete.csv: missing column 'rating'"):
        load_ratings_text(tmp_path, "user_id,anime_id,score\n0,1,9\n")


def test_non_integer_id(tmp_path):
    with pytest.raises(DataError, match=r"rating_complete.csv, row 2, column 'anime_id': 'abc' is not an integer"):
        load_ratings_text(tmp_path, "user_id,anime_id,rating\n0,1,9\n0,abc,7\n")


def test_fractional_id(tmp_path):
    with pytest.raises(DataError, match=r"row 1, column 'user_id': '1.5' is not an integer"):
        load_ratings_text(tmp_path, "user_id,anime_id,rating\n1.5,1,9\n")


def test_rating_out_of_range(tmp_path):
    from hybridrec.metrics import MAL

    with pytest.raises(DataError, match=r"row 3, column 'rating': rating 11 is outside 1-10"):
        data.load_ratings(write(tmp_path / "a.csv", "user_id,anime_id,rating\n0,1,9\n0,2,7\n0,3,11\n"), MAL)
    with pytest.raises(DataError, match=r"rating 0 is outside 1-10"):
        data.load_ratings(write(tmp_path / "b.csv", "user_id,anime_id,rating\n0,1,0\n"), MAL)
    with pytest.raises(DataError, match=r"rating -1 is negative"):  # auto scale: any rating >= 0
        load_ratings_text(tmp_path, "user_id,anime_id,rating\n0,1,-1\n")


def test_rating_not_numeric(tmp_path):
    with pytest.raises(DataError, match=r"row 1, column 'rating': 'great' is not an integer"):
        load_ratings_text(tmp_path, "user_id,anime_id,rating\n0,1,great\n")


def test_empty_value(tmp_path):
    with pytest.raises(DataError, match=r"row 2, column 'rating': empty value"):
        load_ratings_text(tmp_path, "user_id,anime_id,rating\n0,1,9\n0,2,\n")


def test_truncated_file(tmp_path):
    # the last line was cut off mid-row
    with pytest.raises(DataError, match=r"row 2, column 'rating': empty value"):
        load_ratings_text(tmp_path, "user_id,anime_id,rating\n0,1,9\n0,2")


def test_duplicate_pair(tmp_path):
    with pytest.raises(DataError, match=r"row 1: duplicate \(user_id=0, anime_id=1\) pair, also at row 3"):
        load_ratings_text(tmp_path, "user_id,anime_id,rating\n0,1,9\n0,2,7\n0,1,8\n")


def test_malformed_csv(tmp_path):
    with pytest.raises(DataError, match=r"rating_complete.csv: malformed CSV: .*Expected 3 fields in line 3, saw 4"):
        load_ratings_text(tmp_path, "user_id,anime_id,rating\n0,1,9\n0,2,7,1\n")


def test_unclosed_quote_in_synopsis_file(tmp_path):
    path = write(tmp_path / "anime_with_synopsis.csv", SYN_HEADER + '1,A,8,"Action","never closed\n')
    with pytest.raises(DataError, match="malformed CSV"):
        data.load_synopses(path, "No synopsis")


def test_non_utf8(tmp_path):
    path = write(tmp_path / "anime_with_synopsis.csv", SYN_HEADER.encode() + b'1,Caf\xe9,8,"Drama","text"\n')
    with pytest.raises(DataError, match=r"not valid UTF-8 \(byte 0xe9 at byte \d+, line 2\)"):
        data.load_synopses(path, "No synopsis")


def test_wrong_encoding_utf16(tmp_path):
    path = write(tmp_path / "anime_with_synopsis.csv", SYN_HEADER + '1,A,8,"Drama","text"\n', encoding="utf-16")
    with pytest.raises(DataError, match="not valid UTF-8"):
        data.load_synopses(path, "No synopsis")


def test_empty_file(tmp_path):
    with pytest.raises(DataError, match="file is empty"):
        load_ratings_text(tmp_path, "")


def test_header_only(tmp_path):
    with pytest.raises(DataError, match="no ratings"):
        load_ratings_text(tmp_path, "user_id,anime_id,rating\n")


def test_synopsis_file_variants(tmp_path):
    """`Genders` header (early versions), `Unknown` score, quoted multi-line synopsis, null synopses."""
    path = write(tmp_path / "anime_with_synopsis.csv", GOOD_SYN.replace("Genres", "Genders"))
    df = data.load_synopses(path, "No synopsis")
    assert list(df["anime_id"]) == [1, 5, 6, 7]
    assert df.loc[0, "genres"] == ["Action", "Sci-Fi", "Space"]
    assert pd.isna(df.loc[1, "score"])  # "Unknown"
    assert df.loc[1, "synopsis"] == 'A quiet "story",\nover two lines.'
    assert list(df["synopsis_missing"]) == [False, False, True, True]


def test_synopsis_duplicate_id(tmp_path):
    path = write(tmp_path / "anime_with_synopsis.csv", SYN_HEADER + '1,A,8,"Drama","x"\n1,B,8,"Drama","y"\n')
    with pytest.raises(DataError, match=r"row 1, column 'MAL_ID': duplicate MAL_ID 1 \(also at row 2\)"):
        data.load_synopses(path, "No synopsis")


def test_synopsis_missing_genre_column(tmp_path):
    path = write(tmp_path / "anime_with_synopsis.csv", "MAL_ID,Name,sypnopsis\n1,A,x\n")
    with pytest.raises(DataError, match="missing column 'Genres' \\(or 'Genders'\\)"):
        data.load_synopses(path, "No synopsis")


def test_dropped_rows_are_counted(tmp_path):
    """Ratings of anime absent from the metadata and of null synopses are dropped, counted, reported."""
    syn = data.load_synopses(write(tmp_path / "s.csv", GOOD_SYN), "No synopsis")
    ratings = load_ratings_text(tmp_path, GOOD_RATINGS)
    pre = preprocess(ratings, syn)
    absent, null = pre.stats["filters"]
    assert absent["dropped_ratings"] == 1 and absent["dropped_anime"] == 1  # anime 999
    assert null["dropped_ratings"] == 2 and null["dropped_anime"] == 2  # anime 6 ("No synopsis") and 7 ("")
    assert null["null_rows_in_synopsis_file"] == 2
    assert pre.stats["merged"] == {"ratings": 3, "users": 2, "anime": 2}
    assert len(pre.ratings) == 3 and set(pre.ratings["anime_id"]) == {1, 5}


def test_empty_after_filtering(tmp_path):
    syn = data.load_synopses(write(tmp_path / "s.csv", GOOD_SYN), "No synopsis")
    ratings = load_ratings_text(tmp_path, "user_id,anime_id,rating\n0,6,9\n0,999,7\n")
    with pytest.raises(DataError, match="no ratings left after merging"):
        preprocess(ratings, syn)


def test_real_sample_loads(real_sample):
    ratings = data.load_ratings(real_sample / "rating_complete.csv")
    syn = data.load_synopses(real_sample / "anime_with_synopsis.csv", "No synopsis")
    assert len(ratings) == 99_584 and ratings["user_id"].nunique() == 574
    assert len(syn) == 16_214
    pre = preprocess(ratings, syn)
    assert len(pre.genres) == 42 and "Unknown" in pre.genres  # the README's fact
    assert pre.stats["merged"]["anime"] + pre.stats["filters"][1]["dropped_anime"] == 6_406
