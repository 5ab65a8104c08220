"""Peak memory of building the model and two training steps, measured in a fresh process so earlier
work in the benchmark session cannot hide it: on CUDA the allocator's peak; on CPU the peak resident
memory above the level after the data is loaded (freed heap returned to the OS first with malloc_trim,
the resident set sampled every millisecond).

Usage: python -m hybridrec.bench.memory RAW_DIR --impl fast --device cpu    (prints one JSON line)
"""

from __future__ import annotations

import argparse
import dataclasses
import json


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("raw_dir", help="folder with the Kaggle-schema CSVs")
    ap.add_argument("--impl", choices=["fast", "reference"], default="fast")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args(argv)

    import torch

    from hybridrec import params
    from hybridrec.bench import data as benchdata
    from hybridrec.metrics import class_weights
    from hybridrec.training import build, weighted_mse

    p = params.load(args.params)
    data = benchdata.load(args.raw_dir, p, "all", "scaling")
    inputs = data.inputs
    cfg = dataclasses.replace(p.train, impl=args.impl, device=args.device)
    if args.device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    sampler = _RssSampler()
    model, runner = build(inputs, cfg, args.device)
    eli, y = (t.to(args.device) for t in inputs.edges["train"])
    w = torch.tensor(class_weights(inputs.edges["train"][1].numpy(), inputs.scale), dtype=torch.float32,
                     device=args.device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    for _ in range(2):
        opt.zero_grad()
        weighted_mse(runner(eli), y, w).backward()
        opt.step()
    if args.device == "cuda":
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = sampler.stop() / 2**20
    print(json.dumps({"peak_mb": round(peak, 1), "users": inputs.n_users}))


class _RssSampler:
    """Peak growth of the resident set from now on, sampled every millisecond in a thread."""

    def __init__(self):
        import ctypes
        import gc
        import threading

        import psutil

        gc.collect()
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except OSError:
            pass
        self.proc = psutil.Process()
        self.base = self.peak = self.proc.memory_info().rss
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        import time

        while not self.done.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.001)

    def stop(self) -> int:
        self.done.set()
        self.thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)
        return self.peak - self.base


if __name__ == "__main__":
    main()
