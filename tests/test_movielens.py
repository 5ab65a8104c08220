"""MovieLens files and the protocols beside random and cold_items, on constructed files: GroupLens's ML-100K
layout, RecBole's atomic files and ML-1M's `::` format with Latin-1 titles are read and validated; the given test
ratings never reach training or validation; folds partition the ratings; the temporal split never trains on a
rating later than one it tests for the same user."""

import numpy as np
import pandas as pd
import pytest

from hybridrec import movielens, params
from hybridrec.errors import DataError, ParamsError
from hybridrec.sources import MovieLensSource
from hybridrec.split import fold_assignment, make_split
from tests.conftest import raw_params, write

GENRES = "|".join(["0"] * 19)


def grouplens(folder, n_users=30, n_items=20, seed=0, folds=False, draws=400):
    """A small u.data / u.item pair (and u1..u5.test when ``folds``) in GroupLens's ML-100K format."""
    rng = np.random.default_rng(seed)
    pairs = sorted({(int(u), int(i)) for u, i in zip(rng.integers(1, n_users + 1, draws),
                                                     rng.integers(1, n_items + 1, draws))})
    rows = [(u, i, int(rng.integers(1, 6)), 880000000 + int(rng.integers(0, 10**6))) for u, i in pairs]
    rng.shuffle(rows)
    write(folder / "u.data", "".join(f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in rows))
    items = []
    for i in range(1, n_items + 1):
        flags = ["0"] * 19
        flags[1 + i % 18] = "1"
        items.append(f"{i}|Movie {i} ({1990 + i % 10})|01-Jan-{1990 + i % 10}||http://x|" + "|".join(flags))
    write(folder / "u.item", "\n".join(items) + "\n", encoding="latin-1")
    if folds:
        for k in range(5):
            part = rows[k::5]
            write(folder / f"u{k + 1}.test", "".join(f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in part))
    return rows


def ml_params(tmp_path, **split):
    raw = raw_params(data={"name": "ml", "source": "movielens", "dir": str(tmp_path), "download": False,
                           "rating_scale": "auto"}, split=split)
    return params.parse(raw)


def subset_frame(ratings: pd.DataFrame) -> pd.DataFrame:
    """The ratings as the split stage reads them (indices added as preprocessing and the subset do)."""
    df = ratings.rename(columns={"item_id": "anime_id"}).copy()
    df["user_idx"] = pd.factorize(df["user_id"])[0]
    df["anime_idx"] = pd.factorize(df["anime_id"])[0]
    return df


def test_grouplens_100k_is_read(tmp_path):
    rows = grouplens(tmp_path)
    kind, rpath, ipath = movielens.layout(tmp_path)
    assert kind == "grouplens-100k"
    ratings = movielens.read_ratings(rpath, kind)
    assert len(ratings) == len(rows) and list(ratings["row"]) == list(range(len(rows)))
    assert (ratings["user_id"].to_numpy()[:3] == [r[0] for r in rows[:3]]).all()  # the file's order
    items = movielens.read_items(ipath, kind)
    assert items["name"].iat[0] == "Movie 1 (1991)" and items["genres"].iat[0] == ["Adventure"]


def test_ml1m_double_colon_and_latin1_titles_are_read(tmp_path):
    write(tmp_path / "ratings.dat", "1::10::5::978300760\n1::11::3::978302109\n2::10::4::978301968\n")
    write(tmp_path / "movies.dat", "10::Misérables, Les (1995)::Drama|Musical\n11::Café au lait (1993)::Comedy\n",
          encoding="latin-1")
    kind, rpath, ipath = movielens.layout(tmp_path)
    assert kind == "ml-1m"
    ratings = movielens.read_ratings(rpath, kind)
    assert list(ratings["rating"]) == [5, 3, 4] and list(ratings["timestamp"])[0] == 978300760
    items = movielens.read_items(ipath, kind)
    assert list(items["name"]) == ["Misérables, Les (1995)", "Café au lait (1993)"]
    assert items["genres"].iat[0] == ["Drama", "Musical"]


def test_recbole_atomic_files_are_read(tmp_path):
    write(tmp_path / "ml-100k.inter", "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
                                      "196\t242\t3\t881250949\n186\t302\t3\t891717742\n")
    write(tmp_path / "ml-100k.item", "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
                                     "242\tKolya\t1996\tComedy\n302\tL.A. Confidential\t1997\tCrime Film-Noir Mystery Thriller\n")
    kind, rpath, ipath = movielens.layout(tmp_path)
    assert kind == "recbole"
    assert list(movielens.read_ratings(rpath, kind)["item_id"]) == [242, 302]
    items = movielens.read_items(ipath, kind)
    assert items["name"].iat[1] == "L.A. Confidential (1997)" and "Film-Noir" in items["genres"].iat[1]


@pytest.mark.parametrize("text,match", [
    ("1\t2\t3\n", r"u.data, row 1: 3 fields, expected 4"),
    ("1\t2\tx\t5\n", r"u.data, row 1, column 'rating': 'x' is not an integer"),
    ("1\t2\t3\t5\n1\t2\t4\t6\n", r"u.data, row 1: duplicate \(user 1, item 2\) pair"),
    ("1\t-2\t3\t5\n", r"u.data, row 1, column 'item_id': negative id -2"),
])
def test_bad_rating_files_are_one_line(tmp_path, text, match):
    write(tmp_path / "u.data", text)
    write(tmp_path / "u.item", f"2|X (1990)|||x|{GENRES}\n")
    with pytest.raises(DataError, match=match):
        movielens.read_ratings(tmp_path / "u.data", "grouplens-100k")


def test_missing_files_say_what_is_expected(tmp_path):
    write(tmp_path / "notes.txt", "x")
    with pytest.raises(DataError, match="expected u.data \\+ u.item .* the folder holds notes.txt"):
        movielens.layout(tmp_path)
    write(tmp_path / "u.data", "1\t2\t3\t4\n")
    with pytest.raises(DataError, match="u.item: file not found"):
        movielens.layout(tmp_path)


def test_ratings_outside_the_scale_are_an_error(tmp_path):
    grouplens(tmp_path)
    raw = raw_params(data={"name": "ml", "source": "movielens", "dir": str(tmp_path), "download": False,
                           "rating_scale": [1, 4]})
    with pytest.raises(DataError, match=r"u.data, row \d+, column 'rating': rating 5 is outside 1-4"):
        MovieLensSource(params.parse(raw)).load()


def test_given_test_ratings_never_reach_training_or_validation(tmp_path):
    rows = grouplens(tmp_path, folds=True)
    p = ml_params(tmp_path)
    source = MovieLensSource(p)
    ratings, _, _, _ = source.load()
    df = subset_frame(ratings)
    mask, counts = source.given_test(df, "u1.test")
    assert counts["found"] == len(rows[0::5]) and counts["not_in_data"] == 0
    test_pairs = {(u, i) for u, i, _, _ in rows[0::5]}
    for seed in range(3):
        split, stats = make_split(df, 0.2, 0.1, seed, "given", test_mask=mask)
        seen = split.loc[split["split"] != "test"]
        assert not ({(u, i) for u, i in zip(seen["user_id"], seen["anime_id"])} & test_pairs)
        held = split.loc[split["split"] == "test"]
        assert {(u, i) for u, i in zip(held["user_id"], held["anime_id"])} <= test_pairs
        assert len(held) + stats["dropped"]["ratings"] == len(test_pairs)  # a test rating is kept or counted


def test_canonical_u1_follows_the_row_order_of_100000_ratings(tmp_path):
    """RecBole's ml-100k.inter keeps u.data's order, where u<k>.test is rows 20,000 (k-1) .. 20,000 k - 1."""
    n = 5 * movielens.FOLD_ROWS
    users, items = np.divmod(np.arange(n), 500)
    lines = "".join(f"{u + 1}\t{i + 1}\t{1 + (u + i) % 5}\t{880000000 + k}\n"
                    for k, (u, i) in enumerate(zip(users, items)))
    write(tmp_path / "ml-100k.inter", "user_id:token\titem_id:token\trating:float\ttimestamp:float\n" + lines)
    write(tmp_path / "ml-100k.item", "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
          + "".join(f"{i + 1}\tM{i}\t1990\tDrama\n" for i in range(500)))
    p = ml_params(tmp_path)
    source = MovieLensSource(p)
    ratings, _, _, _ = source.load()
    mask, counts = source.given_test(subset_frame(ratings), "u1.test")
    assert mask[:movielens.FOLD_ROWS].all() and not mask[movielens.FOLD_ROWS:].any()
    fold, where = fold_assignment(subset_frame(ratings), 5, 0, source)
    assert "canonical" in where and list(np.bincount(fold)[1:]) == [movielens.FOLD_ROWS] * 5


def test_folds_partition_the_ratings(tmp_path):
    grouplens(tmp_path, folds=True)
    p = ml_params(tmp_path)
    source = MovieLensSource(p)
    ratings, _, _, _ = source.load()
    df = subset_frame(ratings)
    fold, where = fold_assignment(df, 5, 0, source)
    assert where == "GroupLens's u1.test .. u5.test"
    assert sorted(set(fold)) == [1, 2, 3, 4, 5]  # every rating in exactly one fold
    tested = []
    for k in range(5):
        split, stats = make_split(df, 0.1, 0.1, k, "folds", test_mask=fold == k + 1)
        held = split.loc[split["split"] == "test"]
        tested += list(zip(held["user_id"], held["anime_id"]))
        assert not (set(zip(split.loc[split["split"] != "test", "user_id"], split.loc[split["split"] != "test",
                                                                                         "anime_id"]))
                    & set(zip(held["user_id"], held["anime_id"])))
    assert len(tested) == len(set(tested))  # the test sets are disjoint
    seeded, note = fold_assignment(df, 4, 0, source)  # 4 folds: not the canonical 5, seeded and said so
    assert "seeded partition into 4 folds" in note and np.bincount(seeded)[1:].min() >= len(df) // 4


def test_temporal_never_trains_on_a_rating_later_than_a_test_one(tmp_path):
    grouplens(tmp_path, n_users=15, n_items=40, seed=3)
    p = ml_params(tmp_path)
    ratings, _, _, _ = MovieLensSource(p).load()
    df = subset_frame(ratings)
    for k in (1, 2):
        split, stats = make_split(df, 0.1, 0.1, 0, "temporal", temporal_k=k)
        t = df.set_index(["user_id", "anime_id"])["timestamp"]
        split["t"] = t.reindex(pd.MultiIndex.from_arrays([split["user_id"], split["anime_id"]])).to_numpy()
        for _, g in split.groupby("user_id"):
            train, test = g.loc[g["split"] == "train", "t"], g.loc[g["split"] == "test", "t"]
            if len(test):
                assert train.max() <= test.min()
            assert len(train) >= 1 and len(test) <= k and (g["split"] == "val").sum() <= k


def test_temporal_needs_timestamps():
    df = pd.DataFrame({"user_idx": [0, 0, 0], "anime_idx": [0, 1, 2], "user_id": [1, 1, 1], "anime_id": [1, 2, 3],
                       "rating": [5, 6, 7]})
    with pytest.raises(DataError, match="needs a timestamp for every rating; this data has none"):
        make_split(df, 0.1, 0.1, 0, "temporal")


def test_protocol_params_are_checked():
    with pytest.raises(ParamsError, match="split.folds = 1"):
        params.parse(raw_params(split={"folds": 1}))
    with pytest.raises(ParamsError, match="split.temporal_k = 0"):
        params.parse(raw_params(split={"temporal_k": 0}))
    with pytest.raises(ParamsError, match="unknown protocol"):
        params.parse(raw_params(compare={"protocols": {"random": "all", "leave_one_out": "all"}}))


@pytest.mark.slow
def test_movielens_protocols_end_to_end(tmp_path):
    """`hybridrec use-data --source movielens` on GroupLens-format files, then `dvc repro`: reports for given,
    folds (one replicate per fold) and temporal; the given test set is u1.test's in every replicate; a second
    `dvc repro` has nothing to do."""
    import json
    import os
    import subprocess
    import sys

    import yaml

    from hybridrec.graph import read_split
    from hybridrec.paths import Paths
    from tests.conftest import copy_project, tiny_few

    cfg = tiny_few()
    root = copy_project(tmp_path / "p", cfg)
    rows = grouplens(root / "mldata", n_users=80, n_items=60, folds=True, draws=2500)
    raw = yaml.safe_load((root / "params.yaml").read_text())
    raw["compare"]["protocols"] = {"random": ["global_mean", "sage_paper", "hybrid"],
                                   "given": ["global_mean", "svd", "sage_paper"],
                                   "folds": ["global_mean", "svd", "sage_paper"], "temporal": ["global_mean", "sage_paper"]}
    raw["compare"]["pairs"] = []
    (root / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    env = {**os.environ, "HYBRIDREC_WORKERS": "2"}

    def run(*cmd):
        out = subprocess.run(list(cmd), cwd=root, capture_output=True, text=True, env=env)
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
        return out

    run(sys.executable, "-m", "hybridrec.cli", "use-data", "--source", "movielens", "--dir", "mldata", "--name", "ml")
    assert yaml.safe_load((root / "params.yaml").read_text())["subset"]["n_users"] == "all"
    run("dvc", "repro")
    reports = root / "reports" / "ml"
    for protocol in ("given", "folds", "temporal"):
        assert (reports / protocol / "comparison.md").is_file()
    given = (reports / "given" / "comparison.md").read_text()
    assert "it has no split variance" in given and "MovieLens" in given
    assert "title (year)" in given  # what the content models read, said in the report
    folds = json.loads((reports / "folds" / "runs.json").read_text())
    assert folds["replicates"] == 5
    assert "GroupLens's u1.test .. u5.test" in (reports / "folds" / "comparison.md").read_text()
    u1 = {(u, i) for u, i, _, _ in rows[0::5]}
    old = os.getcwd()
    os.chdir(root)
    try:
        for r in range(2):  # the same test ratings in every replicate: u1.test's (a user known only there: counted)
            split, _ = read_split(Paths("ml"), "given", r)
            info = json.loads(Paths("ml").split_info("given", r).read_text())
            test = split.loc[split["split"] == "test"]
            assert {(u, i) for u, i in zip(test["user_id"], test["anime_id"])} <= u1
            assert len(test) + info["dropped"]["ratings"] == len(u1)
    finally:
        os.chdir(old)
    again = run("dvc", "repro")
    assert "didn't change" in again.stdout or "Data and pipelines are up to date" in again.stdout, again.stdout[-2000:]


def published_res(models: dict, replicates: int) -> dict:
    return {"shape": (943, 1682), "replicates": replicates,
            "models": {n: {"rmse": {"mean": m, "std": 0.002}} for n, m in models.items()}}


def test_published_u1_table_stands_beside_ours():
    from hybridrec.reporting import published

    p = params.parse(raw_params())
    runs = {n: {"label": p.compare.models[n].label} for n in ("sage_paper", "sage_tuned", "hybrid", "svd")}
    res = published_res({"sage_paper": 1.05, "sage_tuned": 0.93, "hybrid": 0.91, "svd": 0.92}, 3)
    text = "\n".join(published.section(res, runs, p, "given"))
    assert "| GC-MC " in text and "0.9100" in text and "van den Berg" in text
    assert "Where the protocols differ" in text and "validation" in text
    assert ("- Ours: hybrid (ratings graph + synopsis + genres): 0.9100, +0.0000 against GC-MC's 0.91; the goal of "
            "<= 0.905 is missed by 0.0050." in text)
    assert "GraphSAGE, tuned: 0.9300, +0.0200 against GC-MC's 0.91; the goal of <= 0.915 is missed by 0.0150." in text
    assert published.section({**res, "shape": (100, 200)}, runs, p, "given") == []  # not ML-100K: nothing
    assert published.section(res, runs, p, "random") == []


def test_published_surprise_rows_say_whether_they_come_within_001():
    from hybridrec.reporting import published

    raw = raw_params()
    raw["compare"]["models"]["svd_defaults"] = {"kind": "surprise", "algo": "SVD"}
    raw["compare"]["models"]["nmf_defaults"] = {"kind": "surprise", "algo": "NMF"}
    p = params.parse(raw)
    runs = {n: {"label": n} for n in ("svd", "svd_defaults", "baseline_only", "sage_paper", "knn_baseline")}
    runs["nmf_defaults"] = {"label": "NMF (defaults)"}  # a label that says it already: not doubled
    res = published_res({"svd": 0.925, "svd_defaults": 0.950, "baseline_only": 0.946, "sage_paper": 1.1,
                         "knn_baseline": 0.93, "nmf_defaults": 0.96}, 5)
    lines = "\n".join(published.section(res, runs, p, "folds")).splitlines()
    rows = {line.split("|")[1].strip(): line for line in lines if line.startswith("| ")}
    assert "| 0.934 " in rows["svd_defaults (defaults)"] and "+0.0160" in rows["svd_defaults (defaults)"]
    assert rows["svd_defaults (defaults)"].rstrip(" |").endswith("no")
    assert rows["baseline_only (defaults)"].rstrip(" |").endswith("yes")
    assert rows["svd (tuned)"].rstrip(" |").endswith("yes")
    assert any("Defaults more than 0.01 from Surprise's table: svd_defaults" in line for line in lines)
    assert "sage_paper" not in rows  # not a Surprise model
    assert "NMF (defaults)" in rows and not any("(defaults) (defaults)" in r for r in rows)
    # the suite's KNNBaseline is item-based; Surprise's table is its user-based default: the report says so
    assert rows["knn_baseline (tuned)"].rstrip(" |").endswith("yes")
    assert any(line.startswith("- knn_baseline: item-based similarity") and "user-based" in line for line in lines)
