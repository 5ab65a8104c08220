"""Do the verdicts replicate? A fresh run's comparison verdicts and gate against a committed one.

``hybridrec stability --dataset <d>`` reads the committed reports of a data set (``git show <rev>:...``, or
a folder with ``--reference-dir``) and the freshly generated ones in the working tree, and counts, over
every test of every protocol's comparison, the verdicts that stayed the same, that moved to or from "not
significant", and that turned into the opposite significant one ("significantly better" <->
"significantly worse"). It also runs the metric gate of the fresh metrics against the committed reference
(with the tolerances for this run's platform) and writes both into that data set's section of
``reports/stability.md``, with the platforms of both runs. Exit status 1 when a verdict turned into its
opposite or the gate failed.

Typical use, in a fresh clone, imitating another kind of CPU (the "SSE4 set" confines torch's and NumPy's
kernels below any x86-64 CPU's own, so other kernels and other rounding)::

    export ONEDNN_MAX_CPU_ISA=SSE41 MKL_CBWR=SSE4_2 ATEN_CPU_CAPABILITY=default OPENBLAS_CORETYPE=Nehalem
    dvc repro && hybridrec stability --dataset synthetic
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from hybridrec import io
from hybridrec.errors import UserError

STABILITY_MD = Path("reports") / "stability.md"
CLASSES = ("significantly better", "significantly worse", "not significant")


def verdict_class(test: dict) -> str:
    """One of CLASSES for a test of comparison.json."""
    if not test.get("significant"):
        return "not significant"
    return "significantly better" if test["delta"] < 0 else "significantly worse"


def compare_verdicts(old: dict, new: dict) -> dict:
    """Counts of verdict transitions over the tests both comparisons hold, and the changed ones."""
    common = [k for k in old if k in new]
    out = {"tests": len(common), "same": 0, "to_or_from_ns": 0, "opposite": 0, "only_one": len(set(old) ^ set(new)),
           "changes": []}
    for k in common:
        a, b = verdict_class(old[k]), verdict_class(new[k])
        if a == b:
            out["same"] += 1
            continue
        kind = "opposite" if "not significant" not in (a, b) else "to_or_from_ns"
        out[kind] += 1
        out["changes"].append({"test": k, "was": a, "now": b, "kind": kind, "delta_was": old[k]["delta"],
                               "delta_now": new[k]["delta"]})
    return out


def _committed(rel: str, rev: str, reference_dir: Path | None, dataset: str):
    """The committed JSON at ``rel`` (reports/<d>/...) from git ``rev`` or from ``reference_dir``."""
    if reference_dir is not None:
        path = Path(reference_dir) / Path(rel).relative_to(Path("reports") / dataset)
        return io.read_json(path) if path.exists() else None
    out = subprocess.run(["git", "show", f"{rev}:{rel}"], capture_output=True, text=True)
    if out.returncode != 0:
        return None
    try:
        return json.loads(out.stdout)
    except ValueError:
        raise UserError(f"{rev}:{rel}: not valid JSON") from None


def run(dataset: str, p, rev: str = "HEAD", reference_dir: Path | None = None, command: str = "") -> dict:
    """The verdict counts per protocol and the gate's result (also written into reports/stability.md)."""
    from hybridrec import gate  # noqa: PLC0415
    from hybridrec.fingerprint import describe  # noqa: PLC0415
    from hybridrec.paths import Paths  # noqa: PLC0415

    paths = Paths(dataset)
    protocols = sorted(d.name for d in paths.reports.iterdir() if (d / "comparison.json").exists()) \
        if paths.reports.is_dir() else []
    if not protocols:
        raise UserError(f"{paths.reports}: no <protocol>/comparison.json (run `dvc repro` first)")
    if reference_dir is None:  # name the commit, not a movable ref such as HEAD
        out = subprocess.run(["git", "rev-parse", "--short", rev], capture_output=True, text=True)
        if out.returncode != 0:
            raise UserError(f"--rev {rev}: not a git revision here ({out.stderr.strip() or 'git failed'})")
        rev = out.stdout.strip()
    result = {"dataset": dataset, "protocols": {}, "rev": None if reference_dir else rev,
              "reference_dir": str(reference_dir) if reference_dir else None, "command": command}
    platforms = {}
    for protocol in protocols:
        rel = f"reports/{dataset}/{protocol}/comparison.json"
        old = _committed(rel, rev, reference_dir, dataset)
        if old is None:
            raise UserError(f"{rel}: no committed version at {reference_dir or rev} to compare with")
        new = io.read_json(paths.comparison(protocol))
        platforms.setdefault("reference", (old.get("provenance") or {}).get("platform"))
        platforms["now"] = (new.get("provenance") or {}).get("platform")
        result["protocols"][protocol] = compare_verdicts(old.get("tests", {}), new.get("tests", {}))
    ref = _committed(f"reports/{dataset}/reference_metrics.json", rev, reference_dir, dataset)
    if ref is None:
        raise UserError(f"reports/{dataset}/reference_metrics.json: no committed reference at {reference_dir or rev}")
    reference = {k: float(v) for k, v in ref["metrics"].items()}
    spread = {k: float(v) for k, v in (ref.get("spread") or {}).items()}
    devices, now_platforms = {}, {}
    now = gate.collect(paths.reports, None, devices, now_platforms)
    now_platform = gate.platform_of(now_platforms, paths.reports)
    same = ref.get("platform") is not None and ref.get("platform") == now_platform
    rows = gate.compare({k: v for k, v in reference.items() if k.split(".", 1)[0] in {"metrics", "comparison"}},
                        now, p.gate.rules, None if same else spread, p.gate.platform_z)
    bad = gate.failed(rows)
    result["gate"] = {"gated": len(rows), "failed": [r.metric for r in bad], "same_platform": same,
                      "widened": sum("widened" in r.note for r in rows)}
    result["platforms"] = {"reference": describe(ref.get("platform")), "now": describe(now_platform)}
    write_section(STABILITY_MD, result)
    return result


def render_section(r: dict) -> list[str]:
    g = r["gate"]
    against = f"`{r['rev']}`" if r["rev"] else f"`{r['reference_dir']}`"
    L = [f"## `{r['dataset']}`", "",
         f"- Reference: the committed reports at {against}, made on {r['platforms']['reference']}.",
         f"- This run: {r['platforms']['now']}.",
         (f"- Command: `{r['command']}`" if r["command"] else
          f"- Command: `hybridrec stability --dataset {r['dataset']}` after `dvc repro` (kernel variables as listed "
          "for this run)."), "",
         "| protocol | tests | same verdict | to or from not significant | opposite significant verdict |",
         "|---|---|---|---|---|"]
    for protocol, c in r["protocols"].items():
        L.append(f"| {protocol} | {c['tests']} | {c['same']} | {c['to_or_from_ns']} | {c['opposite']} |")
    total = {k: sum(c[k] for c in r["protocols"].values()) for k in ("tests", "same", "to_or_from_ns", "opposite")}
    L.append(f"| **all** | {total['tests']} | {total['same']} | {total['to_or_from_ns']} | {total['opposite']} |")
    L += ["", f"- Gate against the committed reference ({'same platform: the rules' if g['same_platform'] else 'another platform: tolerances from the measured rerun spread'}): "
          f"{g['gated']} metrics gated, {len(g['failed'])} failed"
          + (f" ({', '.join(g['failed'][:8])}{' ...' if len(g['failed']) > 8 else ''})" if g["failed"] else "")
          + (f"; {g['widened']} tolerances widened by the spread" if not g["same_platform"] else "") + "."]
    changes = [ch for c in r["protocols"].values() for ch in c["changes"]]
    if changes:
        L += ["", "Verdicts that changed:", "", "| protocol | test | was | now | ΔRMSE was | ΔRMSE now |", "|---|---|---|---|---|---|"]
        for protocol, c in r["protocols"].items():
            for ch in c["changes"]:
                L.append(f"| {protocol} | {ch['test']} | {ch['was']} | {ch['now']} | {ch['delta_was']:+.4f} | "
                         f"{ch['delta_now']:+.4f} |")
    return L + [""]


HEADER = ["# Stability: do the verdicts replicate on another platform?", "",
          "Generated by `hybridrec stability` (hybridrec/stability.py): a fresh `dvc repro` of each data set, run "
          "with the kernel variables shown (the SSE4 set confines torch's oneDNN/MKL/ATen and NumPy's OpenBLAS "
          "kernels below any x86-64 CPU's own: other kernels, other rounding), against the committed reports. A "
          "verdict is one test of a comparison.md (significantly better / significantly worse / not significant); "
          "\"opposite\" counts a significant verdict that turned into the other significant one.", ""]


def write_section(path: Path, r: dict) -> None:
    """Replace (or add) the data set's section of ``path``, keeping the others."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    sections = {m.group(1): m.group(0) for m in re.finditer(r"^## `([^`]+)`\n.*?(?=^## `|\Z)", text, re.S | re.M)}
    sections[r["dataset"]] = "\n".join(render_section(r)) + "\n"
    body = "\n".join(HEADER) + "\n" + "".join(sections[k].rstrip("\n") + "\n\n" for k in sorted(sections))
    io.write_text(path, body.rstrip("\n") + "\n")
