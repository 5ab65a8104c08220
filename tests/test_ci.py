"""CI definitions a fork runs unchanged: the GitHub workflow validates against GitHub's schema (offline, the
schema bundled with check-jsonschema), and .ci/run runs the README's test command."""

import re
import shutil
import subprocess

import pytest

from tests.conftest import REPO

WORKFLOW = REPO / ".github" / "workflows" / "ci.yml"


def check_workflow(path):
    exe = shutil.which("check-jsonschema")
    if exe is None:
        pytest.fail("check-jsonschema is not installed (it is a test dependency: pip install -e '.[test]')")
    return subprocess.run([exe, "--builtin-schema", "vendor.github-workflows", str(path)], capture_output=True,
                          text=True)


def test_workflow_is_valid():
    out = check_workflow(WORKFLOW)
    assert out.returncode == 0, out.stdout + out.stderr


def test_a_broken_workflow_is_caught(tmp_path):
    broken = tmp_path / "ci.yml"
    broken.write_text(WORKFLOW.read_text().replace("runs-on:", "runs_on:"))
    assert check_workflow(broken).returncode != 0


def test_workflow_runs_the_ci_script_and_writes_the_summary():
    text = WORKFLOW.read_text()
    assert "bash .ci/run" in text and "python-version: \"3.11\"" in text and "cache: pip" in text
    assert "dvc metrics diff" in text and "GITHUB_STEP_SUMMARY" in text
    assert "GITHUB_STEP_SUMMARY" in (REPO / ".ci" / "run").read_text()


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)\n```", readme, flags=re.S)
    test_cmd = next(b for b in blocks if b.strip().endswith("pytest"))
    assert test_cmd.strip() in (REPO / ".ci" / "run").read_text()
