"""The metric-regression gate: compare freshly produced metrics with the committed reference.

Metrics come from the DVC metrics files of a dataset (``reports/<d>/metrics.json``: the paper model;
``reports/<d>/<protocol>/comparison.json``: every model of each protocol's comparison), flattened to names
such as ``metrics.test.rmse`` or ``comparison.random.svd.ndcg``. The reference is
``reports/<d>/reference_metrics.json``, committed, and updated only on purpose (``hybridrec check-metrics
--update``). It records the device the metrics were made on; metrics made on another device are refused
(a GPU run is not compared with a CPU reference).

Tolerances and directions come from ``gate.rules`` in params.yaml (first matching rule wins): a metric
regresses when it moves in its *worse* direction by more than ``max(abs, rel * |reference|)``.

The reference also records the platform it was made on (:mod:`hybridrec.fingerprint`: CPU, kernel ISA,
kernel variables, library versions) and each metric's rerun standard error, measured in the replicates of
the comparison (``spread`` of comparison.json: the tuning and seed parts of its variance; 0 for a
deterministic model). On the reference's own platform identical code reproduces every number exactly, so the
rules' tight tolerances hold. On another platform the chaotic models (noisy tuning, non-convex training) give
other draws of the same procedure: a metric's tolerance widens to ``max(rule, platform_z * sqrt(2) * rerun
s.e.)`` (the difference of two independent draws of its mean), and the table prints, per metric, the
smallest regression it can detect there.

The gate never passes by accident: a NaN or infinite metric fails (``NOT FINITE``), a reference must hold
finite numbers and never becomes one from a run with non-finite or ungated metrics, and rules that gate
nothing (none, or globs that match no metric) are an error, not a pass.
"""

from __future__ import annotations

import fnmatch
import json
import math
from dataclasses import dataclass
from pathlib import Path

from hybridrec import io
from hybridrec.errors import DataError, UserError

SOURCES = {"metrics": "metrics.json", "comparison": "*/comparison.json"}
REFERENCE = "reference_metrics.json"


def flatten(obj, prefix="") -> dict:
    out = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        out[prefix] = float(obj)
    return out


def _files(report_dir: Path, name: str) -> list[tuple[str, Path]]:
    """(prefix, path) of a source's files: metrics.json, or one comparison.json per protocol folder."""
    if name == "metrics":
        return [("metrics", report_dir / SOURCES[name])]
    return [(f"comparison.{p.parent.name}", p) for p in sorted(report_dir.glob(SOURCES[name]))]


def collect(report_dir: Path, sources=None, devices: dict | None = None, platforms: dict | None = None,
            spreads: dict | None = None, prefixes: dict | None = None) -> dict:
    """Flattened numeric metrics of the given sources (default: every source file that exists). ``devices``,
    when given, receives file -> the device its provenance records; ``platforms`` file -> its platform
    fingerprint; ``spreads`` metric -> its rerun standard error (see the module doc); ``prefixes`` file -> the
    prefix of its metrics' names."""
    out = {}
    comparisons = {}
    for name in SOURCES:
        if sources and name not in sources:
            continue
        files = [(k, f) for k, f in _files(report_dir, name) if f.exists()]
        if not files and sources:
            raise UserError(f"{report_dir / SOURCES[name]}: metrics file not found (run `dvc repro` first)")
        for prefix, path in files:
            data = io.read_json(path)
            if not isinstance(data, dict):
                raise DataError(path, f"expected a JSON object of metrics, found {type(data).__name__}")
            if prefixes is not None:
                prefixes[str(path)] = prefix
            if devices is not None:
                devices[str(path)] = (data.get("provenance") or {}).get("device")
            if platforms is not None:
                platforms[str(path)] = (data.get("provenance") or {}).get("platform")
            if name == "comparison":
                comparisons[prefix] = data
            if name == "metrics":
                data = {s: data[s] for s in ("train", "val", "test") if s in data}
            else:
                data = data.get("models", {})
            flat = flatten(data)
            out.update({f"{prefix}.{k}": v for k, v in flat.items() if not k.endswith(".n") and not k.endswith("users")})
    if spreads is not None:
        spreads.update(spread_of(out, comparisons))
    return out


# metrics.json (the paper preset, one seed, replicate 0's split) -> the comparison metric whose seed spread it has
_METRICS_SPREAD = {"rmse": {"test": "rmse", "val": "val_rmse", "train": "val_rmse"}}


def spread_of(metrics: dict, comparisons: dict) -> dict:
    """metric -> rerun standard error: a comparison metric's ``rerun_se``; a paper-model metric of
    metrics.json (one run) the seed standard deviation of the paper preset in the random comparison (train and
    validation RMSE: its validation RMSE's; the other train/validation metrics: the test metric's)."""
    out = {}
    for prefix, data in comparisons.items():
        for model, parts in (data.get("spread") or {}).items():
            for metric, v in parts.items():
                if isinstance(v, dict) and isinstance(v.get("rerun_se"), (int, float)):
                    out[f"{prefix}.{model}.{metric}"] = float(v["rerun_se"])
    rand = comparisons.get("comparison.random") or {}
    ref = ((rand.get("provenance") or {}).get("params") or {}).get("compare", {}).get("reference")
    ref_spread = (rand.get("spread") or {}).get(ref) or {}
    for key in metrics:
        parts = key.split(".")
        if parts[0] != "metrics" or len(parts) != 3:
            continue
        split, metric = parts[1], parts[2]
        source = _METRICS_SPREAD.get(metric, {}).get(split, metric)
        seed_var = (ref_spread.get(source) or {}).get("seed")
        if isinstance(seed_var, (int, float)) and math.isfinite(seed_var):
            out[key] = math.sqrt(max(0.0, seed_var))
    return out


def check_device(reference_device: str | None, devices: dict) -> None:
    """Metrics must come from the device the reference was made on (numbers differ across devices)."""
    if reference_device is None:
        return
    other = {f: d for f, d in devices.items() if d != reference_device}
    if other:
        f, d = next(iter(other.items()))
        raise UserError(f"{f}: made on device {d!r}, but the reference was made on {reference_device!r}: "
                        f"regenerate on {reference_device} (CI pins it: CUDA_VISIBLE_DEVICES= ) or update the "
                        "reference on purpose")


def device_of(devices: dict, where) -> str | None:
    """The one device a set of metrics files was made on."""
    found = set(devices.values())
    if len(found) > 1:
        raise UserError(f"{where}: metrics made on different devices ({devices}): regenerate them on one")
    return next(iter(found), None)


@dataclass
class Row:
    metric: str
    reference: float | None
    now: float | None
    tolerance: float | None
    better: str
    verdict: str
    note: str = ""

    @property
    def delta(self):
        return None if self.reference is None or self.now is None else self.now - self.reference


def rule_for(metric: str, rules) -> object | None:
    for r in rules:
        if fnmatch.fnmatch(metric, r.match):
            return r
    return None


RESOLVE = {"*.rmse": 0.01}  # the regression the gate should resolve on another platform: 1% of test RMSE


def compare(reference: dict, now: dict, rules, spread: dict | None = None, z: float = 4.0) -> list[Row]:
    """One row per gated metric. ``spread`` (metric -> rerun standard error), given on another platform than
    the reference's, widens each tolerance to ``max(rule, z * sqrt(2) * spread)``."""
    rows = []
    for metric in sorted(set(reference) | set(now)):
        ref, cur = reference.get(metric), now.get(metric)
        rule = rule_for(metric, rules)
        if rule is None:
            continue  # not gated (e.g. timings)
        if cur is None:
            rows.append(Row(metric, ref, None, None, rule.better, "MISSING"))
            continue
        if not math.isfinite(cur):
            rows.append(Row(metric, ref, cur, None, rule.better, "NOT FINITE"))
            continue
        if ref is None:
            rows.append(Row(metric, None, cur, None, rule.better, "new"))
            continue
        tol = max(rule.abs, rule.rel * abs(ref))
        note = ""
        if spread is not None:
            se = spread.get(metric)
            if se is None:
                note = "no rerun spread recorded: the rule's tolerance"
            elif z * math.sqrt(2) * se > tol:
                tol = z * math.sqrt(2) * se
                note = f"widened by the rerun spread (s.e. {se:.4f})"
            for glob, share in RESOLVE.items():
                if fnmatch.fnmatch(metric, glob) and not fnmatch.fnmatch(metric, "*.val_rmse") and ref and \
                        tol > share * abs(ref):
                    note = (f"cannot resolve {share:.0%} here: tuning and seed variance give a rerun s.e. of "
                            f"{(se or 0) / abs(ref):.2%} of the value")
        worse = (cur - ref) if rule.better == "lower" else (ref - cur)
        verdict = "REGRESSION" if worse > tol else ("improved" if worse < -tol else "ok")
        rows.append(Row(metric, ref, cur, tol, rule.better, verdict, note))
    return rows


def failed(rows) -> list[Row]:
    return [r for r in rows if r.verdict in ("REGRESSION", "MISSING", "NOT FINITE")]


def check_rules(rules) -> None:
    """Rules that could gate something: at least one, tolerances >= 0 (params load refuses NaN/inf)."""
    if not rules:
        raise UserError("params.yaml: gate.rules is empty: the gate would check nothing")
    for i, r in enumerate(rules):
        for key in ("abs", "rel"):
            v = getattr(r, key)
            if not math.isfinite(v) or v < 0:
                raise UserError(f"params.yaml: gate.rules[{i}].{key} = {v!r}: must be a finite number >= 0")


def unmatched_rules(rules, metrics) -> list[str]:
    """The globs of ``rules`` that match none of ``metrics``."""
    return [r.match for r in rules if not any(fnmatch.fnmatch(m, r.match) for m in metrics)]


def check_gated(rows, rules, metrics, where) -> None:
    """Refuse a comparison that gated nothing (no rule matched any metric): that is not a pass."""
    if not rows:
        raise UserError(f"{where}: none of the {len(metrics)} metrics matches a gate.rules glob "
                        f"({', '.join(r.match for r in rules)}): the gate would check nothing")


def check_new_reference(now: dict, rules, where) -> None:
    """A run's metrics may become the reference only when they are finite and some rule gates them."""
    if not now:
        raise UserError(f"{where}: no metrics files to take as reference (run `dvc repro` first)")
    # a descriptive number no rule gates (e.g. a popularity correlation, undefined for a constant model) may be NaN
    bad = [f"{k}={v}" for k, v in now.items() if not math.isfinite(v) and rule_for(k, rules)]
    if bad:
        raise UserError(f"{where}: metric(s) not finite, refusing them as reference: {', '.join(bad[:5])}"
                        f"{' ...' if len(bad) > 5 else ''}")
    if not any(rule_for(m, rules) for m in now):
        raise UserError(f"{where}: none of the {len(now)} metrics matches a gate.rules glob "
                        f"({', '.join(r.match for r in rules)}): such a reference would gate nothing")


def render(rows) -> str:
    from tabulate import tabulate  # noqa: PLC0415

    def f(x, sign=False):
        return "–" if x is None else (f"{x:+.4f}" if sign else f"{x:.4f}")

    def rel(r):
        if r.tolerance is None or not r.reference:
            return "–"
        return f"{r.tolerance / abs(r.reference):.2%}"

    body = [[r.metric, f(r.reference), f(r.now), f(r.delta, True), "–" if r.tolerance is None else
             f"{r.tolerance:.4f} ({r.better} is better)", rel(r), r.verdict, r.note] for r in rows]
    return tabulate(body, headers=["metric", "reference", "now", "delta", "tolerance", "detects >=", "verdict",
                                   "note"], tablefmt="simple", disable_numparse=True)


def reference_path(report_dir: Path) -> Path:
    return report_dir / REFERENCE


def reference_device(report_dir: Path) -> str | None:
    ref = io.read_json(reference_path(report_dir))
    return ref.get("device") if isinstance(ref, dict) else None


def reference_extras(report_dir: Path) -> tuple[dict | None, dict]:
    """(platform fingerprint, metric -> rerun standard error) the reference records (None, {} for an older one)."""
    ref = io.read_json(reference_path(report_dir))
    if not isinstance(ref, dict):
        return None, {}
    spread = ref.get("spread") if isinstance(ref.get("spread"), dict) else {}
    return ref.get("platform"), {k: float(v) for k, v in spread.items() if isinstance(v, (int, float))
                                 and not isinstance(v, bool) and math.isfinite(v)}


def platform_of(platforms: dict, where) -> dict | None:
    """The one platform a set of metrics files was made on (None when none records it)."""
    found = {json.dumps(v, sort_keys=True) for v in platforms.values() if v}
    if len(found) > 1:
        raise UserError(f"{where}: metrics made on different platforms ({', '.join(sorted(platforms))}): "
                        "regenerate them on one")
    return json.loads(next(iter(found))) if found else None


def load_reference(report_dir: Path) -> dict:
    path = reference_path(report_dir)
    if not path.exists():
        raise UserError(f"{path}: no committed reference metrics (create them on purpose with "
                        "`hybridrec check-metrics --update`)")
    ref = io.read_json(path)
    metrics = ref.get("metrics") if isinstance(ref, dict) else None
    if not isinstance(metrics, dict):
        raise DataError(path, "no 'metrics' mapping (recreate the reference on purpose with "
                              "`hybridrec check-metrics --update`)")
    if not metrics:
        raise DataError(path, "holds no metrics: the gate would check nothing")
    for k, v in metrics.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise DataError(path, f"reference metric {k} = {v!r} is not a number")
        if not math.isfinite(v):
            raise DataError(path, f"reference metric {k} = {v!r} is not finite (a reference holds finite numbers)")
    return {k: float(v) for k, v in metrics.items()}


def update_reference(report_dir: Path, now: dict, device: str | None = None, platform: dict | None = None,
                     spread: dict | None = None) -> Path:
    path = reference_path(report_dir)
    io.write_json(path, {"note": "reference metrics for the CI gate; update on purpose with "
                                 "`hybridrec check-metrics --update`. spread: each metric's rerun standard error "
                                 "(tuning and seed variance, from the replicates) for another platform",
                         "device": device, "platform": platform, "metrics": now,
                         "spread": {k: v for k, v in (spread or {}).items() if k in now}})
    return path
