"""One comparison of a split protocol: in each replicate of the procedure, tune every tunable model, then fit
every model over every seed, across a pool of worker processes.

Replicates (``compare.replicates``, after Bouthillier et al., "Accounting for Variance in Machine Learning
Benchmarks", MLSys 2021) repeat the whole procedure with its own sources of variance: replicate ``r`` reads
the split drawn with seed ``split.seed + r``, tunes with seed ``tuning_seed + r`` and trains with the seeds
``compare.seeds + SEED_STRIDE * r`` nested inside it. Models stay paired within a replicate (same split, same
test ratings). To tell the split's variance from the tuning's, every model whose settings come from tuning
is also fitted once on the split of each replicate r >= 1 with the settings tuned in replicate 0 (a *cross
fit*): those fits differ only by split (and seed).

Tasks are independent given their inputs, so they run in parallel: each worker loads each replicate's split
once, runs torch on one thread (two processes with two threads each on two cores can be ten times slower than
one), and every task seeds itself, so the numbers do not depend on how many workers ran them or in which
order. A model's fits start as soon as the tunings they need (its own, and its ``base``'s) are done.

Usage from a stage: ``tuning, runs, preds = experiment.run(p, "random")``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

import numpy as np
from tqdm import tqdm

from hybridrec import io, metrics, taskcache, zoo
from hybridrec.errors import UserError
from hybridrec.params import SEED_STRIDE
from hybridrec.paths import Paths

log = logging.getLogger("hybridrec")
_worker: dict = {}  # per replicate: the split and its derived arrays, loaded once per worker process
LAST_TASKS: dict = {}  # model -> {"cached": n, "computed": m} of the last run() (for the stage's provenance)


def workers_default() -> int:
    """``HYBRIDREC_WORKERS`` or the number of CPU cores (the results do not depend on it)."""
    raw = os.environ.get("HYBRIDREC_WORKERS", "").strip()
    if not raw:
        return max(1, os.cpu_count() or 1)
    if not raw.isdigit() or int(raw) < 1:
        raise UserError(f"HYBRIDREC_WORKERS={raw!r}: must be a whole number >= 1 (worker processes)")
    return int(raw)


def train_seed(seed: int, replicate: int) -> int:
    """The training seed of ``compare.seeds`` entry ``seed`` in replicate ``replicate``."""
    return seed + SEED_STRIDE * replicate


def _init(name: str, protocol: str, worker: bool = True) -> None:
    import torch  # noqa: PLC0415

    if worker:
        import signal  # noqa: PLC0415

        from hybridrec.errors import die_with_parent  # noqa: PLC0415

        die_with_parent(signal.SIGKILL)  # the stage was killed: nothing of this process is needed any more
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the stage, which stops the pool
        # the stage spawned this process with SIGINT blocked (_sigint_held), so a Ctrl-C during its start-up is
        # still pending here: ignored now, it is discarded on unblocking, not a traceback from a half-started worker
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    torch.set_num_threads(1)
    _worker.clear()
    _worker.update(name=name, protocol=protocol, replicates={})


@contextlib.contextmanager
def _sigint_held():
    """Block SIGINT in this thread for the block: a pool worker spawned meanwhile starts with it blocked (the mask
    survives fork and exec), so a Ctrl-C that reaches the whole process group while the worker is still importing
    waits until the worker ignores it (:func:`_init`). Here it is delivered when the block ends."""
    import signal  # noqa: PLC0415

    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _rep(replicate: int) -> dict:
    """The split of ``replicate`` and what tasks derive from it (loaded on first use in this process)."""
    reps = _worker["replicates"]
    if replicate not in reps:
        data = zoo.split_data(Paths(_worker["name"]), _worker["protocol"], replicate)
        seen = (np.concatenate([data.train["user_idx"], data.val["user_idx"]]),
                np.concatenate([data.train["anime_idx"], data.val["anime_idx"]]))
        popularity = np.bincount(data.train["anime_idx"], minlength=data.n_anime)
        reps[replicate] = {"data": data, "seen": seen, "popularity": popularity}
    return reps[replicate]


class _ModelCode:
    """Around the code of a model family (a researcher's own among them): an exception it raises becomes one
    line naming the model, the task and the error (``HYBRIDREC_TRACEBACK=1`` re-raises it with its traceback)."""

    def __init__(self, name: str, what: str):
        self.name, self.what = name, what

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc is None or not isinstance(exc, Exception) or isinstance(exc, UserError) \
                or os.environ.get("HYBRIDREC_TRACEBACK"):
            return False
        text = " ".join(str(exc).split())[:300]
        raise UserError(f"compare.models.{self.name} failed while {self.what}: {type(exc).__name__}"
                        f"{': ' + text if text else ''} (HYBRIDREC_TRACEBACK=1 shows where)") from None


def _tune(name: str, replicate: int, ctx: zoo.Context, trials: int, confirm: int, seed: int, pruner: str) -> tuple:
    t0 = time.perf_counter()
    with _ModelCode(name, f"tuning on replicate {replicate}"):
        out = zoo.tune(name, ctx, _rep(replicate)["data"], trials, seed, confirm, pruner)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    out["replicate"], out["seed"] = replicate, seed
    return "tune", name, replicate, out


def _top(data, scores: np.ndarray, users, k: int) -> dict:
    """user_idx -> [(anime_idx, score)] of the k best-scored anime the user has rated in no split (paper Fig. 3)."""
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


def _fit(kind: str, name: str, replicate: int, ctx: zoo.Context, seed: int, k: int, share: float,
         show: list | None = None) -> tuple:
    """One fit of ``name`` on the split of ``replicate`` with training seed ``seed``: its metrics (and test
    predictions). ``kind``: "fit" (the replicate's own settings) or "cross" (replicate 0's)."""
    from hybridrec.ranking import popularity_correlation, topk_metrics  # noqa: PLC0415

    rep = _rep(replicate)
    data = rep["data"]
    with _ModelCode(name, f"fitting replicate {replicate} seed {seed}"):
        predictor = zoo.build(name, ctx)
        t0 = time.perf_counter()
        predictor.fit(data, seed)
        fit_seconds = time.perf_counter() - t0
        val_pred, test_pred = predictor.predict(data.val), predictor.predict(data.test)
        scores = predictor.rank_scores(data.n_users, data.n_anime)
    relevant = data.test.loc[data.test["rating"] >= data.scale.relevant(share)]
    ranking = topk_metrics(scores, rep["seen"], (relevant["user_idx"], relevant["anime_idx"]), k)
    ranking["popularity_spearman"] = popularity_correlation(scores, rep["popularity"])
    run = {"replicate": replicate, "seed": seed, "fit_seconds": round(fit_seconds, 3),
           "val": metrics.rating_metrics(val_pred, data.val["rating"].to_numpy(), data.scale),
           "test": metrics.rating_metrics(test_pred, data.test["rating"].to_numpy(), data.scale),
           "ranking": ranking,
           # predictions the metrics clamp to the rating range (an infinite one among them), and NaN ones, which
           # make the run's metrics NaN (the report counts both)
           "out_of_range": {part: int(np.sum((pr < data.scale.lo) | (pr > data.scale.hi)))
                            for part, pr in (("val", val_pred), ("test", test_pred))},
           "nan": {part: int(np.sum(np.isnan(pr))) for part, pr in (("val", val_pred), ("test", test_pred))}}
    if show:  # the first replicate's first seed's top-k lists for the report's users
        run["top"] = {str(u): rows for u, rows in _top(data, scores, show, k).items()}
    log.info("%s %s replicate %d seed %d: test RMSE %.4f, NDCG@%d %.4f, fit %.1f s", kind, name, replicate, seed,
             run["test"]["rmse"], k, ranking["ndcg"], fit_seconds)
    return kind, name, replicate, (run, test_pred.astype(np.float32), predictor.settings())


def _stop(pool) -> None:
    """Cancel the queued tasks and kill the workers of ``pool``: their results are no longer wanted (Ctrl-C, a
    failed task), or every result is in."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        if proc.is_alive():
            proc.kill()
    for proc in procs:
        proc.join(timeout=5)


def _spec_dict(spec) -> dict:
    """A model entry as plain data (what its numbers depend on: not its name or label)."""
    return {"kind": spec.kind, "algo": spec.algo, "options": spec.options,
            "search": {k: [d.choices, d.low, d.high, d.log, d.int] for k, d in spec.search.items()}}


class _Keys:
    """The task-cache key of every task of one protocol's comparison (see :mod:`hybridrec.taskcache`)."""

    def __init__(self, p, protocol: str, models: dict):
        from hybridrec import codehash, registry  # noqa: PLC0415
        from hybridrec.split import read_split  # noqa: PLC0415
        from hybridrec.metrics import read_scale  # noqa: PLC0415

        paths = Paths(p.data.name)
        self.p, self.models = p, models
        splits = [read_split(paths, protocol, r) for r in range(p.compare.replicates)]
        self.splits = [sha for _, sha in splits]
        self.test_ratings = [frame.loc[frame["split"] == "test", "rating"].to_numpy(np.float64) for frame, _ in splits]
        # the content every text- or feature-aware model reads (conservative: every task depends on them)
        inputs = [paths.embeddings, paths.preprocessed / "genres.parquet", paths.preprocessed / "anime.parquet",
                  paths.subset / "anime.parquet"]
        self.inputs = {str(f.name): io.sha256_file(f) for f in inputs if f.exists()}
        scale = read_scale(paths)
        self.scale = [scale.lo, scale.hi]
        self._scale = scale
        self.code, self.section = {}, {}
        for name, spec in models.items():
            family = registry.family(spec.kind)
            self.code[name] = codehash.family_code_hash(family.__module__)
            section = getattr(family, "section", "")
            self.section[name] = getattr(p, section) if section and hasattr(p, section) else None

    def _model(self, name) -> dict:
        spec = self.models.get(name) or self.p.compare.models[name]
        out = {"spec": _spec_dict(spec), "section": self.section.get(name), "code": self.code.get(name)}
        if spec.base:
            out["base"] = self._model(spec.base)
        return out

    def check_tune(self, name, result) -> None:
        """A cached tuning must be one of this model's search space (else ValueError: recomputed)."""
        best = result["best"]
        if not isinstance(best, dict) or set(best) != set(self.models[name].search) \
                or not isinstance(result["trials"], list):
            raise ValueError(f"not a tuning of {name}'s search space")
        float(result["best_val_rmse"]), float(result["seconds"])

    def check_fit(self, replicate, seed, result, pred) -> None:
        """A cached fit must be of this replicate and seed, with one prediction per test rating that gives the
        test RMSE stored beside it (else ValueError: recomputed)."""
        run_ = result["run"]
        if not isinstance(result["settings"], dict) or run_["seed"] != seed or run_["replicate"] != replicate:
            raise ValueError("the result of another fit")
        rating = self.test_ratings[replicate]
        if not isinstance(pred, np.ndarray) or pred.shape != rating.shape:
            raise ValueError(f"{getattr(pred, 'shape', None)} predictions for {len(rating)} test ratings")
        rmse = float(np.sqrt(np.mean((self._scale.clamp(pred) - rating) ** 2)))
        stored = float(run_["test"]["rmse"])
        if not (np.isnan(rmse) and np.isnan(stored)) and not np.isclose(rmse, stored, rtol=1e-5, atol=0.0):
            raise ValueError(f"its predictions give test RMSE {rmse:.6f}, its metrics say {stored:.6f}")

    def tune(self, name, replicate, trials, confirm, seed, pruner) -> str:
        return taskcache.key_of({"task": "tune", **self._model(name), "split": self.splits[replicate],
                                 "inputs": self.inputs, "scale": self.scale, "trials": trials, "confirm": confirm,
                                 "seed": seed, "pruner": pruner})

    def fit(self, kind, name, replicate, tuned: dict, seed, k, share, show) -> str:
        return taskcache.key_of({"task": kind, **self._model(name), "split": self.splits[replicate],
                                 "inputs": self.inputs, "scale": self.scale, "tuned": tuned, "seed": seed,
                                 "evaluate": [k, share], "show": show})


def run(p, protocol: str, workers: int | None = None, progress: bool = True,
        show: list | None = None, cache_dir=None) -> tuple[dict, dict, dict]:
    """Tune and fit ``compare.models`` on the splits of ``protocol``, every replicate; ``show``: user_idx
    whose top-k lists (replicate 0, first seed) each model's record keeps; ``cache_dir``: the per-task cache
    (:mod:`hybridrec.taskcache`; None: none), whose valid entries are used instead of running their tasks.

    Returns (tuning: name -> {"replicates": [tune result per replicate], ...},
    runs: name -> record with per-replicate, per-seed metrics and the cross fits,
    predictions: (name, replicate) -> [seeds, n_test] float32 test predictions, in that split's test order).
    """
    from hybridrec.params import protocol_models  # noqa: PLC0415

    models, c = protocol_models(p, protocol), p.compare
    replicates = range(c.replicates)
    ctx = zoo.Context(p)
    tunable = [n for n, s in models.items() if s.search]
    needs = {n: {m for m in (n, s.base) if m in tunable} for n, s in models.items()}
    deterministic = {n: bool(zoo.build(n, ctx).deterministic) for n in models}
    seeds = {n: c.seeds[:1] if deterministic[n] else list(c.seeds) for n in models}
    crossed = [n for n in models if needs[n] and c.replicates > 1]  # settings from tuning: cross fits
    n_tasks = (len(tunable) * c.replicates + sum(len(s) for s in seeds.values()) * c.replicates
               + len(crossed) * (c.replicates - 1))
    workers = min(workers or workers_default(), n_tasks)
    cache = taskcache.TaskCache(cache_dir)
    runs_served = LAST_TASKS
    runs_served.clear()
    keys = _Keys(p, protocol, models) if cache_dir is not None else None
    served = {n: {"cached": 0, "computed": 0, "computed_seconds": 0.0} for n in models}
    tuning = {n: {} for n in tunable}
    results = {n: {} for n in models}
    cross = {n: {} for n in crossed}

    def tuned_ctx(replicate):
        return zoo.Context(p, {m: tuning[m][replicate]["best"] for m in tuning if replicate in tuning[m]})

    reused = {n: set() for n in crossed}  # cross fits that are the replicate's own first fit (same settings)

    def fits(name, replicate):
        ctx_r = tuned_ctx(replicate)
        out = [(_fit, "fit", name, replicate, ctx_r, train_seed(seed, replicate), p.evaluate.k,
                p.evaluate.relevant_share, show if (replicate == 0 and seed == seeds[name][0]) else None)
               for seed in seeds[name]]
        if name in crossed:  # replicate 0's settings on replicate r's split, once both tunings are done
            pending = [r for r in replicates if r > 0 and ready(name, r)] if replicate == 0 else \
                [replicate] if ready(name, 0) else []
            for r in pending:
                if all(tuning[m][0]["best"] == tuning[m][r]["best"] for m in needs[name]):
                    reused[name].add(r)  # the same settings: the cross fit is replicate r's first fit, bit for bit
                    bar.update(1)
                else:
                    out.append((_fit, "cross", name, r, tuned_ctx(0), train_seed(seeds[name][0], r), p.evaluate.k,
                                p.evaluate.relevant_share, None))
        return out

    def ready(name, replicate):
        return all(replicate in tuning[m] for m in needs[name])

    def key(task) -> str | None:
        if keys is None:
            return None
        fn, *args = task
        if fn is _tune:
            name, replicate, _, trials, confirm, seed, pruner = args
            return keys.tune(name, replicate, trials, confirm, seed, pruner)
        kind, name, replicate, ctx_r, seed, k, share, show_ = args
        tuned = {m: ctx_r.tuned[m] for m in sorted(needs[name])}
        return keys.fit(kind, name, replicate, tuned, seed, k, share, show_)

    def check(task):
        """The content test of a cached entry for ``task`` (see _Keys.check_tune / check_fit)."""
        fn, *args = task
        if fn is _tune:
            return lambda result, pred: keys.check_tune(args[0], result)
        replicate, seed = args[2], args[4]
        return lambda result, pred: keys.check_fit(replicate, seed, result, pred)

    def from_cache(task, hit):
        """The task's result as the task itself would return it, from a cache entry."""
        fn, *args = task
        result, pred = hit
        if fn is _tune:
            return "tune", args[0], args[1], {**result, "cached": True}
        return args[0], args[1], args[2], ({**result["run"], "cached": True}, pred, result["settings"])

    def store(task_key, out):
        kind, _, _, result = out
        if task_key is None:
            return
        if kind == "tune":
            cache.put(task_key, result)
        else:
            run_, pred, settings = result
            cache.put(task_key, {"run": run_, "settings": settings}, pred)

    def triage(tasks):
        """[(task, key)] of the tasks to compute; the cached ones are collected at once (which may make more)."""
        todo, queue = [], list(tasks)
        while queue:
            task = queue.pop(0)
            k = key(task)
            hit = cache.get(k, check(task)) if k is not None else None
            if hit is None:
                todo.append((task, k))
            else:
                queue += collect(*from_cache(task, hit))
        return todo

    first = [(_tune, n, r, ctx, c.tuning_trials, c.tuning_confirm, c.tuning_seed + r, c.tuning_pruner)
             for r in replicates for n in tunable]
    first += [t for r in replicates for n in models if not needs[n] for t in fits(n, r)]
    bar = tqdm(total=n_tasks, desc=f"compare {protocol}", unit="task", disable=not progress)
    started = time.perf_counter()

    def collect(kind, name, replicate, out):
        bar.update(1)
        cached = bool(out.pop("cached", False) if kind == "tune" else out[0].pop("cached", False))
        served[name]["cached" if cached else "computed"] += 1
        if not cached:
            served[name]["computed_seconds"] = round(served[name]["computed_seconds"] + float(
                out["seconds"] if kind == "tune" else out[0]["fit_seconds"]), 1)
        if kind == "tune":
            tuning[name][replicate] = out
            log.info("tune %s replicate %d: %s (val RMSE %.4f; %s) %s", name, replicate, out["best"],
                     out["best_val_rmse"], out["selection"],
                     "from the task cache" if cached else f"in {out['seconds']:.0f} s")
            bar.set_postfix_str(f"tuned {name} r{replicate}")
            return [t for n in models if name in needs[n] and ready(n, replicate) for t in fits(n, replicate)]
        run_, pred, settings = out
        bar.set_postfix_str(f"{kind} {name} r{replicate} seed {run_['seed']} "
                            + ("cached" if cached else f"{run_['fit_seconds']:.1f} s"))
        # every finished task as a line (the worker's own log does not reach the stage's output)
        log.info("%s %s replicate %d seed %d: test RMSE %.4f, %s", kind, name, replicate, run_["seed"],
                 run_["test"]["rmse"], "from the task cache" if cached else f"fit {run_['fit_seconds']:.1f} s")
        if kind == "cross":
            cross[name][replicate] = run_
        else:
            results[name][(replicate, run_["seed"])] = (run_, pred, settings)
        return []

    if workers == 1:  # in this process: same numbers, easier to debug
        import torch  # noqa: PLC0415

        threads = torch.get_num_threads()
        _init(p.data.name, protocol, worker=False)
        try:
            queue = triage(first)
            while queue:
                (fn, *args), k = queue.pop(0)
                out = fn(*args)
                store(k, out)
                queue += triage(collect(*out))
        finally:
            torch.set_num_threads(threads)
    else:
        import multiprocessing  # noqa: PLC0415

        # glibc returns large freed blocks to the OS and faults them in again on the next allocation: with
        # the many same-sized tensors of a training loop that is a third of a fit's time (measured: one fit of ours
        # 6.5 s -> 3.5 s, 880,000 page faults). Workers keep freed memory instead (read by glibc at start, so set
        # before spawning).
        os.environ.setdefault("MALLOC_MMAP_THRESHOLD_", str(1 << 32))
        os.environ.setdefault("MALLOC_TRIM_THRESHOLD_", str(1 << 32))
        # One BLAS / OpenMP thread per worker too (torch's is set in _init): numpy's BLAS would otherwise start a
        # thread per core in every worker; Cornac HFT took 12.7 s a fit so, 6.0 s with one thread (same numbers
        # to 1e-8).
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = "1"
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_init,
                                   initargs=(p.data.name, protocol))
        try:
            pending = {}

            def submit(todo):
                with _sigint_held():  # a submit may spawn a worker
                    for (fn, *args), k in todo:
                        pending[pool.submit(fn, *args)] = k

            submit(triage(first))
            while pending:
                done, _ = wait(set(pending), return_when=FIRST_COMPLETED)
                for fut in done:
                    k = pending.pop(fut)
                    out = fut.result()
                    store(k, out)
                    submit(triage(collect(*out)))
        except BaseException:  # Ctrl-C or a failed task: stop every worker now instead of finishing their tasks
            _stop(pool)
            raise
        # Every result is in: end the idle workers at once. A graceful shutdown waits ~1.4 s for each worker's
        # interpreter to tear down torch, PyG and numba; the workers hold nothing (the task cache is written here).
        _stop(pool)
    bar.close()
    log.info("compare %s: %d tasks (%d replicate(s)) in %.0f s on %d worker(s); task cache: %d reused, %d computed%s",
             protocol, n_tasks, c.replicates, time.perf_counter() - started, workers,
             sum(v["cached"] for v in served.values()), sum(v["computed"] for v in served.values()),
             f", {cache.corrupt} corrupt entr{'y' if cache.corrupt == 1 else 'ies'} recomputed" if cache.corrupt else "")
    for name, v in served.items():
        if v["computed"] and v["cached"]:
            log.info("  %s: %d task(s) reused, %d recomputed", name, v["cached"], v["computed"])
        elif v["computed"] and keys is not None:
            log.info("  %s: all %d task(s) computed", name, v["computed"])
    def cross_record(name, r):
        if r in reused[name]:
            return {**results[name][(r, train_seed(seeds[name][0], r))][0], "reused": True}
        return cross[name][r]

    runs, preds = {}, {}
    for name, spec in models.items():
        per_rep, flat = [], []
        for r in replicates:
            ordered = [results[name][(r, train_seed(s, r))] for s in seeds[name]]
            per_rep.append({"replicate": r, "split_seed": p.split.seed + r,
                            "tuning_seed": c.tuning_seed + r if needs[name] else None,
                            "seeds": [run_["seed"] for run_, _, _ in ordered], "settings": ordered[0][2]})
            flat += [run_ for run_, _, _ in ordered]
            preds[(name, r)] = np.stack([pr for _, pr, _ in ordered])
        runs[name] = {"model": name, "label": spec.label, "kind": spec.kind, "deterministic": deterministic[name],
                      "settings": per_rep[0]["settings"], "tuned": name in tuning,
                      "settings_from_tuning": bool(needs[name]), "replicates": per_rep, "runs": flat,
                      "cross": [cross_record(name, r) for r in replicates if r > 0] if name in cross else []}
    runs_served.update(served)
    tuning_out = {n: {"replicates": [tuning[n][r] for r in replicates], **tuning[n][0]} for n in tunable}
    for n in tunable:
        tuning_out[n].pop("trials")
        tuning_out[n]["seconds"] = round(sum(tuning[n][r]["seconds"] for r in replicates), 1)
        tuning_out[n]["kept_defaults"] = sum(bool(tuning[n][r]["kept_defaults"]) for r in replicates)
        for key in ("pruned", "pruned_seconds", "saved_seconds"):
            tuning_out[n][key] = round(sum(tuning[n][r].get(key, 0) for r in replicates), 1)
        tuning_out[n]["agreement"] = zoo.tuning_agreement(models[n], [tuning[n][r]["best"] for r in replicates])
    return tuning_out, runs, preds
