"""hybridrec: a reproducible replication of "Hybrid Recommendation System using Graph Neural
Network and BERT Embeddings" (GraphSAGE over a user-anime graph with MiniLM synopsis embeddings).

The package holds the logic; ``stages/`` holds the thin DVC entry points; ``baselines/`` the comparators.
"""

__version__ = "0.1.0"


def _entry_point() -> None:
    """In a stage script or the ``hybridrec`` command (not in its pool workers, which inherit its ``sys.argv``):
    Ctrl-C before the stage's own handler is in place (while modules import) prints the same one line as after
    it, not a traceback (the exit status stays 130); and a stage dies with the ``dvc repro`` that started it
    from its first import on, not only once its modules are loaded (a kill -9 of DVC in those seconds)."""
    import sys
    from pathlib import Path

    main = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if main is None or not (main.parent.name == "stages" or main.name == "hybridrec"):
        return
    import multiprocessing

    default = sys.excepthook

    def worker() -> bool:
        """A pool worker (the stage prints the line, its workers stay silent). A spawned worker imports the stage
        script, and so this package, while multiprocessing prepares it: its parent_process() is still None then,
        but its interpreter's own arguments carry --multiprocessing-fork."""
        return multiprocessing.parent_process() is not None or "--multiprocessing-fork" in getattr(sys, "orig_argv", ())

    def hook(exc_type, exc, tb):
        if issubclass(exc_type, KeyboardInterrupt):
            if not worker():
                print("interrupted (Ctrl-C): nothing was written under a final name; the previous outputs are kept",
                      file=sys.stderr)
            return
        default(exc_type, exc, tb)

    sys.excepthook = hook
    if main.parent.name == "stages" and not worker():
        from hybridrec.errors import die_with_owner

        die_with_owner()


_entry_point()
