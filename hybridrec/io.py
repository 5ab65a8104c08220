"""Atomic file writing and checked reading.

Every output goes through :func:`atomic_path`: the data is written to a temporary file beside the
target and renamed into place only when complete, so an interrupted stage never leaves a file a later
stage could mistake for finished work. A stage that writes a whole folder writes it through
:func:`atomic_dir`, so the folder is replaced whole or not at all. Outputs get the permissions the umask
gives any new file (0644 under the usual umask 022), not the 0600 of a temporary file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import typing
from pathlib import Path

import numpy as np

from hybridrec.errors import DataError

if typing.TYPE_CHECKING:  # pandas is imported where a table is read or written: the JSON helpers (the gate, the
    import pandas as pd   # reports) start without it


PARTIAL = ".partial-"
OLD = ".old-"


def _umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it; put it straight back
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path, suffix=None):
    """Yield a temporary path beside ``path``; rename it onto ``path`` if the block succeeds.

    The temporary file is named ``.<name>.partial-XXXX`` (git-ignored); partial files a killed earlier
    run left behind for the same target are removed first.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}{PARTIAL}*"):
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}{PARTIAL}", suffix=suffix or "", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; an output is an ordinary file
    finally:
        os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if e.filename is None:  # a write(2) that failed (a full disk) names no file: name the output
            raise OSError(e.errno, e.strerror or str(e), str(path)) from e
        raise
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_files():
    """Write several outputs as one: yields ``temp(path, suffix=None) -> temporary path`` beside ``path``; when
    the block succeeds every temporary file is renamed onto its path, when it fails none is (all removed), so
    a failure midway (a plot that cannot be drawn, a full disk) leaves every previous output as it was."""
    pending: list[tuple[Path, Path]] = []

    def temp(path, suffix=None) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}{PARTIAL}", suffix=suffix or "", dir=path.parent)
        try:
            os.fchmod(fd, 0o666 & ~_umask())
        finally:
            os.close(fd)
        pending.append((Path(tmp), path))
        return Path(tmp)

    try:
        yield temp
        for tmp, path in pending:
            os.replace(tmp, path)
    except BaseException:
        for tmp, _ in pending:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        raise


def dumps_json(obj) -> str:
    """The JSON text :func:`write_json` writes."""
    return json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n"


@contextlib.contextmanager
def atomic_dir(path):
    """Yield an empty temporary folder beside ``path``; if the block succeeds, it replaces ``path`` whole.

    On failure (an exception, a full disk) the temporary folder is removed and ``path`` is left exactly as
    it was, so a stage never leaves a mix of new and old files. The folder is named ``.<name>.partial-XXXX``
    (git-ignored); those a killed earlier run left behind are removed first. The swap is two renames (the
    old folder aside to ``.<name>.old-XXXX``, the new one into place), then the old one is deleted.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in [*path.parent.glob(f".{path.name}{PARTIAL}*"), *path.parent.glob(f".{path.name}{OLD}*")]:
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}{PARTIAL}", dir=path.parent))
    try:
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700
        yield tmp
        old = None
        if path.exists() or path.is_symlink():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}{OLD}", dir=path.parent))
            os.replace(path, old / path.name)
        try:
            os.replace(tmp, path)
        except BaseException:
            if old is not None:  # put the previous folder back
                os.replace(old / path.name, path)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_text(path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path, obj) -> None:
    write_text(path, dumps_json(obj))


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def write_parquet(path, df: pd.DataFrame) -> None:
    with atomic_path(path, suffix=".parquet") as tmp:
        df.to_parquet(tmp, index=False)


def write_csv(path, df: pd.DataFrame, **kwargs) -> None:
    with atomic_path(path, suffix=".csv") as tmp:
        df.to_csv(tmp, index=False, lineterminator="\n", **kwargs)


def write_npz(path, **arrays) -> None:
    with atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)


def read_json(path):
    path = Path(path)
    if not path.exists():
        raise DataError(path, "file not found (run the stage that writes it: `dvc repro`)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DataError(path, f"not valid JSON ({e})") from None


def read_parquet(path, columns=None) -> pd.DataFrame:
    """Read a parquet file written by a stage; check the columns a caller needs are there."""
    path = Path(path)
    if not path.exists():
        raise DataError(path, "file not found (run the stage that writes it: `dvc repro`)")
    import pandas as pd

    try:
        df = pd.read_parquet(path)
    except Exception as e:  # pyarrow raises several types for a damaged file
        raise DataError(path, f"unreadable parquet file ({e})") from None
    if columns:
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise DataError(path, f"missing column(s) {missing}; found {list(df.columns)}")
    return df


def read_npz(path, keys=()) -> dict:
    path = Path(path)
    if not path.exists():
        raise DataError(path, "file not found (run the stage that writes it: `dvc repro`)")
    try:
        with np.load(path, allow_pickle=False) as z:
            out = {k: z[k] for k in z.files}
    except Exception as e:
        raise DataError(path, f"unreadable npz file ({e})") from None
    missing = [k for k in keys if k not in out]
    if missing:
        raise DataError(path, f"missing array(s) {missing}")
    return out


def sha256_file(path, chunk=1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
