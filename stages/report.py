"""Stage `report`: reports/<dataset>/replication.md - the paper's numbers beside ours, every reading of
its undefined "loss", the choices we made where it is silent, and top-10 lists (paper Figure 3).

Usage: python stages/report.py [--params params.yaml]   (normally run by `dvc repro`)
"""

from hybridrec import io, metrics
from hybridrec.stage import stage
from hybridrec.paths import Paths
from hybridrec.reporting import replication
from hybridrec.sources import source_of


def run(p) -> None:
    paths = Paths(p.data.name)
    source = source_of(p)
    split = io.read_parquet(paths.split_file(), ["user_id", "anime_id", "rating", "split"])
    oracle = source.oracle(split.loc[split["split"] == "test"])
    refs = replication.reference_points(split, metrics.rating_metrics, oracle)
    replication.write(paths.reports, p, io.read_json(paths.metrics), io.read_json(paths.train_info),
                      io.read_json(paths.recommendations), io.read_json(paths.split_info()),
                      io.read_json(paths.subset / "stats.json"), refs, source)


if __name__ == "__main__":
    stage(run, __doc__)
