"""Stage `generate`: write the embedded synthetic data set (Kaggle schema + planted ground truth) to data/synthetic/raw.

Usage: python stages/generate.py [--params params.yaml]   (normally run by `dvc repro`)
"""

import logging

from hybridrec import synthetic
from hybridrec.paths import SYNTHETIC_RAW
from hybridrec.cli import stage

log = logging.getLogger("hybridrec")


def run(p) -> None:
    summary = synthetic.generate(p.synthetic, SYNTHETIC_RAW)
    log.info("synthetic data: %d users, %d anime, %d ratings; oracle RMSE floor %.3f -> %s",
             summary["n_users"], summary["n_anime"], summary["n_ratings"], summary["oracle_rmse_floor"],
             SYNTHETIC_RAW)


if __name__ == "__main__":
    stage(run, __doc__)
