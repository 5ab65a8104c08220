"""Benchmark fixtures: the 800-user synthetic subset and the real sample, on CPU and (when present) CUDA.

Run: pytest tests/benchmarks --benchmark-only --benchmark-json=.benchmarks/cpu.json
(the regular test run skips benchmarks: pyproject's addopts has --benchmark-skip).
"""

from __future__ import annotations

import platform

import pytest
import torch

from hybridrec import synthetic
from hybridrec.bench import data as benchdata
from hybridrec.params import parse
from tests.conftest import REAL_SAMPLE, raw_params

DEVICES = ["cpu", "cuda"]


def pytest_benchmark_update_machine_info(config, machine_info):
    import torch_geometric

    machine_info["torch"] = torch.__version__
    machine_info["torch_geometric"] = torch_geometric.__version__
    machine_info["cpu_count"] = __import__("os").cpu_count()
    machine_info["platform"] = platform.platform()
    machine_info["cuda_device"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    try:
        import cpuinfo  # py-cpuinfo, a pytest-benchmark dependency

        machine_info["cpu_brand"] = cpuinfo.get_cpu_info().get("brand_raw")
    except Exception:
        machine_info["cpu_brand"] = platform.processor()


@pytest.fixture(params=DEVICES)
def device(request):
    if request.param == "cuda" and not torch.cuda.is_available():
        pytest.skip("CUDA not available")
    return request.param


def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


@pytest.fixture(scope="session")
def params():
    return parse(raw_params())


@pytest.fixture(scope="session")
def synthetic_raw(tmp_path_factory, params):
    out = tmp_path_factory.mktemp("bench_synthetic")
    synthetic.generate(params.synthetic, out)
    return out


@pytest.fixture(scope="session")
def datasets(synthetic_raw, params):
    """name -> BenchData: the 800-user synthetic subset and, when present, the real sample."""
    out = {"synthetic-800": benchdata.load(synthetic_raw, params, 800, "synthetic-800")}
    if (REAL_SAMPLE / "rating_complete.csv").exists():
        out["mal2020-sample"] = benchdata.load(REAL_SAMPLE, params, 800, "mal2020-sample")
    return out


@pytest.fixture(params=["synthetic-800", "mal2020-sample"])
def dataset(request, datasets):
    if request.param not in datasets:
        pytest.skip(f"real sample not available at {REAL_SAMPLE}")
    return datasets[request.param]
