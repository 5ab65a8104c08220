"""Nothing lost under `dvc repro`: a stage killed (kill -9) or interrupted (Ctrl-C) while it runs leaves its previous
outputs byte for byte (DVC removes a stage's outputs before running it unless they persist: every output in
dvc.yaml does, and the stages write under temporary names and rename), no process of the run survives it, and
Ctrl-C prints one line and exits 130."""

import hashlib
import os
import signal
import subprocess
import time

import psutil
import pytest
import yaml


pytestmark = pytest.mark.slow


def digest(root) -> dict:
    """sha256 of every output file of the project (reports, data, models)."""
    out = {}
    for d in ("reports", "data", "models"):
        for f in sorted((root / d).rglob("*")):
            if f.is_file():
                out[str(f.relative_to(root))] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


def kept(before: dict, after: dict) -> bool:
    """Every previous output byte for byte; nothing new but complete task-cache entries (a task that finished
    before the kill is stored: the next run reuses it, tests/test_taskcache.py)."""
    new = set(after) - set(before)
    return all(after.get(f) == h for f, h in before.items()) and all("/tasks/" in f for f in new)


def survivors(root) -> list:
    """Processes still running whose working directory is the project (the stage, its workers, trackers)."""
    found = []
    for proc in psutil.process_iter(["pid", "cwd", "cmdline", "status"]):
        try:
            if proc.info["cwd"] and os.path.realpath(proc.info["cwd"]) == os.path.realpath(root) \
                    and proc.info["status"] != psutil.STATUS_ZOMBIE:
                found.append((proc.info["pid"], " ".join(proc.info["cmdline"] or [])))
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


@pytest.fixture(scope="module")
def project(tiny_few_repro, tmp_path_factory):
    """A project after its first `dvc repro` (the run's shared one, copied: these tests change it)."""
    return tiny_few_repro(tmp_path_factory.mktemp("interrupts") / "project")


def change_tuning_seed(root, seed):
    """Work the task cache does not hold, and long enough to be interrupted while it runs: a tuning seed no earlier
    test of the shared project used, for any replicate (replicate r tunes with tuning_seed + r, so neighbouring seeds
    would share tunings that a killed run already stored), and the paper's model trained for many more epochs (its
    fits alone take longer than the interrupt's delay; the kernels made the tiny fits so fast that a run with the
    default epochs could finish before its interrupt on a fast, idle machine)."""
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["compare"]["tuning_seed"] = 100 * seed
    options = params["compare"]["models"]["sage_paper"].setdefault("options", {})
    options.update({"epochs": 3000 + seed, "patience": 0})
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def default_sigint():
    """Give the child SIGINT's default action (Python's KeyboardInterrupt) before it execs. A command started with `&`
    from a non-interactive shell, as `bash .ci/run &` starts pytest, inherits SIGINT *ignored*, and so would DVC and
    the stage: Ctrl-C could not reach them, which is not what these tests are about (they test a terminal's Ctrl-C)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_changed_repro(root, seed):
    """Change a parameter the comparison depends on, start `dvc repro`, return it once compare@random runs."""
    change_tuning_seed(root, seed)
    # SHELL=/bin/sh: DVC runs the stage through `/bin/sh -c`, and dash stays in between (bash would exec the stage)
    proc = subprocess.Popen(["dvc", "repro"], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, env={**os.environ, "SHELL": "/bin/sh"}, preexec_fn=default_sigint)
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if "Running stage 'compare@random'" in line:
            break
    assert any("Running stage 'compare@random'" in s for s in seen), "".join(seen)[-2000:]
    time.sleep(3.0)  # the stage is tuning in its workers now
    return proc, seen


def wait_gone(root, timeout=20.0) -> list:
    t0 = time.time()
    while time.time() - t0 < timeout:
        left = survivors(root)
        if not left:
            return []
        time.sleep(0.5)
    return survivors(root)


@pytest.mark.parametrize("victim", ["dvc", "stage"])
def test_kill_9_keeps_every_previous_output_and_leaves_no_process(project, victim):
    before = digest(project)
    proc, _ = start_changed_repro(project, 11 if victim == "dvc" else 12)
    if victim == "dvc":
        os.kill(proc.pid, signal.SIGKILL)  # DVC alone: its stage and the stage's workers must die with it
    else:
        stage = next(c for c in psutil.Process(proc.pid).children(recursive=True)
                     if "stages/compare.py" in " ".join(c.cmdline()))
        stage.kill()
    proc.wait()
    assert wait_gone(project) == []
    assert kept(before, digest(project))  # byte for byte, the committed-style reports included
    leftovers = [p for d in ("data", "models", "reports") for p in (project / d).rglob(".*.partial-*")]
    assert not leftovers


def test_ctrl_c_prints_one_line_exits_130_and_keeps_the_outputs(project):
    before = digest(project)
    proc, seen = start_changed_repro(project, 13)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends: the whole process group
    rest, _ = proc.communicate(timeout=60)
    text = "".join(seen) + rest
    assert "Traceback" not in text and "KeyboardInterrupt" not in text, text[-3000:]
    assert "interrupted (Ctrl-C)" in text
    assert proc.returncode != 0
    assert wait_gone(project) == []
    assert kept(before, digest(project))


def test_the_stage_itself_exits_130_on_sigint(project):
    """Run without DVC: the stage's own exit status and its one line."""
    change_tuning_seed(project, 14)  # work the task cache does not hold
    proc = subprocess.Popen(["python", "stages/compare.py", "--protocol", "random"], cwd=project,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            preexec_fn=default_sigint)
    time.sleep(6.0)
    os.killpg(proc.pid, signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out[-2000:]
    lines = [part.strip() for line in out.splitlines() for part in line.split("\r")]  # progress bars use \r
    errors = [line[line.find("interrupted"):] if "interrupted" in line else line for line in lines
              if "interrupted" in line or "Traceback" in line]
    assert errors == ["interrupted (Ctrl-C): nothing was written under a final name; the previous outputs are kept"]
    assert wait_gone(project) == []
