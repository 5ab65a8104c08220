"""The platform a number was computed on, as far as it can change the number's bits: the CPU, the kernel ISA
torch dispatches to, the environment variables that confine torch's oneDNN/MKL/ATen and NumPy's OpenBLAS
kernels, and the library versions.

On one platform identical code reproduces every number exactly; on another, chaotic procedures (tuning on a
noisy objective, non-convex training) give other draws. The gate (:mod:`hybridrec.gate`) reads this to pick
its tolerances.
"""

from __future__ import annotations

import os
import platform

# Variables that change which kernels (and so which rounding) torch and NumPy use.
KERNEL_ENV = ("ONEDNN_MAX_CPU_ISA", "MKL_CBWR", "ATEN_CPU_CAPABILITY", "OPENBLAS_CORETYPE")
# The "SSE4 set": below any x86-64 CPU's own ISA, so it changes torch's and NumPy's bits on every such machine.
SSE4_SET = {"ONEDNN_MAX_CPU_ISA": "SSE41", "MKL_CBWR": "SSE4_2", "ATEN_CPU_CAPABILITY": "default",
            "OPENBLAS_CORETYPE": "Nehalem"}


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def fingerprint() -> dict:
    """What identifies this platform's arithmetic (a JSON-able mapping; equal mappings, equal bits)."""
    import numpy as np  # noqa: PLC0415
    import torch  # noqa: PLC0415

    return {"cpu": cpu_model(), "machine": platform.machine(),
            "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "kernel_env": {k: os.environ.get(k) for k in KERNEL_ENV},
            "torch": torch.__version__, "numpy": np.__version__}


def describe(fp: dict | None) -> str:
    """One line for reports: CPU, torch's kernel ISA and any kernel variables set."""
    if not fp:
        return "unknown platform"
    env = ", ".join(f"{k}={v}" for k, v in (fp.get("kernel_env") or {}).items() if v) or "no kernel variables set"
    return f"{fp.get('cpu')} ({fp.get('machine')}), torch kernels {fp.get('torch_cpu_capability')}, {env}"
