"""Stage `data_report`: write reports/<dataset>/data.md (counts per filter, rating histogram, shape) and Figure 1.

Usage: python stages/data_report.py [--params params.yaml]   (normally run by `dvc repro`)
"""

import logging

from hybridrec.stage import stage

log = logging.getLogger("hybridrec")


def run(p) -> None:
    from hybridrec import io
    from hybridrec.paths import Paths
    from hybridrec.reporting import data_report
    from hybridrec.sources import source_of

    paths = Paths(p.data.name)
    pre_stats = io.read_json(paths.preprocess_stats)
    sub_stats = io.read_json(paths.subset / "stats.json")
    ratings = io.read_parquet(paths.preprocessed / "ratings.parquet", ["user_id", "anime_id", "rating"])
    sub = io.read_parquet(paths.subset / "ratings.parquet", ["user_id", "anime_id", "rating"])
    anime = io.read_parquet(paths.preprocessed / "anime.parquet", ["anime_id", "genres", "synopsis"])
    generator = source_of(p).generator()
    data_report.write(paths.reports, p, pre_stats, sub_stats, ratings, sub, generator, anime)


if __name__ == "__main__":
    stage(run, __doc__)
