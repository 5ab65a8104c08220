"""Stage `subset`: select subset.n_users users by subset.strategy (head | random | active), re-indexed contiguously.

Usage: python stages/subset.py [--params params.yaml]   (normally run by `dvc repro`)
"""

import logging

from hybridrec.stage import stage

log = logging.getLogger("hybridrec")


def run(p) -> None:
    from hybridrec import io
    from hybridrec.paths import Paths
    from hybridrec.subset import make_subset

    src, out = Paths(p.data.name).preprocessed, Paths(p.data.name).subset
    ratings = io.read_parquet(src / "ratings.parquet", ["user_id", "anime_id", "rating"])
    anime = io.read_parquet(src / "anime.parquet", ["anime_idx", "anime_id", "name", "genres", "synopsis"])
    sub, sub_anime, stats = make_subset(ratings, anime, p.subset.n_users, p.subset.strategy, p.subset.seed)
    with io.atomic_dir(out) as tmp:  # the folder is replaced whole, or not at all
        io.write_parquet(tmp / "ratings.parquet", sub)
        io.write_parquet(tmp / "anime.parquet",
                         sub_anime[["anime_idx", "anime_id", "full_anime_idx", "name", "genres"]])
        io.write_json(tmp / "stats.json", stats)
    log.info("subset: %s -> %d users, %d ratings, %d anime", stats["note"], stats["users"], stats["ratings"],
             stats["anime"])


if __name__ == "__main__":
    stage(run, __doc__)
