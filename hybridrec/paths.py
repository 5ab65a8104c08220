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

    @property
    def split_file(self) -> Path:
        return self.split / "split.parquet"

    @property
    def split_info(self) -> Path:
        return self.split / "split.json"

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

    def compare_predictions(self, model: str) -> Path:
        return self.models / "compare" / f"{model}.npz"

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

    @property
    def tuning(self) -> Path:
        return self.reports / "tuning.json"

    def run(self, model: str) -> Path:
        return self.reports / "runs" / f"{model}.json"

    @property
    def comparison(self) -> Path:
        return self.reports / "comparison.json"


# The default synthetic data set's raw files (stage `generate`).
SYNTHETIC_RAW = Paths("synthetic").raw
