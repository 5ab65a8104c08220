"""What produced an output: package versions, machine, parameters and the data set's sha256."""

from __future__ import annotations

import dataclasses
import json
import platform

import numpy as np
import pandas as pd

from hybridrec.params import Params, as_dict
from hybridrec.paths import Paths


def _version(package: str) -> str:
    """An installed package's version without importing it (importing PyG alone takes ~3 s, and most stages that
    record provenance never build a graph)."""
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def provenance(p: Params | None = None, **extra) -> dict:
    """What produced an output: package versions, machine, and anything the caller adds."""
    import torch  # noqa: PLC0415 (slow import, only where needed)

    from hybridrec import __version__
    from hybridrec.fingerprint import fingerprint  # noqa: PLC0415

    out = {"hybridrec": __version__, "python": platform.python_version(), "numpy": np.__version__,
           "pandas": pd.__version__, "torch": torch.__version__, "torch_geometric": _version("torch_geometric"),
           "machine": platform.machine(), "platform": fingerprint()}
    if p is not None:
        out["params"] = {f.name: as_dict(getattr(p, f.name)) for f in dataclasses.fields(p)}
        stats = Paths(p.data.name).preprocess_stats
        if stats.exists():  # the sha256 of the raw input files, recorded by preprocess
            out["dataset_sha256"] = json.loads(stats.read_text()).get("inputs")
    out.update(extra)
    return out
