"""Peak memory of one training step, measured in a fresh process (``ru_maxrss`` growth on CPU, the
allocator's peak on CUDA) so earlier work in the benchmark session cannot hide it.

Usage: python -m hybridrec.benchmem RAW_DIR --impl fast --device cpu    (prints one JSON line)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("raw_dir", help="folder with the Kaggle-schema CSVs")
    ap.add_argument("--impl", choices=["fast", "reference"], default="fast")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args(argv)

    import torch

    from hybridrec import benchdata, params
    from hybridrec.metrics import class_weights
    from hybridrec.training import build, weighted_mse

    p = params.load(args.params)
    data = benchdata.load(args.raw_dir, p, "all", "scaling")
    inputs = data.inputs
    cfg = dataclasses.replace(p.train, impl=args.impl, device=args.device)
    if args.device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    model, runner = build(inputs, cfg, args.device)
    eli, y = (t.to(args.device) for t in inputs.edges["train"])
    w = torch.tensor(class_weights(inputs.edges["train"][1].numpy()), dtype=torch.float32, device=args.device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    for _ in range(2):
        opt.zero_grad()
        weighted_mse(runner(eli), y, w).backward()
        opt.step()
    if args.device == "cuda":
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024  # KiB -> MiB
    print(json.dumps({"peak_mb": round(peak, 1), "users": inputs.n_users}))


if __name__ == "__main__":
    main()
