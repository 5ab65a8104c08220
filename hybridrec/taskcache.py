"""The per-task cache of the comparison: every tuning and every fit (model x replicate x seed) stored under a key
of exactly its inputs, so that a `dvc repro` after a change recomputes only the tasks the change touches.

A key is the sha256 of a canonical JSON of what determines the task's result: its kind (tune, fit, cross), the
model's resolved entry (kind, algo, options, search), the settings it trains with (tuned ones, its ``base``'s
entry and tuned settings too), its family's params section (``train`` / ``hybrid``), the replicate's split
sha256, the seed, the data's rating scale, the tuning budget (for a tuning) or the evaluation settings (for a
fit), and the source hash of the code the task runs (:func:`hybridrec.codehash.family_code_hash`: the shared
comparison code and the family's module). A model's name and label are not part of it: they change no number.

An entry is ``<key>.json`` (the result, its own key, and the sha256 of its predictions) and, for a fit,
``<key>.npz`` (the test predictions). Both are written under temporary names and renamed, the JSON last, so a
killed run leaves no entry half-written. Every read checks the entry: a JSON that does not parse, another key,
a missing or altered ``.npz`` (its sha256) is treated as absent and recomputed (and counted), never trusted.

The folder (``models/<d>/<protocol>/tasks/``) is a DVC output of the compare stage (persisted, so DVC does not
delete it before the stage runs; cached, so ``dvc push`` / ``dvc pull`` share it).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, is_dataclass
from pathlib import Path

import numpy as np

from hybridrec import io

log = logging.getLogger("hybridrec")
VERSION = 1  # of the entry format (a new format invalidates every entry)


def _plain(obj):
    """JSON-able canonical form (dataclasses as dicts, tuples as lists, numpy scalars as Python numbers)."""
    if is_dataclass(obj):
        return _plain(asdict(obj))
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def key_of(parts: dict) -> str:
    text = json.dumps({"version": VERSION, **_plain(parts)}, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class TaskCache:
    """Entries of one protocol's comparison under ``folder``; counts what it served and what it refused."""

    def __init__(self, folder: Path | None):
        self.folder = Path(folder) if folder is not None else None
        self.hits, self.misses, self.corrupt = 0, 0, 0

    def _paths(self, key: str) -> tuple[Path, Path]:
        return self.folder / f"{key}.json", self.folder / f"{key}.npz"

    def get(self, key: str, check=None):
        """(result, predictions or None) of a valid entry, else None (a corrupt entry is counted and ignored).

        ``check(result, predictions)``: the consumer's own test of the entry's content (it raises ValueError,
        KeyError or TypeError on an entry of the wrong shape: a fit's result under a tuning's key, predictions
        of another length or that disagree with the metrics stored beside them)."""
        if self.folder is None:
            return None
        meta_path, pred_path = self._paths(key)
        if not meta_path.exists():
            self.misses += 1
            return None
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            if not isinstance(meta, dict) or meta.get("key") != key or meta.get("version") != VERSION \
                    or not isinstance(meta.get("result"), dict):
                raise ValueError("another key or format")
            pred = None
            if meta.get("predictions_sha256") is not None:
                if _sha(pred_path) != meta["predictions_sha256"]:
                    raise ValueError("predictions do not match their sha256")
                with np.load(pred_path, allow_pickle=False) as z:
                    pred = z["pred"]
            if check is not None:
                check(meta["result"], pred)
        except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError) as e:
            self.corrupt += 1
            log.warning("task cache: entry %s unusable (%s: %s): recomputed", meta_path.name, type(e).__name__, e)
            return None
        self.hits += 1
        return meta["result"], pred

    def put(self, key: str, result, pred: np.ndarray | None = None) -> None:
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        meta_path, pred_path = self._paths(key)
        meta = {"version": VERSION, "key": key, "result": result, "predictions_sha256": None}
        if pred is not None:
            with io.atomic_path(pred_path, suffix=".npz") as tmp:
                np.savez(tmp, pred=pred)
            meta["predictions_sha256"] = _sha(pred_path)
        io.write_json(meta_path, meta)  # last: an entry exists only once it is complete

    def summary(self) -> dict:
        return {"hits": self.hits, "misses": self.misses, "corrupt": self.corrupt}
