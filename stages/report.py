"""Stage `report`: reports/<dataset>/replication.md - the paper's numbers beside ours, every reading of
its undefined "loss", the choices we made where it is silent, and top-10 lists (paper Figure 3).

Usage: python stages/report.py [--params params.yaml]   (normally run by `dvc repro`)
"""

from hybridrec import io, metrics
from hybridrec.cli import stage
from hybridrec.paths import Paths
from hybridrec.reporting import replication
from hybridrec.synthetic import oracle_predictions


def run(p) -> None:
    paths = Paths(p.data.name)
    split = io.read_parquet(paths.split / "split.parquet", ["user_id", "anime_id", "rating", "split"])
    oracle = None
    if p.data.source == "synthetic":
        oracle = oracle_predictions(split.loc[split["split"] == "test"], p.data.dir)
    refs = replication.reference_points(split, metrics.rating_metrics, oracle)
    replication.write(paths.reports, p, io.read_json(paths.reports / "metrics.json"),
                      io.read_json(paths.reports / "train.json"), io.read_json(paths.reports / "recommendations.json"),
                      io.read_json(paths.split / "split.json"), io.read_json(paths.subset / "stats.json"), refs)


if __name__ == "__main__":
    stage(run, __doc__)
