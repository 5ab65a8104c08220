"""Time a `dvc repro`: wall time of every stage (as DVC runs them, start-up and hashing included) and of every
model's tuning and fits, into a JSON that ``hybridrec timing-report --pipeline`` renders.

Usage: hybridrec time-repro [--out .benchmarks/pipeline.json] [--label after] [-- DVC_REPRO_ARGS ...]
       (in a fresh clone, or with ``-- --force``, for a cold run)
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from hybridrec import io
from hybridrec.errors import UserError

STAGE_PREFIX = "Running stage '"


def time_repro(dvc_args: list[str], env: dict | None = None, echo=print) -> tuple[float, list[dict]]:
    """Run ``dvc repro DVC_ARGS``; return (total seconds, [{stage, seconds}] in the order DVC ran them)."""
    t0 = time.perf_counter()
    marks = []
    proc = subprocess.Popen(["dvc", "repro", *dvc_args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env, bufsize=1)
    for line in proc.stdout:
        echo(line.rstrip("\n"))
        if line.startswith(STAGE_PREFIX):
            marks.append((line[len(STAGE_PREFIX):].split("'")[0], time.perf_counter()))
    rc = proc.wait()
    end = time.perf_counter()
    if rc != 0:
        raise UserError(f"dvc repro {' '.join(dvc_args)} failed (exit {rc}); see its output above")
    stages = [{"stage": name, "seconds": round((marks[i + 1][1] if i + 1 < len(marks) else end) - t, 1)}
              for i, (name, t) in enumerate(marks)]
    return round(end - t0, 1), stages


def model_times(reports: Path) -> dict:
    """protocol -> [{model, tune_seconds, fits, fit_seconds}] from the comparison's runs and tuning files (both
    the per-protocol layout and the earlier one-file-per-model layout of reports/<d>/runs/)."""
    out = {}
    layouts = [(p.parent.name, io.read_json(p)["models"], p.parent / "tuning.json")
               for p in sorted(reports.glob("*/runs.json"))]
    served = {p.parent.name: (io.read_json(p).get("provenance") or {}).get("tasks") or {}
              for p in sorted(reports.glob("*/runs.json"))}
    if (reports / "runs").is_dir():
        layouts.append(("random", {f.stem: io.read_json(f) for f in sorted((reports / "runs").glob("*.json"))},
                        reports / "tuning.json"))
    for protocol, runs, tuning_path in layouts:
        tuning = io.read_json(tuning_path)["models"] if tuning_path.exists() else {}
        rows = []
        for name, r in runs.items():
            t = tuning.get(name, {})
            tune = t.get("seconds", sum(x.get("seconds", 0) for x in t.get("trials", [])))
            fits = r["runs"] + r.get("cross", [])  # the cross fits of the replicates count as fits
            rows.append({"model": name, "tune_seconds": round(float(tune), 1), "fits": len(fits),
                         "fit_seconds": round(sum(x["fit_seconds"] for x in fits), 1),
                         "tunings": len(t.get("replicates", [t] if t else [])),
                         "pruned": int(t.get("pruned", 0)), "pruned_saved_seconds": float(t.get("saved_seconds", 0.0)),
                         **({"cached_tasks": served[protocol][name]["cached"],
                             "computed_tasks": served[protocol][name]["computed"],
                             "computed_seconds": served[protocol][name]["computed_seconds"]}
                            if name in served.get(protocol, {}) else {})})
        out[protocol] = rows
    return out


def main(argv=None) -> None:
    import argparse

    ap = argparse.ArgumentParser(prog="hybridrec time-repro", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=".benchmarks/pipeline.json", help="JSON to write (default: %(default)s)")
    ap.add_argument("--label", default="now", help="what this run is, e.g. before / after (default: %(default)s)")
    ap.add_argument("--params", default="params.yaml", help="parameters file (default: %(default)s)")
    ap.add_argument("--note", default="", help="a sentence the timing page prints with this run (what to read "
                                                "into it, e.g. how loaded the machine was)")
    ap.add_argument("dvc_args", nargs="*", help="arguments for dvc repro (after --)")
    args = ap.parse_args(argv)
    import yaml  # noqa: PLC0415

    # only data.name is read (so this also times other revisions of the pipeline, whatever their params)
    name = yaml.safe_load(Path(args.params).read_text())["data"]["name"]
    total, stages = time_repro(args.dvc_args)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    summary = {"label": args.label, "total_seconds": total, "stages": stages,
               "models": model_times(Path("reports") / name), "data": name, "commit": commit or None,
               "date": time.strftime("%Y-%m-%d %H:%M"), "cpu_count": os.cpu_count(), "machine": platform.machine(),
               "python": platform.python_version(), "workers": os.environ.get("HYBRIDREC_WORKERS", "all cores"),
               "dvc_args": args.dvc_args, "note": args.note}
    io.write_json(args.out, summary)
    print(json.dumps({k: summary[k] for k in ("label", "total_seconds", "commit")}), file=sys.stderr)


def render(paths) -> list[str]:
    """The pipeline section of reports/timing.md from one or more time-repro JSONs (e.g. before and after)."""
    from hybridrec.errors import DataError  # noqa: PLC0415
    from hybridrec.reporting.common import table  # noqa: PLC0415

    runs = []
    for path in paths:
        d = io.read_json(path)
        if not isinstance(d, dict) or not isinstance(d.get("stages"), list) or "total_seconds" not in d:
            raise DataError(path, "not a `hybridrec time-repro` summary (no stages / total_seconds)")
        runs.append(d)
    L = ["## The pipeline: a cold `dvc repro` of the default data", "",
         "Wall time of every stage as DVC ran it (process start, imports and hashing included), measured by "
         "`hybridrec time-repro` in a fresh clone; per-model times are the tuning and fit times the compare stages "
         "recorded (worker processes run them in parallel, so they add up to more than the stage's wall time).", ""]
    names = []
    for d in runs:
        names += [s["stage"] for s in d["stages"] if s["stage"] not in names]
    header = ["stage"] + [f"{d['label']} s ({d.get('commit') or '?'}, {d.get('cpu_count', '?')} cores)" for d in runs]
    rows = []
    for n in names:
        rows.append([n] + [next((f"{s['seconds']:.1f}" for s in d["stages"] if s["stage"] == n), "–") for d in runs])
    rows.append(["**total**"] + [f"**{d['total_seconds']:.1f}**" for d in runs])
    L += [table(rows, header, numparse=False), ""]
    for d in runs:
        what = "; ".join(f"{len(ms)} models on protocol `{p}`" for p, ms in d.get("models", {}).items())
        L.append(f"- {d['label']}: {what or 'no comparison'} ({d.get('date', '?')}, `dvc repro {' '.join(d.get('dvc_args', []))}`"
                 f"{', workers: ' + str(d['workers']) if d.get('workers') else ''})."
                 + (f" {d['note']}" if d.get("note") else ""))
    L.append("")
    for d in runs:
        for protocol, models in d.get("models", {}).items():
            extra = any("pruned" in m for m in models)
            cache = any("cached_tasks" in m for m in models)
            mrows = [[m["model"], f"{m['tune_seconds']:.1f}"]
                     + ([m.get("tunings", 0), m.get("pruned", 0), f"{m.get('pruned_saved_seconds', 0):.0f}"] if extra else [])
                     + [m["fits"], f"{m['fit_seconds']:.1f}"]
                     + ([m.get("cached_tasks", 0), m.get("computed_tasks", 0), f"{m.get('computed_seconds', 0):.1f}"]
                        if cache else [])
                     for m in sorted(models, key=lambda m: -(m["tune_seconds"] + m["fit_seconds"]))]
            total = sum(m["tune_seconds"] + m["fit_seconds"] for m in models)
            head = (["model", "tuning s"] + (["tunings", "pruned trials", "pruning saved ~s"] if extra else [])
                    + ["fits", "fits s (all seeds)"]
                    + (["tasks from the cache", "tasks computed", "computed s (this run)"] if cache else []))
            L += [f"**{d['label']}: models of protocol `{protocol}`** ({total:.0f} s of tuning and fitting in all)", "",
                  table(mrows, head, numparse=False), ""]
    return L


if __name__ == "__main__":
    main()
