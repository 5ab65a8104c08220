"""Stage `preprocess`: paper §3.1 - validate the Kaggle-schema files in data.dir, merge ratings with synopses,
drop nulls (counted and reported), one-hot genres over a stable vocabulary, contiguous id maps.

Usage: python stages/preprocess.py [--params params.yaml]   (normally run by `dvc repro`)
"""

import logging

from hybridrec.stage import stage

log = logging.getLogger("hybridrec")


def run(p) -> None:
    import pandas as pd
    from hybridrec import io
    from hybridrec.paths import Paths
    from hybridrec.preprocess import preprocess
    from hybridrec.provenance import provenance
    from hybridrec.sources import source_of

    source = source_of(p)
    ratings, synopses, meta, inputs = source.load()
    ratings_path, synopsis_path = inputs.values()
    scale, scale_from = source.rating_scale(ratings)  # every input checked first
    pre = preprocess(ratings, synopses, ratings_path, synopsis_path)
    stats = pre.stats
    if meta is not None:
        absent = set(ratings["anime_id"]) - set(synopses["anime_id"])
        stats["absent_from_synopsis_but_in_anime_csv"] = int(len(absent & set(meta["anime_id"])))
        type_of = meta.set_index("anime_id")["type"] if "type" in meta else None
        if type_of is not None:
            stats["anime_types"] = {str(k): int(v) for k, v in
                                    pre.anime["anime_id"].map(type_of).fillna("?").value_counts().items()}
    stats["inputs"] = {name: io.sha256_file(path) for name, path in inputs.items()}
    stats["rating_scale"], stats["rating_scale_from"] = [scale.lo, scale.hi], scale_from
    stats["provenance"] = provenance(p, rating_scale=[scale.lo, scale.hi], dataset_sha256=stats["inputs"])
    paths = Paths(p.data.name)
    onehot = pd.DataFrame(pre.onehot, columns=pre.genres)
    onehot.insert(0, "anime_id", pre.anime["anime_id"].to_numpy())
    with io.atomic_dir(paths.preprocessed) as out:  # the folder is replaced whole, or not at all
        io.write_parquet(out / "ratings.parquet", pre.ratings)
        io.write_parquet(out / "anime.parquet", pre.anime)
        io.write_parquet(out / "genres.parquet", onehot)
        io.write_json(out / "genres.json", pre.genres)
        io.write_json(out / paths.preprocess_stats.relative_to(paths.preprocessed), stats)
    f0, f1 = stats["filters"]
    log.info("preprocess: %d ratings -> %d (dropped %d for anime without a synopsis row, %d for null "
             "synopsis/genres); %d genres", stats["raw"]["ratings"], stats["merged"]["ratings"],
             f0["dropped_ratings"], f1["dropped_ratings"], len(pre.genres))


if __name__ == "__main__":
    stage(run, __doc__)
