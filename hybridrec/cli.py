"""The ``hybridrec`` command: the user-facing subcommands of :mod:`hybridrec.commands`."""

from __future__ import annotations

import argparse
import sys

from hybridrec.errors import one_line_errors
from hybridrec.stage import setup_logging


def main(argv=None) -> None:
    """``hybridrec``: user-facing commands."""
    parser = argparse.ArgumentParser(prog="hybridrec", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    from hybridrec import commands

    commands.register(sub)
    args, rest = parser.parse_known_args(argv)
    if rest and args.command not in ("fullscale", "time-repro"):
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    args.rest = rest
    setup_logging()
    rc = one_line_errors(lambda: args.func(args))
    sys.exit(rc or 0)


if __name__ == "__main__":
    main()
