"""The runner every DVC entry point in ``stages/`` uses: ``--params`` (and stage options) parsed, params.yaml
loaded and checked, the stage function called, a user error (or the operating system's refusal) printed as one
line with exit status 2."""

from __future__ import annotations

import argparse
import logging
import time

from hybridrec.errors import die_with_owner, one_line_errors

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
    keep_freed_memory()  # an epoch's tensors reuse the last epoch's memory instead of faulting pages in again
    from hybridrec import params as params_mod

    t0 = time.perf_counter()
    one_line_errors(lambda: fn(params_mod.load(args.params), **extra))
    log.info("%s done in %.1f s", getattr(fn, "__name__", "stage"), time.perf_counter() - t0)


# glibc mallopt parameters
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def keep_freed_memory() -> bool:
    """Let this process reuse the memory it frees instead of returning it to the kernel (glibc only; elsewhere a
    no-op). Returns whether the settings took.

    A full-batch epoch allocates and frees the same large tensors every step ([training ratings, d] gathers,
    products and their gradients: megabytes each). glibc serves such blocks with ``mmap`` and gives them back
    on ``free`` (or trims the heap above 128 KiB), so every epoch faults the same pages in again, zero-filled by
    the kernel: 880,000 page faults in one fit of ours on the default data, a third of its time. A 32 MiB mmap
    threshold (the largest glibc allows) and a trim threshold of 1 GiB keep freed blocks in the heap for the next
    epoch; a process's resident memory then stays at its peak. The arithmetic is the same, so are the numbers."""
    import ctypes  # noqa: PLC0415
    import sys  # noqa: PLC0415

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, 32 << 20)) and bool(mallopt(_M_TRIM_THRESHOLD, 1 << 30))
