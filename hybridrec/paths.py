"""Where every stage reads and writes (the same names dvc.yaml declares; a test checks they agree)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SYNTHETIC_RAW = Path("data/synthetic/raw")


@dataclass(frozen=True)
class Paths:
    name: str  # params data.name
    root: Path = Path(".")

    @property
    def data(self) -> Path:
        return self.root / "data" / self.name

    @property
    def preprocessed(self) -> Path:
        return self.data / "preprocessed"

    @property
    def subset(self) -> Path:
        return self.data / "subset"

    @property
    def embeddings(self) -> Path:
        return self.data / "embeddings.npz"

    @property
    def split(self) -> Path:
        return self.data / "split"

    @property
    def models(self) -> Path:
        return self.root / "models" / self.name

    @property
    def reports(self) -> Path:
        return self.root / "reports" / self.name
