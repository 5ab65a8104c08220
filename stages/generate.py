"""Stage `generate`: write the embedded synthetic data set (Kaggle schema + planted ground truth) to
data/synthetic/raw (or --out, e.g. for a full-scale data set beside the default).

Usage: python stages/generate.py [--params params.yaml] [--out DIR]   (normally run by `dvc repro`)
"""

import logging

from hybridrec.paths import SYNTHETIC_RAW
from hybridrec.stage import stage

log = logging.getLogger("hybridrec")


def run(p, out=str(SYNTHETIC_RAW)) -> None:
    from hybridrec import synthetic

    summary = synthetic.generate(p.synthetic, out)
    log.info("synthetic data: %d users, %d anime, %d ratings; oracle RMSE floor %.3f -> %s",
             summary["n_users"], summary["n_anime"], summary["n_ratings"], summary["oracle_rmse_floor"], out)


if __name__ == "__main__":
    stage(run, __doc__, options=[("--out", {"default": str(SYNTHETIC_RAW),
                                            "help": f"output folder (default: {SYNTHETIC_RAW})"})])
