"""One comparison of a split protocol: tune every tunable model, then fit every model over every seed,
across a pool of worker processes.

Tasks are independent given their inputs, so they run in parallel: each worker loads the split once, runs
torch on one thread (two processes with two threads each on two cores can be ten times slower than one),
and every task seeds itself, so the numbers do not depend on how many workers ran them or in which order.
A model's fits start as soon as the tuning they need (its own, and its ``base``'s) is done.

Usage from a stage: ``tuning, runs, preds = experiment.run(p, "random")``.
"""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

import numpy as np
from tqdm import tqdm

from hybridrec import zoo
from hybridrec.paths import Paths

log = logging.getLogger("hybridrec")
_worker: dict = {}  # the split and its derived arrays, loaded once per worker process


def workers_default() -> int:
    """``HYBRIDREC_WORKERS`` or the number of CPU cores (the results do not depend on it)."""
    return max(1, int(os.environ.get("HYBRIDREC_WORKERS", os.cpu_count() or 1)))


def _init(name: str, protocol: str) -> None:
    import torch  # noqa: PLC0415

    torch.set_num_threads(1)
    data = zoo.split_data(Paths(name), protocol)
    seen = (np.concatenate([data.train["user_idx"], data.val["user_idx"]]),
            np.concatenate([data.train["anime_idx"], data.val["anime_idx"]]))
    popularity = np.bincount(data.train["anime_idx"], minlength=data.n_anime)
    _worker.clear()
    _worker.update(key=(name, protocol), data=data, seen=seen, popularity=popularity)


def _tune(name: str, ctx: zoo.Context, trials: int, seed: int) -> tuple:
    t0 = time.perf_counter()
    out = zoo.tune(name, ctx, _worker["data"], trials, seed)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return "tune", name, out


def _top(scores: np.ndarray, users, k: int) -> dict:
    """user_idx -> [(anime_idx, score)] of the k best-scored anime the user has rated in no split (paper Fig. 3)."""
    data = _worker["data"]
    rated = {}
    for part in (data.train, data.val, data.test):
        for u, a in zip(part["user_idx"], part["anime_idx"]):
            rated.setdefault(int(u), []).append(int(a))
    out = {}
    for u in users:
        row = np.array(scores[u], dtype=np.float64)
        row[rated.get(int(u), [])] = -np.inf
        best = np.argsort(-row, kind="stable")[:k]
        out[int(u)] = [(int(a), float(row[a])) for a in best if np.isfinite(row[a])]
    return out


def _fit(name: str, ctx: zoo.Context, seed: int, k: int, share: float, show: list | None = None) -> tuple:
    from hybridrec.ranking import popularity_correlation, topk_metrics  # noqa: PLC0415

    data = _worker["data"]
    predictor = zoo.build(name, ctx)
    t0 = time.perf_counter()
    predictor.fit(data, seed)
    fit_seconds = time.perf_counter() - t0
    test_pred = predictor.predict(data.test)
    relevant = data.test.loc[data.test["rating"] >= data.scale.relevant(share)]
    scores = predictor.rank_scores(data.n_users, data.n_anime)
    ranking = topk_metrics(scores, _worker["seen"], (relevant["user_idx"], relevant["anime_idx"]), k)
    ranking["popularity_spearman"] = popularity_correlation(scores, _worker["popularity"])
    run = {"seed": seed, "fit_seconds": round(fit_seconds, 3), "val": predictor.test(data.val, data.scale),
           "test": predictor.test(data.test, data.scale), "ranking": ranking}
    if show:  # the first seed's top-k lists for the report's users
        run["top"] = {str(u): rows for u, rows in _top(scores, show, k).items()}
    log.info("%s seed %d: test RMSE %.4f, NDCG@%d %.4f, fit %.1f s", name, seed, run["test"]["rmse"], k,
             ranking["ndcg"], fit_seconds)
    return "fit", name, (run, test_pred.astype(np.float32), predictor.settings())


def run(p, protocol: str, workers: int | None = None, progress: bool = True,
        show: list | None = None) -> tuple[dict, dict, dict]:
    """Tune and fit ``compare.models`` on the split of ``protocol``; ``show``: user_idx whose top-k lists (of
    the first seed) each model's record keeps.

    Returns (tuning: name -> tune result, runs: name -> record with per-seed metrics,
    predictions: name -> [seeds, n_test] float32 test predictions, in the split's test order).
    """
    from hybridrec.params import protocol_models  # noqa: PLC0415

    models, c = protocol_models(p, protocol), p.compare
    ctx = zoo.Context(p)
    tunable = [n for n, s in models.items() if s.search]
    needs = {n: {m for m in (n, s.base) if m in tunable} for n, s in models.items()}
    deterministic = {n: bool(zoo.build(n, ctx).deterministic) for n in models}
    seeds = {n: c.seeds[:1] if deterministic[n] else list(c.seeds) for n in models}
    n_tasks = len(tunable) + sum(len(s) for s in seeds.values())
    workers = min(workers or workers_default(), n_tasks)
    tuning, results = {}, {n: {} for n in models}

    def fits(name):
        tuned_ctx = zoo.Context(p, {m: tuning[m]["best"] for m in tuning})
        return [(_fit, name, tuned_ctx, seed, p.evaluate.k, p.evaluate.relevant_share,
                 show if seed == seeds[name][0] else None) for seed in seeds[name]]

    first = [(_tune, n, ctx, c.tuning_trials, c.tuning_seed) for n in tunable]
    first += [t for n in models if not needs[n] for t in fits(n)]
    bar = tqdm(total=n_tasks, desc=f"compare {protocol} ({workers} worker(s))", unit="fit", disable=not progress)

    def collect(kind, name, out):
        bar.update(1)
        if kind == "tune":
            tuning[name] = out
            log.info("tune %s: best %s (val RMSE %.4f) in %.0f s", name, out["best"], out["best_val_rmse"],
                     out["seconds"])
            return [t for n in models if name in needs[n] and needs[n] <= set(tuning) for t in fits(n)]
        run_, pred, settings = out
        results[name][run_["seed"]] = (run_, pred, settings)
        return []

    if workers == 1:  # in this process: same numbers, easier to debug
        import torch  # noqa: PLC0415

        threads = torch.get_num_threads()
        _init(p.data.name, protocol)
        try:
            queue = list(first)
            while queue:
                fn, *args = queue.pop(0)
                queue += collect(*fn(*args))
        finally:
            torch.set_num_threads(threads)
    else:
        import multiprocessing  # noqa: PLC0415

        # glibc returns large freed blocks to the OS and faults them in again on the next allocation: with
        # the many same-sized tensors of a training loop that is a third of a GNN fit's time (measured:
        # 6.2 s -> 4.1 s). Workers keep freed memory instead (read by glibc at start, so set before spawning).
        os.environ.setdefault("MALLOC_MMAP_THRESHOLD_", str(1 << 32))
        os.environ.setdefault("MALLOC_TRIM_THRESHOLD_", str(1 << 32))
        # One BLAS / OpenMP thread per worker too (torch's is set in _init): numpy's BLAS would otherwise start a
        # thread per core in every worker; Cornac HFT took 12.7 s a fit so, 6.0 s with one thread (same numbers
        # to 1e-8).
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = "1"
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_init,
                                 initargs=(p.data.name, protocol)) as pool:
            pending = {pool.submit(fn, *args) for fn, *args in first}
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    pending |= {pool.submit(fn, *args) for fn, *args in collect(*fut.result())}
    bar.close()
    runs, preds = {}, {}
    for name, spec in models.items():
        ordered = [results[name][s] for s in seeds[name]]
        runs[name] = {"model": name, "label": spec.label, "kind": spec.kind, "deterministic": deterministic[name],
                      "settings": ordered[0][2], "tuned": name in tuning,
                      "runs": [r for r, _, _ in ordered]}
        preds[name] = np.stack([pr for _, pr, _ in ordered])
    return tuning, runs, preds
