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
    ``HYBRIDREC_TRACEBACK=1`` re-raises an ``OSError`` to show where it happened. Ctrl-C (KeyboardInterrupt)
    prints one line and exits 130."""
    try:
        return fn()
    except KeyboardInterrupt:  # Ctrl-C: one line, the shell's convention for SIGINT (128 + 2)
        print("interrupted (Ctrl-C): nothing was written under a final name; the previous outputs are kept",
              file=sys.stderr)
        sys.exit(130)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except OSError as e:
        if os.environ.get("HYBRIDREC_TRACEBACK"):
            raise
        where = f"{_final_name(e.filename)}: " if e.filename else ""
        print(f"error: {where}{e.strerror or e} (the operating system refused; HYBRIDREC_TRACEBACK=1 shows where)",
              file=sys.stderr)
        sys.exit(2)


def _final_name(filename) -> str:
    """The output a temporary ``.<name>.partial-XXXX`` file or folder stands for (what the user can act on)."""
    import re  # noqa: PLC0415

    text = str(filename)
    m = re.match(r"^(.*?)\.([^/]+?)\.(partial|old)-[^/]*$", text)
    if not m:
        return text
    return f"{m.group(1)}{m.group(2)} (while writing it in {m.group(1) or './'})"


def die_with_parent(sig: int | None = None) -> None:
    """Ask the kernel to send ``sig`` (default SIGTERM) to this process when its parent dies (Linux
    ``PR_SET_PDEATHSIG``; a no-op elsewhere): a stage killed with its ``dvc repro``, or a pool worker whose stage
    was killed, does not run on as an orphan writing outputs nobody waits for. If the parent is already gone
    (the race between fork and this call), exit at once."""
    import ctypes  # noqa: PLC0415
    import signal  # noqa: PLC0415

    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(sig or signal.SIGTERM), 0, 0, 0)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent died before the call: the signal would never come
        os._exit(143)
