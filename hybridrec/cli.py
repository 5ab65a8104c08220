"""Command-line plumbing: the stage runner used by ``stages/*.py`` and the ``hybridrec`` command."""

from __future__ import annotations

import argparse
import logging
import sys
import time

from hybridrec.errors import UserError

log = logging.getLogger("hybridrec")


def _setup_logging():
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")


def stage(fn, doc: str, argv=None, options=()) -> None:
    """Run a DVC stage: parse ``--params`` (and ``options``: (flag, argparse kwargs) pairs, passed to ``fn``
    as keyword arguments), call ``fn(params, ...)``, turn user errors into one line + exit 2."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default="params.yaml", help="parameters file (default: params.yaml)")
    for flag, kwargs in options:
        parser.add_argument(flag, **kwargs)
    args = parser.parse_args(argv)
    extra = {k: v for k, v in vars(args).items() if k != "params"}
    _setup_logging()
    from hybridrec import params as params_mod

    t0 = time.perf_counter()
    try:
        p = params_mod.load(args.params)
        fn(p, **extra)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    log.info("%s done in %.1f s", getattr(fn, "__name__", "stage"), time.perf_counter() - t0)


def main(argv=None) -> None:
    """``hybridrec``: user-facing commands."""
    parser = argparse.ArgumentParser(prog="hybridrec", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    from hybridrec import commands

    commands.register(sub)
    args, rest = parser.parse_known_args(argv)
    if rest and args.command != "fullscale":
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    args.rest = rest
    _setup_logging()
    try:
        rc = args.func(args)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    sys.exit(rc or 0)


if __name__ == "__main__":
    main()
