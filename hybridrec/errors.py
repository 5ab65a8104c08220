"""One exception type for every problem a user can fix (bad data, bad params, missing files).

Stages and the ``hybridrec`` command run through :func:`one_line_errors`, which prints it (and an operating
system's refusal: a full disk, a read-only folder) as one line with exit status 2 instead of a traceback.
"""

import os
import sys


class UserError(Exception):
    """A problem with the user's input, reported as one readable line."""


class DataError(UserError):
    """Bad input data: names the file and, where known, the row and column."""

    def __init__(self, path, problem, row=None, column=None):
        self.path, self.problem, self.row, self.column = str(path), problem, row, column
        where = [self.path]
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column '{column}'")
        super().__init__(f"{', '.join(where)}: {problem}")


class ParamsError(UserError):
    """A params.yaml key that is unknown, missing or of the wrong type."""


def one_line_errors(fn):
    """``fn()``; a :class:`UserError` or an ``OSError`` (disk full, permission denied, ...) becomes one line on
    stderr and exit status 2 (outputs are written to temporary names and renamed, so nothing half-written stays).
    ``HYBRIDREC_TRACEBACK=1`` re-raises an ``OSError`` to show where it happened."""
    try:
        return fn()
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except OSError as e:
        if os.environ.get("HYBRIDREC_TRACEBACK"):
            raise
        where = f"{e.filename}: " if e.filename else ""
        print(f"error: {where}{e.strerror or e} (the operating system refused; HYBRIDREC_TRACEBACK=1 shows where)",
              file=sys.stderr)
        sys.exit(2)
