"""The metric-regression gate: compare freshly produced metrics with the committed reference.

Metrics come from the DVC metrics files of a dataset (``reports/<d>/metrics.json``: the paper model;
``reports/<d>/comparison.json``: every model of the comparison), flattened to names such as
``metrics.test.rmse`` or ``comparison.svd.ndcg``. The reference is ``reports/<d>/reference_metrics.json``,
committed, and updated only on purpose (``hybridrec check-metrics --update``).

Tolerances and directions come from ``gate.rules`` in params.yaml (first matching rule wins): a metric
regresses when it moves in its *worse* direction by more than ``max(abs, rel * |reference|)``.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from pathlib import Path

from hybridrec import io
from hybridrec.errors import UserError

SOURCES = {"metrics": "metrics.json", "comparison": "comparison.json"}
REFERENCE = "reference_metrics.json"


def flatten(obj, prefix="") -> dict:
    out = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        out[prefix] = float(obj)
    return out


def collect(report_dir: Path, sources=None) -> dict:
    """Flattened numeric metrics of the given sources (default: every source file that exists)."""
    out = {}
    for name, fname in SOURCES.items():
        if sources and name not in sources:
            continue
        path = report_dir / fname
        if not path.exists():
            if sources:
                raise UserError(f"{path}: metrics file not found (run `dvc repro` first)")
            continue
        data = json.loads(path.read_text())
        if name == "metrics":
            data = {s: data[s] for s in ("train", "val", "test") if s in data}
        else:
            data = data.get("models", {})
        flat = flatten(data)
        out.update({f"{name}.{k}": v for k, v in flat.items() if not k.endswith(".n") and not k.endswith("users")})
    return out


@dataclass
class Row:
    metric: str
    reference: float | None
    now: float | None
    tolerance: float | None
    better: str
    verdict: str

    @property
    def delta(self):
        return None if self.reference is None or self.now is None else self.now - self.reference


def rule_for(metric: str, rules) -> object | None:
    for r in rules:
        if fnmatch.fnmatch(metric, r.match):
            return r
    return None


def compare(reference: dict, now: dict, rules) -> list[Row]:
    rows = []
    for metric in sorted(set(reference) | set(now)):
        ref, cur = reference.get(metric), now.get(metric)
        rule = rule_for(metric, rules)
        if rule is None:
            continue  # not gated (e.g. timings)
        if cur is None:
            rows.append(Row(metric, ref, None, None, rule.better, "MISSING"))
            continue
        if ref is None:
            rows.append(Row(metric, None, cur, None, rule.better, "new"))
            continue
        tol = max(rule.abs, rule.rel * abs(ref))
        worse = (cur - ref) if rule.better == "lower" else (ref - cur)
        verdict = "REGRESSION" if worse > tol else ("improved" if worse < -tol else "ok")
        rows.append(Row(metric, ref, cur, tol, rule.better, verdict))
    return rows


def failed(rows) -> list[Row]:
    return [r for r in rows if r.verdict in ("REGRESSION", "MISSING")]


def render(rows) -> str:
    from tabulate import tabulate  # noqa: PLC0415

    def f(x, sign=False):
        return "–" if x is None else (f"{x:+.4f}" if sign else f"{x:.4f}")

    body = [[r.metric, f(r.reference), f(r.now), f(r.delta, True), "–" if r.tolerance is None else
             f"{r.tolerance:.4f} ({r.better} is better)", r.verdict] for r in rows]
    return tabulate(body, headers=["metric", "reference", "now", "delta", "tolerance", "verdict"], tablefmt="simple",
                    disable_numparse=True)


def reference_path(report_dir: Path) -> Path:
    return report_dir / REFERENCE


def load_reference(report_dir: Path) -> dict:
    path = reference_path(report_dir)
    if not path.exists():
        raise UserError(f"{path}: no committed reference metrics (create them on purpose with "
                        "`hybridrec check-metrics --update`)")
    return io.read_json(path)["metrics"]


def update_reference(report_dir: Path, now: dict) -> Path:
    path = reference_path(report_dir)
    io.write_json(path, {"note": "reference metrics for the CI gate; update on purpose with "
                                 "`hybridrec check-metrics --update`", "metrics": now})
    return path
