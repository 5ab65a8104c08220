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
        # At once, without the interpreter's exit handlers: they join the helper threads of a worker pool
        # (concurrent.futures' manager, multiprocessing's queue feeder), which can wait for ever on a pipe whose
        # readers were just killed. Nothing needs them: every output goes to a temporary name first and the workers
        # are gone (experiment._stop).
        exit_now(130)
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


def exit_now(status: int) -> None:
    """End this process at once with ``status``: logging and the streams flushed, then ``os._exit``, without the
    interpreter's orderly shutdown (~1 s of tearing down torch, PyG and numba in a stage, and helper threads that may
    wait on dead workers after Ctrl-C). Only for a process whose outputs are all closed and renamed into place (or
    left under temporary names): no exit handler of this code base writes anything."""
    import logging  # noqa: PLC0415

    logging.shutdown()  # flushes the handlers
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed or broken pipe: nothing more can reach it anyway
            pass
    os._exit(status)


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


SHELLS = {"sh", "dash", "bash", "zsh", "ksh", "busybox"}


def _proc_stat(pid: int) -> tuple | None:
    """(state, ppid, start time) of ``pid`` from /proc, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            text = f.read().decode(errors="replace")
    except OSError:
        return None
    fields = text[text.rfind(")") + 2:].split()  # the command name may hold spaces and parentheses
    return fields[0], int(fields[1]), fields[19]


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as f:
            return f.read().strip()
    except OSError:
        return ""


def _runs_a_command(pid: int) -> bool:
    """``pid`` is a shell running one command line (``sh -c "..."``), as DVC starts a stage's ``cmd``."""
    if _comm(pid) not in SHELLS:
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return False
    return b"-c" in argv[1:]


def owner_chain() -> list:
    """The processes this one lives for: its parent and, while that is a shell running one command line (DVC
    runs a stage's ``cmd`` through ``$SHELL -c`` or ``/bin/sh -c``, and dash does not exec the command), the
    shell's parent too, up to the first process that is not (``dvc repro``). Each as (pid, start time). An
    interactive shell or a script's (``nohup bash run.sh``) ends the chain: the stage does not die with a login."""
    chain, pid = [], os.getppid()
    while pid > 1:
        stat = _proc_stat(pid)
        if stat is None:
            break
        chain.append((pid, stat[2]))
        if not _runs_a_command(pid):
            break
        pid = stat[1]
    return chain


_WATCHING: list = []


def die_with_owner() -> None:
    """A stage's guard (once per process): :func:`die_with_parent` for the direct parent and :func:`watch_owner`
    for a ``dvc repro`` behind a shell."""
    if _WATCHING:
        return
    _WATCHING.append(True)
    die_with_parent()
    watch_owner()


def watch_owner(interval: float = 0.5) -> None:
    """Die (SIGKILL, as the kernel's parent-death signal would) as soon as any process of :func:`owner_chain`
    ends, on a daemon thread: ``PR_SET_PDEATHSIG`` covers the direct parent only, so a stage started through a
    shell that does not exec would otherwise outlive a killed ``dvc repro`` and write outputs nobody waits for.
    A no-op where /proc does not exist."""
    import signal  # noqa: PLC0415
    import threading  # noqa: PLC0415

    if not os.path.isdir("/proc"):
        return
    chain = owner_chain()
    top = _proc_stat(chain[-1][0]) if chain else None
    if top is not None and top[1] == 1 and _runs_a_command(chain[-1][0]):
        os.kill(os.getpid(), signal.SIGKILL)  # the shell is an orphan already: whoever ran it is gone
    if len(chain) < 2:  # no shell in between: PR_SET_PDEATHSIG already covers the parent
        return

    def alive(pid, start) -> bool:
        stat = _proc_stat(pid)
        return stat is not None and stat[0] not in ("Z", "X") and stat[2] == start

    def watch():
        import time  # noqa: PLC0415

        while all(alive(pid, start) for pid, start in chain):
            time.sleep(interval)
        os.kill(os.getpid(), signal.SIGKILL)  # pool workers follow by their own parent-death signal

    threading.Thread(target=watch, name="watch-owner", daemon=True).start()
