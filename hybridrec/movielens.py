"""Reading MovieLens (GroupLens) files, validated like the Kaggle ones: every problem is a one-line
:class:`~hybridrec.errors.DataError` naming the file, the row and the column; nothing is dropped silently.

Three layouts are recognised in ``data.dir``:

* **ML-100K as GroupLens ships it**: ``u.data`` (tab-separated user, item, rating, timestamp; 100,000 rows in
  their original order) and ``u.item`` (``|``-separated, Latin-1: id, title, release date, video release date,
  IMDb URL and 19 genre flags); the canonical folds ``u1.base``/``u1.test`` ... ``u5.test`` beside them.
* **ML-100K as RecBole ships it** (the PyPI wheel ``recbole==1.2.1``, ``recbole/dataset_example/ml-100k/``):
  ``ml-100k.inter`` (u.data's rows in their original order, with a typed header) and ``ml-100k.item`` (id, title,
  release year, genres). GroupLens's ``u<k>.test`` is rows ``20,000 (k-1)`` to ``20,000 k - 1`` of u.data, so the
  canonical folds follow from the row order.
* **ML-1M**: ``ratings.dat`` (``UserID::MovieID::Rating::Timestamp``) and ``movies.dat``
  (``MovieID::Title::Genres``, Latin-1 titles). It has no canonical folds.

MovieLens has no synopsis: the text a model reads is the movie's "title (year)" (reports say so), and the genres
are the 18 (ML-1M) or 19 (ML-100K, with "unknown") genre flags.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from hybridrec.errors import DataError

ML100K_GENRES = ("unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
                 "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
                 "War", "Western")
FOLD_ROWS = 20_000  # ML-100K: u<k>.test holds rows 20,000 (k - 1) .. 20,000 k - 1 of u.data
LAYOUTS = {  # layout -> (ratings file, items file)
    "grouplens-100k": ("u.data", "u.item"),
    "recbole": (None, None),  # <name>.inter, <name>.item
    "ml-1m": ("ratings.dat", "movies.dat"),
}


def layout(data_dir) -> tuple[str, Path, Path]:
    """(layout, ratings file, items file) of the MovieLens files in ``data_dir``; a DataError saying what is
    expected (and what the folder holds) when none is there."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataError(data_dir, "folder not found (data.dir of a MovieLens data set: the folder holding u.data and "
                                  "u.item, ratings.dat and movies.dat, or RecBole's <name>.inter and <name>.item)")
    for name, (ratings, items) in LAYOUTS.items():
        if ratings and (data_dir / ratings).is_file():
            if not (data_dir / items).is_file():
                raise DataError(data_dir / items, f"file not found (it belongs beside {ratings})")
            return name, data_dir / ratings, data_dir / items
    inter = sorted(data_dir.glob("*.inter"))
    if inter:
        items = inter[0].with_suffix(".item")
        if not items.is_file():
            raise DataError(items, f"file not found (it belongs beside {inter[0].name})")
        return "recbole", inter[0], items
    held = sorted(p.name for p in data_dir.iterdir())[:6]
    raise DataError(data_dir, "no MovieLens files: expected u.data + u.item (ML-100K), ratings.dat + movies.dat "
                              "(ML-1M) or <name>.inter + <name>.item (RecBole); the folder holds "
                              f"{', '.join(held) if held else 'nothing'}")


def _lines(path, encoding) -> list[str]:
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise DataError(path, f"cannot read the file ({e.strerror or e})") from None
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise DataError(path, f"not {encoding} text (byte {e.start}: {raw[e.start:e.start + 1]!r})", row=line) from None
    return text.splitlines()


def _int(path, row, column, text) -> int:
    text = text.strip()
    if not re.fullmatch(r"[+-]?\d+(?:\.0*)?", text):
        raise DataError(path, f"'{text}' is not an integer" if text else "empty value", row=row, column=column)
    value = int(re.sub(r"\.0*$", "", text))
    if not -(2**63) <= value < 2**63:
        raise DataError(path, f"{text} is too large for a 64-bit integer", row=row, column=column)
    return value


def _ratings_table(path, rows: list[list[str]], first_row: int, columns=("user_id", "item_id", "rating",
                                                                           "timestamp")) -> pd.DataFrame:
    """Validated integer columns; ``rows`` are split fields, ``first_row`` the 1-based line of rows[0]."""
    if not rows:
        raise DataError(path, "no ratings (the file is empty)")
    try:  # fast path: every row has the fields and every field is an integer
        if any(len(r) != len(columns) for r in rows):
            raise ValueError("field count")
        df = pd.DataFrame(np.array(rows, dtype=np.int64).reshape(len(rows), len(columns)), columns=list(columns))
    except (ValueError, OverflowError):  # find the first bad field, for the message
        out = {c: np.empty(len(rows), dtype=np.int64) for c in columns}
        for i, fields in enumerate(rows):
            line = first_row + i
            if len(fields) != len(columns):
                raise DataError(path, f"{len(fields)} fields, expected {len(columns)} ({', '.join(columns)})",
                                row=line) from None
            for c, text in zip(columns, fields):
                out[c][i] = _int(path, line, c, text)
        df = pd.DataFrame(out)
    for c in ("user_id", "item_id"):
        bad = np.flatnonzero(df[c].to_numpy() < 0)
        if len(bad):
            raise DataError(path, f"negative id {df[c].iat[bad[0]]}", row=first_row + int(bad[0]), column=c)
    bad = np.flatnonzero(df["rating"].to_numpy() < 0)
    if len(bad):
        raise DataError(path, f"rating {df['rating'].iat[bad[0]]} is negative", row=first_row + int(bad[0]),
                        column="rating")
    dup = df.duplicated(["user_id", "item_id"], keep=False).to_numpy()
    if dup.any():
        rows_ = np.flatnonzero(dup)
        raise DataError(path, f"duplicate (user {df['user_id'].iat[rows_[0]]}, item {df['item_id'].iat[rows_[0]]}) "
                              f"pair ({int(dup.sum())} rows are duplicates)", row=first_row + int(rows_[0]))
    return df


def read_ratings(path, kind: str) -> pd.DataFrame:
    """user_id, item_id, rating, timestamp (int64) and row (0-based position in the file's order)."""
    path = Path(path)
    if kind == "grouplens-100k":
        lines = _lines(path, "utf-8")
        rows = [line.split("\t") for line in lines if line.strip()]
        df = _ratings_table(path, rows, 1)
    elif kind == "ml-1m":
        lines = _lines(path, "utf-8")
        rows = [line.split("::") for line in lines if line.strip()]
        df = _ratings_table(path, rows, 1)
    else:  # RecBole atomic file: a typed header, tab-separated
        lines = _lines(path, "utf-8")
        if not lines:
            raise DataError(path, "file is empty (expected a header and rows)")
        header = [h.split(":")[0] for h in lines[0].split("\t")]
        need = ("user_id", "item_id", "rating", "timestamp")
        missing = [c for c in need[:3] if c not in header]
        if missing:
            raise DataError(path, f"missing column '{missing[0]}' (header has: {', '.join(header)})")
        pos = [header.index(c) if c in header else None for c in need]
        rows = []
        for i, line in enumerate(lines[1:]):
            fields = line.split("\t")
            if len(fields) != len(header):
                raise DataError(path, f"{len(fields)} fields, expected {len(header)}", row=i + 2)
            rows.append([fields[p] if p is not None else "-1" for p in pos])
        df = _ratings_table(path, rows, 2)
    df["row"] = np.arange(len(df), dtype=np.int64)
    return df


def _title_year(title: str) -> tuple[str, str]:
    """("Toy Story", "1995") from "Toy Story (1995)"; the year is "" when the title holds none."""
    m = re.match(r"^(.*?)\s*\((\d{4})\)\s*$", title)
    return (m.group(1), m.group(2)) if m else (title.strip(), "")


def read_items(path, kind: str) -> pd.DataFrame:
    """anime_id (the movie id), name, genres (list), text ("title (year)") of every movie; the suite's
    content columns under the names its anime use."""
    path = Path(path)
    records = []
    if kind == "grouplens-100k":
        for i, line in enumerate(_lines(path, "latin-1")):
            if not line.strip():
                continue
            f = line.split("|")
            if len(f) != 5 + len(ML100K_GENRES):
                raise DataError(path, f"{len(f)} fields, expected {5 + len(ML100K_GENRES)} (id|title|release date|"
                                      "video release date|IMDb URL|19 genre flags)", row=i + 1)
            flags = f[5:]
            bad = [g for g, x in zip(ML100K_GENRES, flags) if x.strip() not in ("0", "1")]
            if bad:
                raise DataError(path, "a genre flag must be 0 or 1", row=i + 1, column=bad[0])
            title, year = _title_year(f[1])
            if not year and re.search(r"\d{4}$", f[2].strip()):
                year = f[2].strip()[-4:]
            records.append((_int(path, i + 1, "movie id", f[0]), title, year,
                            [g for g, x in zip(ML100K_GENRES, flags) if x.strip() == "1"], i + 1))
    elif kind == "ml-1m":
        for i, line in enumerate(_lines(path, "latin-1")):
            if not line.strip():
                continue
            f = line.split("::")
            if len(f) != 3:
                raise DataError(path, f"{len(f)} fields, expected 3 (MovieID::Title::Genres)", row=i + 1)
            title, year = _title_year(f[1])
            records.append((_int(path, i + 1, "MovieID", f[0]), title, year,
                            [g for g in f[2].strip().split("|") if g], i + 1))
    else:
        lines = _lines(path, "utf-8")
        if not lines:
            raise DataError(path, "file is empty (expected a header and rows)")
        header = [h.split(":")[0] for h in lines[0].split("\t")]
        for c in ("item_id", "movie_title"):
            if c not in header:
                raise DataError(path, f"missing column '{c}' (header has: {', '.join(header)})")
        pi, pt = header.index("item_id"), header.index("movie_title")
        py = header.index("release_year") if "release_year" in header else None
        pg = header.index("class") if "class" in header else None
        for i, line in enumerate(lines[1:]):
            f = line.split("\t")
            if len(f) != len(header):
                raise DataError(path, f"{len(f)} fields, expected {len(header)}", row=i + 2)
            year = f[py].strip() if py is not None else ""
            records.append((_int(path, i + 2, "item_id", f[pi]), f[pt].strip(), year,
                            f[pg].split() if pg is not None else [], i + 2))
    if not records:
        raise DataError(path, "no movies (the file is empty)")
    df = pd.DataFrame(records, columns=["anime_id", "title", "year", "genres", "line"])
    dup = df["anime_id"].duplicated(keep=False).to_numpy()
    if dup.any():
        rows = np.flatnonzero(dup)
        raise DataError(path, f"duplicate movie id {df['anime_id'].iat[rows[0]]} (also at row "
                              f"{df['line'].iat[rows[1]]})", row=int(df["line"].iat[rows[0]]))
    df["name"] = [f"{t} ({y})" if y else t for t, y in zip(df["title"], df["year"])]
    return df


def synopses_frame(items: pd.DataFrame) -> pd.DataFrame:
    """The items as the suite's synopsis table (data.load_synopses' columns): the text is "title (year)"
    (MovieLens has no synopsis); a movie without a title, or without a genre, is flagged like a null."""
    text = items["name"].astype(str).str.strip()
    return pd.DataFrame({
        "anime_id": items["anime_id"].astype(np.int64), "name": items["name"], "score": np.nan,
        "genres": items["genres"], "synopsis": text, "synopsis_missing": text == "",
        "genres_missing": items["genres"].map(len) == 0,
    })


def canonical_folds(kind: str, ratings: pd.DataFrame, data_dir) -> tuple[np.ndarray | None, str]:
    """(fold 1..5 of every rating, or None; where the folds come from). ML-100K's u1..u5: read from the
    u<k>.test files where they exist, else from the row order (u<k>.test is rows 20,000 (k - 1) .. 20,000 k - 1
    of u.data, which RecBole's .inter keeps). ML-1M and other files have none."""
    data_dir = Path(data_dir)
    if kind == "grouplens-100k" and all((data_dir / f"u{k}.test").is_file() for k in range(1, 6)):
        fold = np.zeros(len(ratings), dtype=np.int64)
        index = pd.Series(np.arange(len(ratings)), index=pd.MultiIndex.from_arrays(
            [ratings["user_id"].to_numpy(), ratings["item_id"].to_numpy()]))
        for k in range(1, 6):
            test = read_pairs(data_dir / f"u{k}.test")
            rows = index.reindex(pd.MultiIndex.from_arrays([test["user_id"], test["item_id"]]))
            if rows.isna().any():
                i = int(np.flatnonzero(rows.isna().to_numpy())[0])
                raise DataError(data_dir / f"u{k}.test", f"(user {test['user_id'].iat[i]}, item "
                                                         f"{test['item_id'].iat[i]}) is not a rating of u.data",
                                row=i + 1)
            fold[rows.to_numpy(dtype=np.int64)] = k
        if (fold == 0).any():
            raise DataError(data_dir / "u1.test", f"{int((fold == 0).sum())} ratings of u.data are in no u<k>.test "
                                                  "(the five test files must partition u.data)")
        return fold, "GroupLens's u1.test .. u5.test"
    if kind in ("grouplens-100k", "recbole") and len(ratings) == 5 * FOLD_ROWS:
        return ratings["row"].to_numpy() // FOLD_ROWS + 1, ("the canonical u1..u5 of GroupLens (u<k>.test = rows "
                                                            f"{FOLD_ROWS:,} (k-1) .. {FOLD_ROWS:,} k - 1 of u.data)")
    return None, "none"


def read_pairs(path) -> pd.DataFrame:
    """A given split file: GroupLens's u<k>.base / u<k>.test (tab-separated user, item, rating, timestamp), or
    a CSV with a header naming user_id and item_id (or anime_id); only the pairs are used."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "file not found (split.given names the test file, and optionally the train file, of "
                              "the given protocol)")
    lines = _lines(path, "utf-8")
    first = lines[0] if lines else ""
    if "," in first and re.search(r"user_id", first):
        header = [h.strip() for h in first.split(",")]
        item = "item_id" if "item_id" in header else "anime_id" if "anime_id" in header else None
        if item is None:
            raise DataError(path, f"missing column 'item_id' (or 'anime_id'); header has: {', '.join(header)}")
        rows = [line.split(",") for line in lines[1:] if line.strip()]
        ui, ii = header.index("user_id"), header.index(item)
        users = [_int(path, i + 2, "user_id", r[ui]) for i, r in enumerate(rows)]
        items = [_int(path, i + 2, item, r[ii]) for i, r in enumerate(rows)]
        return pd.DataFrame({"user_id": users, "item_id": items})
    rows = [line.split("\t") for line in lines if line.strip()]
    return _ratings_table(path, rows, 1)[["user_id", "item_id"]]
