"""The ``hybridrec`` subcommands a user runs by hand (the DVC stages live in ``stages/``)."""

from __future__ import annotations

import argparse

from hybridrec.errors import UserError


def register(sub) -> None:
    r = sub.add_parser("recommend", help="print the top-k unseen anime for a user from the trained paper model",
                       description="Print the top-k anime a user has not rated, ranked by the trained paper model "
                                   "(models/<dataset>/paper/model.pt; run `dvc repro` first).")
    r.add_argument("--user", type=int, required=True, help="user_id as in rating_complete.csv")
    r.add_argument("-k", type=int, default=None, help="how many (default: evaluate.k from params.yaml)")
    r.add_argument("--params", default="params.yaml", help="parameters file (default: params.yaml)")
    r.set_defaults(func=cmd_recommend)

    g = sub.add_parser("check-metrics", help="the CI gate: compare fresh metrics with the committed reference",
                       description="Compare the metrics in reports/<dataset>/ (metrics.json, comparison.json) with "
                                   "the committed reports/<dataset>/reference_metrics.json, using the tolerances of "
                                   "gate.rules in params.yaml. Exits 1 on any regression or missing metric.")
    g.add_argument("--dataset", default=None, help="data set name (default: data.name from params.yaml)")
    g.add_argument("--source", action="append", choices=["metrics", "comparison"],
                   help="which metrics file(s) to gate (repeatable; default: all the reference holds)")
    g.add_argument("--update", action="store_true",
                   help="write the current metrics as the new reference instead of checking (on purpose only)")
    g.add_argument("--params", default="params.yaml", help="parameters file (default: params.yaml)")
    g.set_defaults(func=cmd_check_metrics)

    u = sub.add_parser("use-data", help="point params.yaml's data section at another data set",
                       description="Rewrite the `data:` section of params.yaml (keeping every comment and the other "
                                   "sections) so that `dvc repro` runs on another data set; `dvc exp run -S ...` does "
                                   "the same without touching the file for good.")
    u.add_argument("--source", required=True, choices=["synthetic", "kaggle"])
    u.add_argument("--dir", required=True, help="folder with the Kaggle CSVs (synthetic: data/synthetic/raw)")
    u.add_argument("--name", required=True, help="data set name: folders data/<name>/ and reports/<name>/")
    u.add_argument("--params", default="params.yaml", help="parameters file (default: params.yaml)")
    u.set_defaults(func=cmd_use_data)

    f = sub.add_parser("fullscale", help="run the pipeline on a Kaggle-sized synthetic data set, timing each stage",
                       description="See `hybridrec fullscale --help` for all options.", add_help=False)
    f.set_defaults(func=cmd_fullscale)

    t = sub.add_parser("timing-report", help="write reports/timing.md from pytest-benchmark JSON files",
                       description="Turn pytest-benchmark JSON files (one per machine/run, e.g. CPU and GPU) into "
                                   "the markdown timing report.")
    t.add_argument("json", nargs="+", help="pytest-benchmark --benchmark-json files")
    t.add_argument("-o", "--output", default="reports/timing.md", help="output (default: reports/timing.md)")
    t.add_argument("--fullscale", default=None, help="JSON summary of `hybridrec fullscale` to include")
    t.set_defaults(func=cmd_timing_report)


def cmd_recommend(args: argparse.Namespace) -> int:
    from tabulate import tabulate  # noqa: PLC0415

    from hybridrec import checkpoint, params  # noqa: PLC0415
    from hybridrec.device import resolve_device  # noqa: PLC0415
    from hybridrec.graph import load_inputs  # noqa: PLC0415
    from hybridrec.paths import Paths  # noqa: PLC0415
    from hybridrec.recommend import recommend  # noqa: PLC0415

    p = params.load(args.params)
    k = args.k if args.k is not None else p.evaluate.k
    if k <= 0:
        raise UserError(f"-k {k}: must be a positive number of recommendations")
    paths = Paths(p.data.name)
    ckpt = checkpoint.load(paths.paper_model)
    inputs = load_inputs(paths, ckpt.train.features)
    runner = checkpoint.restore(ckpt, inputs, resolve_device(ckpt.train.device))
    df = recommend(runner, inputs, [args.user], k)[args.user]
    print(f"Top-{k} unseen anime for user {args.user} ({p.data.name}, paper model):")
    df["genres"] = df["genres"].str.replace("|", ", ")
    print(tabulate(df[["rank", "name", "genres", "predicted_rating"]].values.tolist(),
                   headers=["#", "anime", "genres", "predicted rating"], tablefmt="simple", floatfmt=".2f"))
    return 0


def cmd_check_metrics(args: argparse.Namespace) -> int:
    from hybridrec import gate, params  # noqa: PLC0415
    from hybridrec.paths import Paths  # noqa: PLC0415

    p = params.load(args.params)
    report_dir = Paths(args.dataset or p.data.name).reports
    if args.update:
        now = gate.collect(report_dir, args.source)
        if not now:
            raise UserError(f"{report_dir}: no metrics files to take as reference (run `dvc repro` first)")
        path = gate.update_reference(report_dir, now)
        print(f"wrote {len(now)} reference metrics to {path}; commit it")
        return 0
    reference = gate.load_reference(report_dir)
    sources = args.source or sorted({k.split(".", 1)[0] for k in reference})
    reference = {k: v for k, v in reference.items() if k.split(".", 1)[0] in sources}
    now = gate.collect(report_dir, sources)
    rows = gate.compare(reference, now, p.gate.rules)
    print(gate.render(rows))
    bad = gate.failed(rows)
    print(f"\n{report_dir}: {len(rows)} metrics gated, {len(bad)} failed "
          f"({', '.join(r.metric for r in bad[:5])}{'...' if len(bad) > 5 else ''})" if bad else
          f"\n{report_dir}: {len(rows)} metrics gated, all within tolerance")
    return 1 if bad else 0


def cmd_timing_report(args: argparse.Namespace) -> int:
    from pathlib import Path  # noqa: PLC0415

    from hybridrec.reporting import timing  # noqa: PLC0415

    for f in args.json:
        if not Path(f).is_file():
            raise UserError(f"{f}: benchmark JSON not found (run pytest tests/benchmarks --benchmark-only "
                            f"--benchmark-json={f})")
    timing.write(args.output, args.json, args.fullscale)
    print(f"wrote {args.output}")
    return 0


def cmd_use_data(args: argparse.Namespace) -> int:
    import re  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    import yaml  # noqa: PLC0415

    from hybridrec import io, params  # noqa: PLC0415

    path = Path(args.params)
    text = path.read_text(encoding="utf-8")
    m = re.search(r"^data:\n((?:[ \t]+.*\n|\n)*)", text, flags=re.M)
    if not m:
        raise UserError(f"{path}: no top-level `data:` section")
    block = m.group(1)
    for key, value in (("source", args.source), ("dir", args.dir), ("name", args.name)):
        block, n = re.subn(rf"^(\s+{key}:\s*)[^#\n]*?(\s*(#.*)?)$", lambda mm: f"{mm.group(1)}{value}{mm.group(2)}",
                           block, count=1, flags=re.M)
        if n != 1:
            raise UserError(f"{path}: data.{key} not found")
    new = text[:m.start(1)] + block + text[m.end(1):]
    params.parse(yaml.safe_load(new))  # never write a file that does not load
    io.write_text(path, new)
    print(f"{path}: data.source={args.source} data.dir={args.dir} data.name={args.name}")
    return 0


def cmd_fullscale(args: argparse.Namespace) -> int:
    from hybridrec.bench import fullscale  # noqa: PLC0415

    fullscale.main(args.rest)
    return 0
