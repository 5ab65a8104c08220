"""Stage `embed`: SequenceEncoder - all-MiniLM-L6-v2 over every preprocessed anime's synopsis (384-d,
float32, keyed by anime_id). DVC caches the result, so a training change never re-embeds.

Usage: python stages/embed.py [--params params.yaml]   (normally run by `dvc repro`)
"""

import logging

from hybridrec.stage import stage

log = logging.getLogger("hybridrec")


def run(p) -> None:
    import numpy as np
    from hybridrec import io
    from hybridrec.features import SequenceEncoder
    from hybridrec.paths import Paths

    paths = Paths(p.data.name)
    anime = io.read_parquet(paths.preprocessed / "anime.parquet", ["anime_id", "synopsis"])
    encoder = SequenceEncoder(p.embed.model, p.embed.device, p.embed.batch_size)
    x = encoder(anime["synopsis"].tolist()).numpy().astype(np.float32)
    io.write_npz(paths.embeddings, anime_id=anime["anime_id"].to_numpy(np.int64), embedding=x)
    io.write_json(paths.embeddings_info, {
        "model": p.embed.model, "dim": int(x.shape[1]), "n": int(x.shape[0]), "device": encoder.device,
        "seconds": round(encoder.last_seconds, 2), "texts_per_second": round(len(x) / encoder.last_seconds, 1)})
    log.info("embed: %d synopses -> %s in %.1f s", len(x), paths.embeddings, encoder.last_seconds)


if __name__ == "__main__":
    stage(run, __doc__)
