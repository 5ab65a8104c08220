"""Stage `split`: the seeded train/validation/test split of the subset's ratings for every protocol
(random: ratings at random, the paper model's; cold_items: whole anime held out), each with its sha256
recorded, read by every model of the suite.

Usage: python stages/split.py [--params params.yaml]   (normally run by `dvc repro`)
"""

import logging

from hybridrec import io
from hybridrec.paths import Paths
from hybridrec.split import PROTOCOLS, make_split
from hybridrec.stage import stage

log = logging.getLogger("hybridrec")


def run(p) -> None:
    paths = Paths(p.data.name)
    ratings = io.read_parquet(paths.subset / "ratings.parquet", ["user_idx", "anime_idx", "user_id", "anime_id", "rating"])
    for protocol in PROTOCOLS:
        split, stats = make_split(ratings, p.split.val, p.split.test, p.split.seed, protocol)
        io.write_parquet(paths.split_file(protocol), split)
        stats["sha256"] = io.sha256_file(paths.split_file(protocol))
        io.write_json(paths.split_info(protocol), stats)
        log.info("split %s: %s; %s; sha256 %s", protocol, stats["counts"], stats["moved_note"], stats["sha256"][:12])


if __name__ == "__main__":
    stage(run, __doc__)
