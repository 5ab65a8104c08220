"""Stage `report`: reports/<dataset>/replication.md - the paper's numbers beside ours, every reading of
its undefined "loss", the choices we made where it is silent, and top-10 lists (paper Figure 3).

Usage: python stages/report.py [--params params.yaml]   (normally run by `dvc repro`)
"""

from hybridrec.stage import stage


def run(p) -> None:
    from hybridrec import io, metrics
    from hybridrec.paths import Paths
    from hybridrec.reporting import replication
    from hybridrec.sources import source_of

    paths = Paths(p.data.name)
    source = source_of(p)
    scale = metrics.read_scale(paths)
    split = io.read_parquet(paths.split_file(), ["user_id", "anime_id", "rating", "split"])
    oracle = source.oracle(split.loc[split["split"] == "test"])
    refs = replication.reference_points(split, lambda pr, r: metrics.rating_metrics(pr, r, scale), oracle)
    replication.write(paths.reports, p, io.read_json(paths.metrics), io.read_json(paths.train_info),
                      io.read_json(paths.recommendations), io.read_json(paths.split_info()),
                      io.read_json(paths.subset / "stats.json"), refs, source, scale, ours_lists(p, paths))


def ours_lists(p, paths) -> dict | None:
    """Ours' top-k lists for the Figure-3 users from the random protocol's comparison, by anime name."""
    from hybridrec import io
    from hybridrec.reporting import replication

    runs = io.read_json(paths.runs("random"))
    run = runs["models"].get(p.compare.ours)
    if run is None:
        return None
    anime = io.read_parquet(paths.subset / "anime.parquet", ["anime_idx", "name", "genres"]).set_index("anime_idx")
    split = io.read_parquet(paths.split_file(), ["user_idx", "user_id"])
    user_id = dict(zip(split["user_idx"], split["user_id"]))
    top = run["runs"][0].get("top") or {}
    lists = {int(user_id[int(u)]): [(anime.at[a, "name"], str(anime.at[a, "genres"]), s) for a, s in rows]
             for u, rows in top.items()}
    return {"label": run["label"], "lists": lists,
            "jaccard": replication.mean_jaccard([[n for n, _, _ in rows] for rows in lists.values()])}


if __name__ == "__main__":
    stage(run, __doc__)
