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


# What a record of the numbers' platform holds (:func:`provenance`'s ``computed_on``): the versions and the platform
# fingerprint of the process that computed them.
PLATFORM_KEYS = ("torch", "torch_geometric", "platform")


def provenance(p: Params | None = None, computed_on: dict | None = None, **extra) -> dict:
    """What produced an output: package versions, machine, and anything the caller adds.

    ``computed_on``: the provenance of the output whose numbers this one reports (a comparison reports the runs of
    its compare stage). Its torch and PyG versions and platform fingerprint are taken over, because that is where the
    numbers' bits were made, and this process need not import torch (~1.5 s) to describe itself."""
    from hybridrec import __version__

    if computed_on is not None and all(k in computed_on for k in PLATFORM_KEYS):
        inherited = {k: computed_on[k] for k in PLATFORM_KEYS}
    else:
        import torch  # noqa: PLC0415 (slow import, only where needed)

        from hybridrec.fingerprint import fingerprint  # noqa: PLC0415

        inherited = {"torch": torch.__version__, "torch_geometric": _version("torch_geometric"),
                     "platform": fingerprint()}
    out = {"hybridrec": __version__, "python": platform.python_version(), "numpy": np.__version__,
           "pandas": pd.__version__, "torch": inherited["torch"], "torch_geometric": inherited["torch_geometric"],
           "machine": platform.machine(), "platform": inherited["platform"]}
    if p is not None:
        out["params"] = {f.name: as_dict(getattr(p, f.name)) for f in dataclasses.fields(p)}
        stats = Paths(p.data.name).preprocess_stats
        if stats.exists():  # the sha256 of the raw input files, recorded by preprocess
            out["dataset_sha256"] = json.loads(stats.read_text()).get("inputs")
    out.update(extra)
    return out
