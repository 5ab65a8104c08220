"""The benchmark harness, kept out of the pipeline's library: in-memory benchmark data (``data``), peak
memory of a training step in a fresh process (``memory``) and the full-scale stage-by-stage runner
(``fullscale``, the ``hybridrec fullscale`` command). Used by ``tests/benchmarks`` and ``reports/timing.md``."""
