"""The runner every DVC entry point in ``stages/`` uses: ``--params`` (and stage options) parsed, params.yaml
loaded and checked, the stage function called, a user error (or the operating system's refusal) printed as one
line with exit status 2."""

from __future__ import annotations

import argparse
import logging
import time

from hybridrec.errors import die_with_owner, exit_now, one_line_errors

log = logging.getLogger("hybridrec")


def setup_logging():
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")


def stage(fn, doc: str, argv=None, options=()) -> None:
    """Run a DVC stage: parse ``--params`` (and ``options``: (flag, argparse kwargs) pairs, passed to ``fn``
    as keyword arguments), call ``fn(params, ...)``, turn user and OS errors into one line + exit 2."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default="params.yaml", help="parameters file (default: params.yaml)")
    for flag, kwargs in options:
        parser.add_argument(flag, **kwargs)
    args = parser.parse_args(argv)
    extra = {k: v for k, v in vars(args).items() if k != "params"}
    setup_logging()
    die_with_owner()  # a stage dies with the `dvc repro` that started it (its pool workers die with it in turn)
    from hybridrec import params as params_mod

    t0 = time.perf_counter()
    one_line_errors(lambda: fn(params_mod.load(args.params), **extra))
    log.info("%s done in %.1f s", getattr(fn, "__name__", "stage"), time.perf_counter() - t0)
    if argv is None:  # the stage's own process (python stages/<name>.py), not a caller that goes on
        exit_now(0)

