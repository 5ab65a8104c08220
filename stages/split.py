"""Stage `split`: the seeded train/validation/test split of the subset's ratings for every protocol
(random: ratings at random, the paper model's; cold_items: whole anime held out) and every replicate of the
comparison (replicate r: seed split.seed + r; replicate 0 is the paper model's), each with its sha256
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
    # the folder is replaced whole (no file of an earlier run, e.g. of more replicates, survives; a failure keeps
    # the previous folder as it was)
    with io.atomic_dir(paths.split) as tmp:
        for protocol in PROTOCOLS:
            for r in range(p.compare.replicates):
                split, stats = make_split(ratings, p.split.val, p.split.test, p.split.seed + r, protocol)
                stats["replicate"] = r
                out = tmp / paths.split_file(protocol, r).name
                io.write_parquet(out, split)
                stats["sha256"] = io.sha256_file(out)
                io.write_json(tmp / paths.split_info(protocol, r).name, stats)
                log.info("split %s replicate %d: %s; %s; sha256 %s", protocol, r, stats["counts"],
                         stats["moved_note"], stats["sha256"][:12])


if __name__ == "__main__":
    stage(run, __doc__)
