"""Where every stage reads and writes: the one owner of the project's paths (the same names dvc.yaml
declares; a test checks they agree). Nothing else in the library spells a path."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Paths:
    name: str  # params data.name
    root: Path = Path(".")

    # --- data/<name>/ -----------------------------------------------------------------------
    @property
    def data(self) -> Path:
        return self.root / "data" / self.name

    @property
    def raw(self) -> Path:
        """Where the synthetic generator writes this data set (the default of ``data.dir``)."""
        return self.data / "raw"

    @property
    def preprocessed(self) -> Path:
        return self.data / "preprocessed"

    @property
    def preprocess_stats(self) -> Path:
        return self.preprocessed / "stats.json"

    @property
    def subset(self) -> Path:
        return self.data / "subset"

    @property
    def embeddings(self) -> Path:
        return self.data / "embeddings.npz"

    @property
    def embeddings_info(self) -> Path:
        return self.data / "embeddings.json"

    @property
    def split(self) -> Path:
        return self.data / "split"

    def split_file(self, protocol: str = "random", replicate: int = 0) -> Path:
        """The split of ``protocol`` in replicate ``replicate`` of the comparison (replicate 0, seed
        ``split.seed``: the paper model's; replicate r: seed ``split.seed + r``)."""
        return self.split / f"{protocol}{_replicate_suffix(replicate)}.parquet"

    def split_info(self, protocol: str = "random", replicate: int = 0) -> Path:
        return self.split / f"{protocol}{_replicate_suffix(replicate)}.json"

    # --- models/<name>/ ---------------------------------------------------------------------
    @property
    def models(self) -> Path:
        return self.root / "models" / self.name

    @property
    def paper_model(self) -> Path:
        return self.models / "paper" / "model.pt"

    @property
    def paper_predictions(self) -> Path:
        return self.models / "paper" / "predictions.parquet"

    def compare_predictions(self, protocol: str) -> Path:
        """Every compared model's test predictions (per model and replicate: seeds x test ratings)."""
        return self.models / protocol / "predictions.npz"

    def task_cache(self, protocol: str) -> Path:
        """The per-task cache of one protocol's comparison (hybridrec/taskcache.py)."""
        return self.models / protocol / "tasks"

    # --- reports/<name>/ --------------------------------------------------------------------
    @property
    def reports(self) -> Path:
        return self.root / "reports" / self.name

    @property
    def metrics(self) -> Path:
        return self.reports / "metrics.json"

    @property
    def train_info(self) -> Path:
        return self.reports / "train.json"

    @property
    def recommendations(self) -> Path:
        return self.reports / "recommendations.json"

    def protocol(self, protocol: str) -> Path:
        """The comparison of one split protocol: reports/<name>/<protocol>/."""
        return self.reports / protocol

    def tuning(self, protocol: str) -> Path:
        return self.protocol(protocol) / "tuning.json"

    def runs(self, protocol: str) -> Path:
        """Every model's per-seed metrics, settings and timings."""
        return self.protocol(protocol) / "runs.json"

    def comparison(self, protocol: str) -> Path:
        return self.protocol(protocol) / "comparison.json"


def _replicate_suffix(replicate: int) -> str:
    return "" if replicate == 0 else f".r{replicate}"


# The default synthetic data set's raw files (stage `generate`).
SYNTHETIC_RAW = Paths("synthetic").raw
