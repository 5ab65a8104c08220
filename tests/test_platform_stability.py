"""A second platform in CI: the tiny pipeline under the machine's default kernels and under the SSE4 set
(torch's oneDNN/MKL/ATen and NumPy's OpenBLAS confined below any x86-64 CPU's own ISA: other kernels, other
rounding). The second run's gate against the first run's reference must pass, and no verdict may turn into
the opposite significant one."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from hybridrec.fingerprint import KERNEL_ENV, SSE4_SET
from tests.conftest import copy_project, tiny_few

pytestmark = pytest.mark.slow


def run(cwd, args, env):
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=env)


@pytest.fixture(scope="module")
def two_platforms(tiny_few_repro, tmp_path_factory):
    default_env = {k: v for k, v in os.environ.items() if k not in KERNEL_ENV}
    sse4_env = {**default_env, **SSE4_SET}
    a = tiny_few_repro(tmp_path_factory.mktemp("platform_default") / "project")  # run without the SSE4 set
    b = copy_project(tmp_path_factory.mktemp("platform_sse4"), tiny_few())
    out = run(b, ["dvc", "repro"], sse4_env)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    hybridrec = [sys.executable, "-m", "hybridrec.cli"]
    out = run(a, hybridrec + ["check-metrics", "--update"], default_env)
    assert out.returncode == 0, out.stdout + out.stderr
    shutil.copy2(a / "reports/synthetic/reference_metrics.json", b / "reports/synthetic/reference_metrics.json")
    return a, b, hybridrec, sse4_env


def test_platforms_differ_and_numbers_move(two_platforms):
    a, b, _, _ = two_platforms
    pa = json.loads((a / "reports/synthetic/random/comparison.json").read_text())
    pb = json.loads((b / "reports/synthetic/random/comparison.json").read_text())
    assert pa["provenance"]["platform"] != pb["provenance"]["platform"]
    assert pb["provenance"]["platform"]["kernel_env"] == SSE4_SET
    assert pb["provenance"]["platform"]["torch_cpu_capability"] == "DEFAULT"
    # the SSE4 set changes the bits of the torch models (else this test would check nothing)
    assert pa["models"]["sage_paper"]["rmse"] != pb["models"]["sage_paper"]["rmse"]


def test_gate_passes_on_the_second_platform(two_platforms):
    _, b, hybridrec, env = two_platforms
    out = run(b, hybridrec + ["check-metrics"], env)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr
    assert "another platform than the reference's" in out.stdout


def test_no_verdict_turns_into_its_opposite(two_platforms):
    a, b, hybridrec, env = two_platforms
    out = run(b, hybridrec + ["stability", "--reference-dir", str(a / "reports/synthetic")], env)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr
    text = (b / "reports/stability.md").read_text()
    assert "## `synthetic`" in text and "| **all** |" in text
    row = next(line for line in text.splitlines() if line.startswith("| **all** |"))
    assert row.split("|")[5].strip() == "0"  # opposite significant verdicts
