"""Helpers shared by the stages: what produced an output, and where the raw files are."""

from __future__ import annotations

import dataclasses
import json
import platform
from pathlib import Path

import numpy as np
import pandas as pd

from hybridrec import data
from hybridrec.errors import DataError, ParamsError
from hybridrec.synthetic import GENERATOR_FILE
from hybridrec.params import Params, as_dict
from hybridrec.paths import SYNTHETIC_RAW


def provenance(p: Params | None = None, **extra) -> dict:
    """What produced an output: package versions, machine, and anything the caller adds."""
    import torch  # noqa: PLC0415 (slow import, only where needed)

    from hybridrec import __version__

    import torch_geometric  # noqa: PLC0415

    out = {"hybridrec": __version__, "python": platform.python_version(), "numpy": np.__version__,
           "pandas": pd.__version__, "torch": torch.__version__, "torch_geometric": torch_geometric.__version__,
           "machine": platform.machine()}
    if p is not None:
        out["params"] = {f.name: as_dict(getattr(p, f.name)) for f in dataclasses.fields(p)}
        stats = Path("data") / p.data.name / "preprocessed" / "stats.json"
        if stats.exists():  # the sha256 of the raw input files, recorded by preprocess
            out["dataset_sha256"] = json.loads(stats.read_text()).get("inputs")
    out.update(extra)
    return out



def raw_dir(p: Params) -> Path:
    src = Path(p.data.dir)
    if p.data.source == "synthetic":
        if not (src / GENERATOR_FILE).is_file():
            raise ParamsError(f"params.yaml: data.source = synthetic needs generated files in data.dir ({src} has "
                              f"no {GENERATOR_FILE}; the default is {SYNTHETIC_RAW}, written by `dvc repro generate`; "
                              "set data.source: kaggle for other files)")
        for f in data.REQUIRED_FILES:
            if not (src / f).is_file():
                raise DataError(src / f, "file not found (run `dvc repro generate` first)")
    else:
        data.ensure_files(src, p.data.download)
    return src


