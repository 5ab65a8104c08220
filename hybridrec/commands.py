"""The ``hybridrec`` subcommands a user runs by hand (the DVC stages live in ``stages/``)."""

from __future__ import annotations

import argparse

from hybridrec.errors import UserError


def register(sub) -> None:
    r = sub.add_parser("recommend", help="print the top-k unseen anime for a user, by any model of the comparison",
                       description="Print the top-k anime a user has rated in no split, ranked by a model: `paper` "
                                   "(the trained checkpoint models/<dataset>/paper/model.pt) or any name of "
                                   "compare.models (fitted here on the random split with its tuned settings and the "
                                   "first seed, a few seconds). Default: the model with the lowest mean test RMSE "
                                   "in reports/<dataset>/random/comparison.json. Run `dvc repro` first.")
    r.add_argument("--user", type=int, required=True, help="user_id as in rating_complete.csv")
    r.add_argument("--model", default=None, help="paper, or a name of compare.models (default: the best model)")
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
    g.add_argument("--only", action="append", default=[], metavar="GLOB",
                   help="gate only the metrics matching this glob (repeatable), e.g. 'comparison.random.hybrid.*' when "
                        "a run compared fewer models than the reference holds")
    g.add_argument("--update", action="store_true",
                   help="write the current metrics as the new reference instead of checking (on purpose only)")
    g.add_argument("--platform", choices=["auto", "same", "other"], default="auto",
                   help="auto (default): compare this run's platform fingerprint with the reference's; same: the "
                        "rules' tolerances; other: tolerances widened by the reference's measured rerun spread")
    g.add_argument("--params", default="params.yaml", help="parameters file (default: params.yaml)")
    g.set_defaults(func=cmd_check_metrics)

    st = sub.add_parser("stability", help="count how a fresh run's verdicts and gate compare with the committed ones",
                        description="Compare the verdicts of reports/<dataset>/<protocol>/comparison.json (a fresh "
                                    "`dvc repro`, e.g. with the SSE4 kernel set exported) with the committed ones, "
                                    "run the gate against the committed reference, and write the counts into "
                                    "reports/stability.md. Exits 1 when a verdict turned into its opposite or the "
                                    "gate failed.")
    st.add_argument("--dataset", default=None, help="data set name (default: data.name from params.yaml)")
    st.add_argument("--rev", default="HEAD", help="git revision holding the committed reports (default: HEAD)")
    st.add_argument("--reference-dir", default=None,
                    help="instead of git: a folder holding the committed reports/<dataset>/ files")
    st.add_argument("--command", default="", help="the command line that produced the fresh run (for the report)")
    st.add_argument("--params", default="params.yaml", help="parameters file (default: params.yaml)")
    st.set_defaults(func=cmd_stability)

    u = sub.add_parser("use-data", help="point params.yaml's data section at another data set",
                       description="Rewrite the `data:` section of params.yaml (keeping every comment and the other "
                                   "sections) so that `dvc repro` runs on another data set; `dvc exp run -S ...` does "
                                   "the same without touching the file for good.")
    u.add_argument("--source", required=True, choices=["synthetic", "kaggle", "movielens"],
                   help="synthetic (the embedded generator), kaggle (the MyAnimeList 2020 CSVs), movielens "
                        "(GroupLens's ML-100K u.data/u.item, ML-1M ratings.dat/movies.dat, or RecBole's "
                        "ml-100k.inter/.item; also sets subset.n_users: all, as benchmarks use every user)")
    u.add_argument("--dir", required=True, help="folder with the source's files (synthetic: data/synthetic/raw)")
    u.add_argument("--name", required=True, help="data set name: folders data/<name>/ and reports/<name>/")
    u.add_argument("--params", default="params.yaml", help="parameters file (default: params.yaml)")
    u.set_defaults(func=cmd_use_data)

    n = sub.add_parser("new-model", help="add your own model family: its module, params entry and test",
                       description="Write a tunable model family (hybridrec/recommenders/NAME.py; baselines/NAME.py "
                                   "with --role baseline), its compare.models entry in params.yaml (role, protocols, "
                                   "options, a search range; comments kept) and tests/test_NAME.py. It starts as an "
                                   "item mean with a user bias whose shrinkage is tuned: the next `dvc repro` runs "
                                   "it (and nothing else again) and writes its verdicts against the paper's model "
                                   "and the best baseline into reports/<dataset>/<protocol>/comparison.md. Then "
                                   "replace its fit and score with your model. Never overwrites anything.")
    n.add_argument("name", help="the model's name: module, params entry and kind (e.g. item_user_bias)")
    n.add_argument("--role", choices=["candidate", "baseline"], default="candidate",
                   help="candidate (default): tested against the paper's model and the best baseline; baseline: "
                        "a comparator that candidates must beat")
    n.add_argument("--protocols", default="random",
                   help="comma-separated protocols it runs in (default: random; add cold_items for unseen anime)")
    n.add_argument("--params", default="params.yaml", help="parameters file (default: params.yaml)")
    n.set_defaults(func=cmd_new_model)

    f = sub.add_parser("fullscale", help="run the pipeline on a Kaggle-sized synthetic data set, timing each stage",
                       description="See `hybridrec fullscale --help` for all options.", add_help=False)
    f.set_defaults(func=cmd_fullscale)

    t = sub.add_parser("timing-report", help="write reports/timing.md from pytest-benchmark JSON files",
                       description="Turn pytest-benchmark JSON files (one per machine/run, e.g. CPU and GPU) into "
                                   "the markdown timing report.")
    t.add_argument("json", nargs="+", help="pytest-benchmark --benchmark-json files")
    t.add_argument("-o", "--output", default="reports/timing.md", help="output (default: reports/timing.md)")
    t.add_argument("--fullscale", default=None, help="JSON summary of `hybridrec fullscale` to include")
    t.add_argument("--pipeline", action="append", default=[],
                   help="JSON of `hybridrec time-repro` to include (repeatable: e.g. before and after)")
    t.set_defaults(func=cmd_timing_report)

    r2 = sub.add_parser("time-repro", help="run `dvc repro` and time every stage and every model",
                        description="See `hybridrec time-repro --help`.", add_help=False)
    r2.set_defaults(func=cmd_time_repro)


def cmd_recommend(args: argparse.Namespace) -> int:
    from tabulate import tabulate  # noqa: PLC0415

    from hybridrec import checkpoint, io, params  # noqa: PLC0415
    from hybridrec.device import resolve_device  # noqa: PLC0415
    from hybridrec.graph import load_inputs  # noqa: PLC0415
    from hybridrec.paths import Paths  # noqa: PLC0415
    from hybridrec.recommend import recommend, user_index  # noqa: PLC0415

    p = params.load(args.params)
    k = args.k if args.k is not None else p.evaluate.k
    if k <= 0:
        raise UserError(f"-k {k}: must be a positive number of recommendations")
    paths = Paths(p.data.name)
    # an unknown user fails at once, before a model is loaded or fitted (every model recommends from this split)
    user_index(io.read_parquet(paths.split_file(), ["user_idx", "user_id"]).drop_duplicates(), args.user)
    model = args.model or best_model(paths)
    if model == "paper":
        ckpt = checkpoint.load(paths.paper_model)
        inputs = load_inputs(paths, ckpt.train.features)
        runner = checkpoint.restore(ckpt, inputs, resolve_device(ckpt.train.device))
        df = recommend(runner, inputs, [args.user], k)[args.user]
        label = "paper model"
    else:
        df, label = recommend_with(p, paths, model, args.user, k)
    print(f"Top-{k} unseen anime for user {args.user} ({p.data.name}, {label}):")
    df["genres"] = df["genres"].str.replace("|", ", ")
    print(tabulate(df[["rank", "name", "genres", "predicted_rating"]].values.tolist(),
                   headers=["#", "anime", "genres", "predicted rating"], tablefmt="simple", floatfmt=".2f"))
    if len(df) < k:
        print(f"note: only {len(df)} anime are unrated by user {args.user} in every split (asked for -k {k})")
    return 0


def best_model(paths) -> str:
    """The model with the lowest mean test RMSE of the random protocol's comparison (paper when none ran)."""
    from hybridrec import io  # noqa: PLC0415

    path = paths.comparison("random")
    if not path.exists():
        return "paper"
    models = io.read_json(path).get("models", {})
    return min(models, key=lambda n: models[n]["rmse"]) if models else "paper"


def recommend_with(p, paths, name: str, user_id: int, k: int):
    """(top-k DataFrame, label) of compare.models[name] fitted on the random split with its tuned settings."""
    import numpy as np  # noqa: PLC0415
    import pandas as pd  # noqa: PLC0415

    from hybridrec import io, zoo  # noqa: PLC0415
    from hybridrec.recommend import user_index  # noqa: PLC0415

    from hybridrec.params import protocol_models  # noqa: PLC0415

    if name not in p.compare.models:
        raise UserError(f"--model {name!r}: not paper nor a name of compare.models ({', '.join(p.compare.models)})")
    on_random = protocol_models(p, "random")
    if name not in on_random:
        raise UserError(f"--model {name}: not compared on protocol random (its `protocols` or compare.protocols), "
                        f"whose split and tuning recommend uses; one of: {', '.join(on_random)}")
    data = zoo.split_data(paths, "random")
    users = pd.concat([data.train, data.val, data.test])[["user_idx", "user_id"]].drop_duplicates()
    u = user_index(users, user_id)
    tuning = io.read_json(paths.tuning("random"))["models"] if paths.tuning("random").exists() else {}
    ctx = zoo.Context(p, {n: t["best"] for n, t in tuning.items()})
    if p.compare.models[name].search and name not in tuning:
        raise UserError(f"--model {name}: no tuned settings in {paths.tuning('random')} (run `dvc repro` first)")
    predictor = zoo.build(name, ctx).fit(data, p.compare.seeds[0])
    scores = np.array(predictor.rank_scores(data.n_users, data.n_anime)[u], dtype=np.float64)
    for part in (data.train, data.val, data.test):
        scores[part.loc[part["user_idx"] == u, "anime_idx"].to_numpy()] = -np.inf
    best = [a for a in np.argsort(-scores, kind="stable")[:k] if np.isfinite(scores[a])]
    rated = predictor.score(np.full(len(best), u), np.array(best))
    anime = io.read_parquet(paths.subset / "anime.parquet", ["anime_idx", "name", "genres"]).set_index("anime_idx")
    df = pd.DataFrame({"rank": np.arange(1, len(best) + 1), "name": anime.loc[best, "name"].to_numpy(),
                       "genres": anime.loc[best, "genres"].to_numpy(), "predicted_rating": data.scale.clamp(rated)})
    return df, p.compare.models[name].label


def cmd_check_metrics(args: argparse.Namespace) -> int:
    from hybridrec import gate, params  # noqa: PLC0415
    from hybridrec.fingerprint import describe  # noqa: PLC0415
    from hybridrec.paths import Paths  # noqa: PLC0415

    p = params.load(args.params)
    if args.dataset is not None and params.data_name_problem(args.dataset):
        raise UserError(f"--dataset {args.dataset!r}: {params.data_name_problem(args.dataset)}")
    report_dir = Paths(args.dataset or p.data.name).reports
    gate.check_rules(p.gate.rules)
    devices, platforms, spreads = {}, {}, {}
    if args.update:
        now = gate.collect(report_dir, args.source, devices, platforms, spreads)
        gate.check_new_reference(now, p.gate.rules, report_dir)
        now = {k: v for k, v in now.items() if gate.rule_for(k, p.gate.rules)}  # the reference holds gated metrics
        device = gate.device_of(devices, report_dir)
        platform = gate.platform_of(platforms, report_dir)
        path = gate.update_reference(report_dir, now, device, platform, spreads)
        print(f"wrote {len(now)} reference metrics (made on {device}, {describe(platform)}; rerun spread of "
              f"{sum(k in spreads for k in now)}) to {path}; commit it")
        return 0
    reference = gate.load_reference(report_dir)
    sources = args.source or sorted({k.split(".", 1)[0] for k in reference})
    reference = {k: v for k, v in reference.items() if k.split(".", 1)[0] in sources}
    prefixes = {}
    now = gate.collect(report_dir, sources, devices, platforms, prefixes=prefixes)
    if args.only:
        import fnmatch  # noqa: PLC0415

        def keep(m):
            return any(fnmatch.fnmatch(m, g) for g in args.only)

        reference, now = {k: v for k, v in reference.items() if keep(k)}, {k: v for k, v in now.items() if keep(k)}
        if not reference:
            raise UserError(f"--only {' '.join(args.only)}: matches none of the reference metrics")
        # only the files the selected metrics come from: a pipeline that re-ran some protocols (CI) leaves the
        # others' committed files, which may come from another machine
        used = {f for f, prefix in prefixes.items() if any(m.startswith(prefix + ".") for m in [*reference, *now])}
        devices = {f: d for f, d in devices.items() if f in used}
        platforms = {f: v for f, v in platforms.items() if f in used}
    gate.check_device(gate.reference_device(report_dir), devices)
    ref_platform, ref_spread = gate.reference_extras(report_dir)
    now_platform = gate.platform_of(platforms, report_dir)
    same = ref_platform is not None and ref_platform == now_platform
    if args.platform != "auto":
        same = args.platform == "same"
    print(f"platform: {describe(now_platform)}; reference: {describe(ref_platform)}")
    print("same platform as the reference: the tolerances of gate.rules" if same else
          f"another platform than the reference's: tolerances widened to max(rule, {p.gate.platform_z:g} * sqrt(2) * "
          "rerun s.e.) from the reference's measured spread\n")
    rows = gate.compare(reference, now, p.gate.rules, None if same else ref_spread, p.gate.platform_z)
    gate.check_gated(rows, p.gate.rules, set(reference) | set(now), report_dir)
    print(gate.render(rows))
    unmatched = gate.unmatched_rules(p.gate.rules, set(reference) | set(now))
    if unmatched:
        print(f"\nnote: gate.rules matching none of these metrics: {', '.join(unmatched)}")
    bad = gate.failed(rows)
    print(f"\n{report_dir}: {len(rows)} metrics gated, {len(bad)} failed "
          f"({', '.join(r.metric for r in bad[:5])}{'...' if len(bad) > 5 else ''})" if bad else
          f"\n{report_dir}: {len(rows)} metrics gated, all within tolerance")
    return 1 if bad else 0


def cmd_stability(args: argparse.Namespace) -> int:
    from pathlib import Path  # noqa: PLC0415

    from hybridrec import params, stability  # noqa: PLC0415

    p = params.load(args.params)
    dataset = args.dataset or p.data.name
    if params.data_name_problem(dataset):
        raise UserError(f"--dataset {dataset!r}: {params.data_name_problem(dataset)}")
    ref_dir = Path(args.reference_dir) if args.reference_dir else None
    if ref_dir is not None and not ref_dir.is_dir():
        raise UserError(f"--reference-dir {ref_dir}: not a folder")
    r = stability.run(dataset, p, args.rev, ref_dir, args.command)
    print("\n".join(stability.render_section(r)))
    opposite = sum(c["opposite"] for c in r["protocols"].values())
    print(f"wrote {stability.STABILITY_MD}")
    return 1 if opposite or r["gate"]["failed"] else 0


def cmd_timing_report(args: argparse.Namespace) -> int:
    from pathlib import Path  # noqa: PLC0415

    from hybridrec.reporting import timing  # noqa: PLC0415

    for f in args.json:
        if not Path(f).is_file():
            raise UserError(f"{f}: benchmark JSON not found (run pytest tests/benchmarks --benchmark-only "
                            f"--benchmark-json={f})")
    if args.fullscale is not None and not Path(args.fullscale).is_file():
        raise UserError(f"{args.fullscale}: fullscale summary not found (run `hybridrec fullscale --out "
                        f"{args.fullscale}`)")
    for f in args.pipeline:
        if not Path(f).is_file():
            raise UserError(f"{f}: pipeline timing not found (run `hybridrec time-repro --out {f}`)")
    timing.write(args.output, args.json, args.fullscale, args.pipeline)  # checks every input before writing anything
    print(f"wrote {args.output}")
    return 0


def _yaml_scalar(value: str) -> str:
    """``value`` as a YAML scalar: plain where YAML reads it back unchanged, else double-quoted."""
    import json  # noqa: PLC0415

    import yaml  # noqa: PLC0415

    try:
        plain = "#" not in value and "\n" not in value and yaml.safe_load(f"k: {value}\n") == {"k": value}
    except yaml.YAMLError:
        plain = False
    return value if plain else json.dumps(value)  # a JSON string is a YAML double-quoted scalar


def _reports_source(paths) -> tuple[str, str] | None:
    """(file, data.source) recorded in the provenance of existing reports of a data set, if any."""
    import json  # noqa: PLC0415

    for f in (paths.metrics, paths.train_info):
        try:
            source = json.loads(f.read_text(encoding="utf-8"))["provenance"]["params"]["data"]["source"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if isinstance(source, str):
            return str(f), source
    return None


def cmd_use_data(args: argparse.Namespace) -> int:
    import re  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    import yaml  # noqa: PLC0415

    from hybridrec import io, params  # noqa: PLC0415
    from hybridrec.paths import Paths  # noqa: PLC0415

    problem = params.data_name_problem(args.name)
    if problem:
        raise UserError(f"--name {args.name!r}: {problem}")
    if args.name == "synthetic" and args.source != "synthetic":
        raise UserError(f"--name synthetic belongs to --source synthetic (its reports are committed); name the "
                        f"{args.source} data set otherwise")
    path = Path(args.params)
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    download = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("data", {}).get("download") is True
    data_dir = Path(args.dir) if Path(args.dir).is_absolute() else path.resolve().parent / args.dir
    if args.source == "kaggle" and not download:  # the files must be there now, not fail later in `dvc repro`
        from hybridrec.data import ensure_files  # noqa: PLC0415

        ensure_files(data_dir)
    elif args.source == "movielens":
        from hybridrec.movielens import layout  # noqa: PLC0415

        layout(data_dir)
    existing = _reports_source(Paths(args.name, root=path.resolve().parent))
    if existing and existing[1] != args.source:
        raise UserError(f"--name {args.name}: {Paths(args.name).reports} holds reports of data.source = "
                        f"{existing[1]} ({Path(existing[0]).name}); --source {args.source} would overwrite them: "
                        "choose another --name")
    text = path.read_text(encoding="utf-8")
    m = re.search(r"^data:\n((?:[ \t]+.*\n|\n)*)", text, flags=re.M)
    if not m:
        raise UserError(f"{path}: no top-level `data:` section")
    block = m.group(1)
    wanted = {"source": args.source, "dir": args.dir, "name": args.name}
    for key, value in wanted.items():
        value = _yaml_scalar(value)
        block, n = re.subn(rf"^(\s+{key}:\s*)[^#\n]*?(\s*(#.*)?)$", lambda mm: f"{mm.group(1)}{value}{mm.group(2)}",
                           block, count=1, flags=re.M)
        if n != 1:
            raise UserError(f"{path}: data.{key} not found")
    new = text[:m.start(1)] + block + text[m.end(1):]
    if args.source == "movielens":  # a benchmark data set: every user (the published numbers use all of them)
        new, n = re.subn(r"^(subset:\n(?:[ \t]+.*\n|\n)*?[ \t]+n_users:[ \t]*)[^#\n]*?([ \t]*(#.*)?)$",
                         lambda mm: f"{mm.group(1)}all{mm.group(2)}", new, count=1, flags=re.M)
        if n != 1:
            raise UserError(f"{path}: subset.n_users not found")
    try:  # never write a file that does not load, or loads other values than asked for
        params.check_unique_keys(new, path)
        raw = yaml.safe_load(new)
    except yaml.YAMLError as e:
        raise UserError(f"{path}: the rewritten data section is not valid YAML ({str(e).splitlines()[0]})") from None
    params.parse(raw)
    got = {k: raw["data"].get(k) for k in wanted}
    if got != wanted or (args.source == "movielens" and raw["subset"]["n_users"] != "all"):
        raise UserError(f"{path}: could not rewrite the data section faithfully (it would read {got}); "
                        "edit it by hand")
    io.write_text(path, new)
    print(f"{path}: data.source={args.source} data.dir={args.dir} data.name={args.name}"
          + (" subset.n_users=all" if args.source == "movielens" else ""))
    return 0


def cmd_new_model(args: argparse.Namespace) -> int:
    from pathlib import Path  # noqa: PLC0415

    from hybridrec.newmodel import new_model  # noqa: PLC0415

    path = Path(args.params)
    written = new_model(args.name, args.role, [x.strip() for x in args.protocols.split(",") if x.strip()],
                        root=path.resolve().parent, params_file=path.name)
    module, params_file, test = written
    print(f"wrote {module}, the entry compare.models.{args.name} in {params_file} and {test}\n"
          f"next: pytest {test}  then  dvc repro   (verdicts in reports/<dataset>/<protocol>/comparison.md)")
    return 0


def cmd_time_repro(args: argparse.Namespace) -> int:
    from hybridrec.bench import pipeline  # noqa: PLC0415

    pipeline.main(args.rest)
    return 0


def cmd_fullscale(args: argparse.Namespace) -> int:
    from hybridrec.bench import fullscale  # noqa: PLC0415

    fullscale.main(args.rest)
    return 0
