"""Stage `split`: the train/validation/test split of the subset's ratings for random (the paper model's) and
every protocol of compare.protocols (random: ratings at random; cold_items: whole anime held out; given: the test
ratings of a file such as u1.test; folds: k-fold cross-validation; temporal: each user's last ratings by time)
and every replicate of the comparison (replicate r: seed split.seed + r, folds: fold r + 1; replicate 0 of
random is the paper model's), each with its sha256 recorded, read by every model of the suite.

Usage: python stages/split.py [--params params.yaml]   (normally run by `dvc repro`)
"""

import logging

from hybridrec.stage import stage

log = logging.getLogger("hybridrec")


def run(p) -> None:
    from hybridrec import io
    from hybridrec.paths import Paths
    from hybridrec.sources import source_of
    from hybridrec.split import fold_assignment, make_split, protocols_of, replicates_of

    paths = Paths(p.data.name)
    ratings = io.read_parquet(paths.subset / "ratings.parquet", ["user_idx", "anime_idx", "user_id", "anime_id", "rating"])
    source = source_of(p)
    # the folder is replaced whole (no file of an earlier run, e.g. of more replicates, survives; a failure keeps
    # the previous folder as it was)
    with io.atomic_dir(paths.split) as tmp:
        for protocol in protocols_of(p):
            n = replicates_of(p, protocol)
            masks, extra = [None] * n, {}
            if protocol == "given":  # the same test ratings in every replicate: only the validation carve differs
                mask, extra["given"] = source.given_test(ratings, p.split.given_test)
                masks = [mask] * n
            elif protocol == "folds":  # replicate r tests on fold r + 1
                fold, extra["folds_from"] = fold_assignment(ratings, n, p.split.seed, source)
                masks = [fold == r + 1 for r in range(n)]
            for r in range(n):
                split, stats = make_split(ratings, p.split.val, p.split.test, p.split.seed + r, protocol, masks[r],
                                          p.split.temporal_k)
                stats.update(extra)
                stats["replicate"] = r
                out = tmp / paths.split_file(protocol, r).name
                io.write_parquet(out, split)
                stats["sha256"] = io.sha256_file(out)
                io.write_json(tmp / paths.split_info(protocol, r).name, stats)
                log.info("split %s replicate %d: %s; %s; sha256 %s", protocol, r, stats["counts"],
                         stats["moved_note"], stats["sha256"][:12])


if __name__ == "__main__":
    stage(run, __doc__)
