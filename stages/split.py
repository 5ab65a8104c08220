"""Stage `split`: the seeded train/val/test split of the subset's ratings (sha256 recorded), read by every
model in the suite: the paper's model, the baselines and the ablations.

Usage: python stages/split.py [--params params.yaml]   (normally run by `dvc repro`)
"""

import logging

from hybridrec import io
from hybridrec.stage import stage
from hybridrec.paths import Paths
from hybridrec.split import make_split

log = logging.getLogger("hybridrec")


def run(p) -> None:
    paths = Paths(p.data.name)
    ratings = io.read_parquet(paths.subset / "ratings.parquet", ["user_idx", "anime_idx", "user_id", "anime_id", "rating"])
    split, stats = make_split(ratings, p.split.val, p.split.test, p.split.seed)
    io.write_parquet(paths.split_file, split)
    stats["sha256"] = io.sha256_file(paths.split_file)
    io.write_json(paths.split_info, stats)
    log.info("split: %s; %s; sha256 %s", stats["counts"], stats["moved_note"], stats["sha256"][:12])


if __name__ == "__main__":
    stage(run, __doc__)
