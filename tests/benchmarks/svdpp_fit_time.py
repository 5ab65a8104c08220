"""One SVD++ fit, Surprise's own (``surprise.SVDpp.fit``) against the suite's (baselines/svdpp_numba.py), on a split
the size of the synthetic default's: 800 users x 1500 anime, 64,000 ratings, log-normal user activity (median
50, sigma 1), Zipf-like anime popularity. numba's first call (compiling, or loading numba's disk cache) is timed
apart from the fit.

    OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 python -m tests.benchmarks.svdpp_fit_time [--factors 20 60] [--epochs 20]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import pandas as pd


def make_trainset(n_users=800, n_items=1500, n_ratings=64_000, seed=0):
    import surprise

    rng = np.random.default_rng(seed)
    activity = np.exp(np.log(50) + rng.normal(0, 1.0, n_users))
    counts = np.clip(np.rint(activity * n_ratings / activity.sum()), 3, n_items).astype(int)
    counts[np.argmax(counts)] += n_ratings - counts.sum()  # exactly n_ratings
    popularity = 1.0 / np.arange(1, n_items + 1) ** 0.8
    popularity /= popularity.sum()
    rows = []
    for u in range(n_users):
        items = rng.choice(n_items, counts[u], replace=False, p=popularity)
        rows.append(pd.DataFrame({"u": u, "i": items, "r": rng.integers(1, 11, counts[u])}))
    df = pd.concat(rows, ignore_index=True)
    ts = surprise.Dataset.load_from_df(df, surprise.Reader(rating_scale=(1, 10))).build_full_trainset()
    return ts, counts


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--factors", type=int, nargs="+", default=[20, 60])
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--no-surprise", action="store_true", help="time the fast fit only")
    args = ap.parse_args(argv)

    import numba
    import surprise

    from baselines import svdpp_numba

    ts, counts = make_trainset()
    print(f"trainset: {ts.n_users} users, {ts.n_items} items, {ts.n_ratings} ratings; ratings per user median "
          f"{int(np.median(counts))}, max {counts.max()}; sum |I_u|^2 = {int((counts.astype(float) ** 2).sum()):,}")
    tiny = surprise.Dataset.load_from_df(pd.DataFrame({"u": [0, 0, 1], "i": [0, 1, 1], "r": [1, 2, 3]}),
                                         surprise.Reader(rating_scale=(1, 5))).build_full_trainset()
    with tempfile.TemporaryDirectory() as cache:
        numba.config.CACHE_DIR = cache  # an empty cache: the first call compiles
        svdpp_numba._KERNEL = None
        t = time.perf_counter()
        svdpp_numba.fit(surprise.SVDpp(n_epochs=1, random_state=0), tiny)
        print(f"numba first call (compile, empty cache): {time.perf_counter() - t:.2f} s")
        svdpp_numba._KERNEL = None
        t = time.perf_counter()
        svdpp_numba.fit(surprise.SVDpp(n_epochs=1, random_state=0), tiny)
        print(f"numba first call in a process, from the disk cache: {time.perf_counter() - t:.2f} s")
    for k in args.factors:
        out = {}
        for name, fit in (("fast", svdpp_numba.fit), ("surprise", lambda a, t: a.fit(t))):
            if name == "surprise" and args.no_surprise:
                continue
            algo = surprise.SVDpp(n_factors=k, n_epochs=args.epochs, random_state=0, cache_ratings=True)
            t, c = time.perf_counter(), time.process_time()
            fit(algo, ts)
            out[name] = (time.perf_counter() - t, time.process_time() - c, algo)
            print(f"n_factors {k}, n_epochs {args.epochs}: {name:8s} {out[name][0]:8.3f} s wall, "
                  f"{out[name][1]:8.3f} s CPU", flush=True)
        if "surprise" in out:
            a, b = out["fast"][2], out["surprise"][2]
            rel = max(np.abs(getattr(a, n) - getattr(b, n)).max() / np.abs(getattr(b, n)).max()
                      for n in ("bu", "bi", "pu", "qi", "yj"))
            print(f"  speed-up {out['surprise'][1] / out['fast'][1]:.0f}x (CPU); parameters differ by at most "
                  f"{rel:.1e} relative")


if __name__ == "__main__":
    main()
