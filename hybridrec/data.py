"""Loading the Kaggle "Anime Recommendation Database 2020" files, with validation.

Every problem is a :class:`~hybridrec.errors.DataError` that names the file, the row (1-based data
row; the header is line 1, so data row N is line N+1 where rows span one line) and the column.
Reading never writes anything.

Integers (ids, ratings) are whole numbers that fit in 64 bits; one written with a decimal point and zero
fraction ("8.0") is that integer, the same in every column of every file ("8.5" is an error). A header
naming a column twice is an error (pandas would silently rename the second one ``<name>.1``).
"""

from __future__ import annotations

import codecs
from pathlib import Path

import numpy as np
import pandas as pd

from hybridrec.errors import DataError

RATINGS_FILE = "rating_complete.csv"
SYNOPSIS_FILE = "anime_with_synopsis.csv"
ANIME_FILE = "anime.csv"
REQUIRED_FILES = (SYNOPSIS_FILE, RATINGS_FILE)
KAGGLE_DATASET = "hernan4444/anime-recommendation-database-2020"
GENRE_COLUMNS = ("Genres", "Genders")  # early versions of the files say "Genders"
SYNOPSIS_COLUMNS = ("sypnopsis", "synopsis")  # the Kaggle header is misspelt "sypnopsis"
RESERVED_GENRES = ("anime_id",)  # the id column of preprocessed/genres.parquet, beside one column per genre


def kaggle_help(data_dir) -> str:
    return (f"put {SYNOPSIS_FILE} and {RATINGS_FILE} (optionally {ANIME_FILE}) from the Kaggle data set "
            f"'Anime Recommendation Database 2020' into {data_dir}/: "
            f"`kaggle datasets download -d {KAGGLE_DATASET} -p {data_dir} --unzip` "
            f"(needs ~/.kaggle/kaggle.json), or set data.download: true to let the pipeline do that")


def ensure_files(data_dir, download: bool = False) -> None:
    """Fail with instructions when a required Kaggle file is missing; optionally download them."""
    data_dir = Path(data_dir)
    missing = [f for f in REQUIRED_FILES if not (data_dir / f).is_file()]
    if missing and download:
        _download(data_dir)
        missing = [f for f in REQUIRED_FILES if not (data_dir / f).is_file()]
    if missing:
        raise DataError(data_dir / missing[0], f"file not found{_found_instead(data_dir, missing[0])}; "
                                               f"{kaggle_help(data_dir)}")


def _found_instead(data_dir: Path, name: str) -> str:
    """What the folder holds in place of ``name`` (a compressed copy, other CSVs), for the error message."""
    if not data_dir.is_dir():
        return f" (the folder {data_dir} does not exist)"
    stem = name.rsplit(".", 1)[0]
    near = sorted(p.name for p in data_dir.iterdir() if p.name.startswith(stem) and p.name != name)
    if near:
        return f" (found {', '.join(near[:3])}: decompress it; the pipeline reads the plain .csv)"
    csvs = sorted(p.name for p in data_dir.iterdir() if p.suffix.lower() == ".csv")
    return f" (the folder holds {', '.join(csvs[:5])})" if csvs else f" (the folder {data_dir} holds no .csv file)"


def _download(data_dir: Path) -> None:
    try:
        import kaggle  # noqa: PLC0415 (optional dependency, imported only when asked for)
    except ImportError:
        raise DataError(data_dir, "data.download is true but the `kaggle` package is not installed "
                                  "(pip install kaggle)") from None
    try:
        kaggle.api.authenticate()
        data_dir.mkdir(parents=True, exist_ok=True)
        kaggle.api.dataset_download_files(KAGGLE_DATASET, path=str(data_dir), unzip=True, quiet=False)
    except Exception as e:  # network, credentials, quota: all reported the same way
        raise DataError(data_dir, f"Kaggle download failed ({e}); {kaggle_help(data_dir)}") from None


def check_utf8(path, chunk: int = 1 << 24) -> None:
    """Raise a DataError naming the line of the first byte sequence that is not UTF-8."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, lines = 0, 1
    try:
        f = open(path, "rb")
    except OSError as e:
        raise _unreadable(path, e) from None
    with f:
        while True:
            block = f.read(chunk)
            final = not block
            try:
                decoder.decode(block, final=final)
            except UnicodeDecodeError as e:
                pos = e.start  # relative to this block, possibly negative for a split sequence
                pos = max(pos, 0)
                line = lines + block[:pos].count(b"\n")
                bad = block[pos:pos + 1].hex() if pos < len(block) else "end of file"
                raise DataError(path, f"not valid UTF-8 (byte 0x{bad} at byte {offset + pos}, line {line}); "
                                      "save the file as UTF-8") from None
            if final:
                return
            lines += block.count(b"\n")
            offset += len(block)


def _unreadable(path, e: OSError) -> DataError:
    return DataError(path, f"cannot read the file ({e.strerror or e})")


def _read_csv(path, **kwargs) -> pd.DataFrame:
    try:
        return pd.read_csv(path, encoding="utf-8", **kwargs)
    except OSError as e:
        raise _unreadable(path, e) from None
    except pd.errors.EmptyDataError:
        raise DataError(path, "file is empty (expected a CSV header and rows)") from None
    except pd.errors.ParserError as e:
        raise DataError(path, f"malformed CSV: {str(e).strip().removeprefix('Error tokenizing data. ')}") from None
    except UnicodeDecodeError:
        check_utf8(path)
        raise


def _header(path) -> list[str]:
    """The column names of the header line as written (no renaming of duplicates); a duplicate is an error."""
    first = _read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False)
    names = [str(c) for c in first.iloc[0]] if len(first) else []
    seen = {}
    for i, name in enumerate(names):
        if name.strip() == "":
            continue  # pandas names blank headers Unnamed: <i>, distinct
        if name in seen:
            raise DataError(path, f"duplicate column in the header (columns {seen[name] + 1} and {i + 1}); "
                                  "rename or remove one", column=name)
        seen[name] = i
    return names


def _delimiter_hint(header) -> str:
    """A hint when the header is one column that another delimiter would split (a ';' or tab separated file)."""
    if len(header) == 1:
        for sep, name in ((";", "semicolon"), ("\t", "tab"), ("|", "'|'")):
            if sep in header[0]:
                return f"; the file looks {name}-separated: the Kaggle files are comma-separated"
    return ""


def _require(path, header, column):
    if column not in header:
        raise DataError(path, f"missing column '{column}' (header has: {', '.join(header)}){_delimiter_hint(header)}")


def _pick(path, header, choices):
    for c in choices:
        if c in header:
            return c
    raise DataError(path, f"missing column '{choices[0]}' (or '{choices[1]}'); header has: {', '.join(header)}"
                          f"{_delimiter_hint(header)}")


INT64_DIGITS = len(str(2**63))  # 19: a number with fewer digits always fits in 64 bits


def _integers(path, column, values: pd.Series) -> np.ndarray:
    """``values`` (strings) as int64; a DataError for the first one that is not a whole number (an optional
    ``.0`` fraction is allowed) or does not fit in 64 bits."""
    text = values.fillna("").astype(str).str.strip()
    bad = ~text.str.fullmatch(r"[+-]?\d+(?:\.0*)?").to_numpy(dtype=bool)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raw = values.iloc[i]
        what = "empty value" if pd.isna(raw) or str(raw).strip() == "" else f"'{raw}' is not an integer"
        raise DataError(path, what, row=i + 1, column=column)
    digits = text.str.replace(r"\.0*$", "", regex=True)
    long = (digits.str.lstrip("+-").str.lstrip("0").str.len() >= INT64_DIGITS).to_numpy()
    for i in np.flatnonzero(long):  # rare: check these exactly
        if not -(2**63) <= int(digits.iat[i]) < 2**63:
            raise DataError(path, f"{text.iat[i]} is too large for a 64-bit integer", row=int(i) + 1, column=column)
    return digits.astype(np.int64).to_numpy()


def _check_unique_ids(path, ids: pd.Series, column="MAL_ID") -> None:
    dup = ids.duplicated(keep=False).to_numpy()
    if dup.any():
        rows = np.flatnonzero(dup)
        raise DataError(path, f"duplicate {column} {ids.iat[rows[0]]} (also at row {rows[1] + 1})",
                        row=rows[0] + 1, column=column)


def load_ratings(path, scale=None) -> pd.DataFrame:
    """Read ``rating_complete.csv``: integer user_id, anime_id, rating (within ``scale``, a
    :class:`~hybridrec.metrics.Scale`, when given; else any integer >= 0), no duplicate pairs."""
    path = Path(path)
    check_utf8(path)
    header = _header(path)
    for c in ("user_id", "anime_id", "rating"):
        _require(path, header, c)
    cols = ["user_id", "anime_id", "rating"]
    # No usecols: the parser must see every field to report rows with too many of them.
    try:  # fast path: every value parses as an integer
        df = _read_csv(path, dtype={c: np.int64 for c in cols}, engine="c")
    except (ValueError, TypeError, OverflowError):
        df = _read_csv(path, dtype={c: str for c in cols}, keep_default_na=False)
        df = pd.DataFrame({c: _integers(path, c, df[c]) for c in cols})
    df = df[cols]
    lo, hi = (scale.lo, scale.hi) if scale is not None else (0, np.inf)
    bad = (df["rating"] < lo) | (df["rating"] > hi)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        where = f"outside {lo:g}-{hi:g} (data.rating_scale)" if scale is not None else "negative"
        raise DataError(path, f"rating {df['rating'].iat[i]} is {where}", row=i + 1, column="rating")
    for c in ("user_id", "anime_id"):
        if (df[c] < 0).any():
            i = int(np.flatnonzero((df[c] < 0).to_numpy())[0])
            raise DataError(path, f"negative id {df[c].iat[i]}", row=i + 1, column=c)
    dup = df.duplicated(["user_id", "anime_id"], keep=False).to_numpy()
    if dup.any():
        rows = np.flatnonzero(dup)
        first = rows[0]
        same = rows[(df["user_id"].to_numpy()[rows] == df["user_id"].iat[first])
                    & (df["anime_id"].to_numpy()[rows] == df["anime_id"].iat[first])]
        raise DataError(path, f"duplicate (user_id={df['user_id'].iat[first]}, anime_id={df['anime_id'].iat[first]}) "
                              f"pair, also at row {same[1] + 1} ({int(dup.sum())} rows are duplicates)",
                        row=first + 1)
    if df.empty:
        raise DataError(path, "no ratings (the file has a header but no rows)")
    # compact dtypes: 57M ratings take 0.5 GB instead of 1.4 GB
    id_type = np.int32 if max(int(df["user_id"].max()), int(df["anime_id"].max())) < 2**31 else np.int64
    return df.astype({"user_id": id_type, "anime_id": id_type, "rating": np.int8})


def split_genres(text: str) -> list[str]:
    return [g.strip() for g in str(text).split(",") if g.strip()]


def load_synopses(path, missing_prefix: str) -> pd.DataFrame:
    """Read ``anime_with_synopsis.csv`` into anime_id, name, score, genres (list), synopsis.

    ``synopsis_missing`` / ``genres_missing`` flag the nulls the paper drops (empty text, or a
    synopsis starting with ``missing_prefix`` such as MAL's "No synopsis information has been added");
    they are counted and reported by preprocessing, not dropped here.
    """
    path = Path(path)
    check_utf8(path)
    header = _header(path)
    _require(path, header, "MAL_ID")
    _require(path, header, "Name")
    gcol = _pick(path, header, GENRE_COLUMNS)
    scol = _pick(path, header, SYNOPSIS_COLUMNS)
    df = _read_csv(path, dtype=str, keep_default_na=False)
    ids = pd.Series(_integers(path, "MAL_ID", df["MAL_ID"]))
    _check_unique_ids(path, ids)
    synopsis = df[scol].str.strip()
    score = pd.to_numeric(df["Score"], errors="coerce") if "Score" in df else np.nan  # "Unknown" -> NaN
    genres = df[gcol].map(split_genres)
    reserved = genres.map(lambda gs: any(g in RESERVED_GENRES for g in gs)).to_numpy(dtype=bool)
    if reserved.any():
        i = int(np.flatnonzero(reserved)[0])
        g = next(g for g in genres.iat[i] if g in RESERVED_GENRES)
        raise DataError(path, f"genre '{g}' is a reserved name (the id column of the preprocessed genre table); "
                              "rename the genre", row=i + 1, column=gcol)
    out = pd.DataFrame({
        "anime_id": ids,
        "name": df["Name"],
        "score": score,
        "genres": genres,
        "synopsis": synopsis,
        "synopsis_missing": (synopsis == "") | synopsis.str.lower().str.startswith(missing_prefix.lower()),
        "genres_missing": genres.map(len) == 0,
    })
    if out.empty:
        raise DataError(path, "no anime rows (the file has a header but no rows)")
    return out


def load_anime_meta(path) -> pd.DataFrame | None:
    """Read the optional ``anime.csv`` (MAL_ID, Name, Type, Episodes); None when absent."""
    path = Path(path)
    if not path.is_file():
        return None
    check_utf8(path)
    header = _header(path)
    _require(path, header, "MAL_ID")
    _require(path, header, "Name")
    usecols = [c for c in ("MAL_ID", "Name", "Type", "Episodes") if c in header]
    df = _read_csv(path, dtype=str, keep_default_na=False)[usecols]
    df["MAL_ID"] = _integers(path, "MAL_ID", df["MAL_ID"])
    _check_unique_ids(path, df["MAL_ID"])
    return df.rename(columns={"MAL_ID": "anime_id", "Name": "name", "Type": "type", "Episodes": "episodes"})
