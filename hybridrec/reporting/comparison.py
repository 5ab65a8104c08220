"""reports/<dataset>/<protocol>/comparison.md: every model and ablation on the same splits, mean ± std over
replicates and seeds, ΔRMSE with replicate-user-and-seed bootstrap intervals and Holm-corrected p-values
(:mod:`hybridrec.stats`), where each model's variance comes from (split, tuning, seed), RMSE by item and user
degree, ranking with popularity correlation, and findings generated from those
statistics only (a test checks them against constructed data)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from hybridrec import io, stats, zoo
from hybridrec.reporting.common import save_figure, table
from hybridrec.reporting.replication import PAPER, mean_jaccard

COLUMNS = [("rmse", "test RMSE", "min"), ("mae", "test MAE", "min"), ("accuracy", "accuracy", "max"),
           ("within1", "within-1", "max"), ("precision", "P@k", "max"), ("recall", "R@k", "max"),
           ("ndcg", "NDCG@k", "max")]
RANKING = ("precision", "recall", "ndcg", "popularity_spearman")
POPULARITY_LIKE = 0.8  # Spearman between a model's item scores and item popularity from which it "ranks by popularity"


def aggregate(run: dict) -> dict:
    """Per-metric summaries over the runs (replicates x seeds) of one model."""
    out = {}
    for key in [c[0] for c in COLUMNS] + ["popularity_spearman"]:
        src = "ranking" if key in RANKING else "test"
        out[key] = stats.summarize([r[src].get(key, float("nan")) for r in run["runs"]])
    out["val_rmse"] = stats.summarize([r["val"]["rmse"] for r in run["runs"]])
    out["fit_seconds"] = stats.summarize([r["fit_seconds"] for r in run["runs"]])
    return out


def top_lists(run: dict) -> dict:
    """user_idx -> [(anime_idx, score)] of the first seed's top-k lists (empty when not recorded)."""
    return {int(u): rows for u, rows in (run["runs"][0].get("top") or {}).items()}


def buckets(edges: list[int]) -> list[tuple[str, int, float]]:
    """[(label, low, high)] from lower edges, e.g. [0, 1, 5] -> 0, 1-4, >=5."""
    out = []
    for i, lo in enumerate(edges):
        hi = edges[i + 1] if i + 1 < len(edges) else np.inf
        label = str(lo) if hi == lo + 1 else f"{lo}-{hi - 1}" if np.isfinite(hi) else f">={lo}"
        out.append((label, lo, hi))
    return out


VARIANCE_METRICS = ("rmse", "mae", "accuracy", "within1", "precision", "recall", "ndcg", "val_rmse")


def _metric(run: dict, key: str) -> float:
    if key == "val_rmse":
        return run["val"]["rmse"]
    return (run["ranking"] if key in RANKING else run["test"]).get(key, float("nan"))


def variance(run: dict, invariant: bool = False) -> dict:
    """metric -> :func:`stats.variance_parts` of one model's runs (per replicate, seeds nested; cross fits)."""
    n_rep = len(run.get("replicates") or [None])
    by_rep = [[r for r in run["runs"] if r.get("replicate", 0) == i] for i in range(n_rep)]
    cross = sorted(run.get("cross") or [], key=lambda r: r["replicate"])
    out = {}
    for key in VARIANCE_METRICS:
        out[key] = stats.variance_parts([[_metric(r, key) for r in rows] for rows in by_rep],
                                        [_metric(r, key) for r in cross] if cross else None,
                                        bool(run.get("settings_from_tuning", run.get("tuned"))), invariant)
    # With a few replicates the moment estimates are rough and floor at 0: one metric's tuning part can come out 0
    # while the settings do move it (seen: an ablation's validation RMSE on cold items moved 1.3% on another
    # platform, its own rerun s.e. said 0.1%, its test RMSE's 1.2%). An error metric of the same fits moves with
    # the settings about as much, relative to its size, as test RMSE does: it gets at least test RMSE's relative
    # rerun s.e.
    rmse = np.nanmean([_metric(r, "rmse") for r in run["runs"]]) if run["runs"] else float("nan")
    if np.isfinite(rmse) and rmse > 0:
        for key in ("mae", "val_rmse"):
            level = np.nanmean([_metric(r, key) for r in run["runs"]])
            if np.isfinite(level):
                out[key]["rerun_se"] = max(out[key]["rerun_se"], out["rmse"]["rerun_se"] * float(level) / rmse)
    return out


def build(runs: dict, preds: dict, reps: list[dict], p, tuning: dict, oracle: dict | None, baselines: set,
          lo: float, hi: float, invariant: set = frozenset()) -> dict:
    """All numbers of the comparison (also comparison.json, a DVC metric).

    ``preds``: name -> one [seeds, n_test] array per replicate; ``reps``: per replicate of the procedure its
    split's ``test`` rows (user_idx, anime_idx, rating, in prediction order) and ``train`` rows (for degrees);
    ``baselines``: names of the comparator models; ``lo``/``hi``: the rating range; ``invariant``: the models
    whose bits do not depend on the platform (no rerun spread for the gate).
    """
    c = p.compare
    errors = {n: [stats.user_errors(preds[n][r], rep["test"]["rating"].to_numpy(np.float64),
                                    rep["test"]["user_idx"].to_numpy(), lo, hi) for r, rep in enumerate(reps)]
              for n in runs}
    agg = {n: aggregate(r) for n, r in runs.items()}
    for n in runs:
        agg[n]["rmse_ci"] = stats.rmse_interval(errors[n], c.bootstrap_replicates, c.bootstrap_seed)
        jac = mean_jaccard([[a for a, _ in rows] for rows in top_lists(runs[n]).values()])
        agg[n]["top_jaccard"] = {"mean": jac, "std": 0.0, "ci95": float("nan"), "n": 1}
    ref, ours = c.reference, c.ours
    pairs = [(n, ref, "vs the paper's model") for n in runs if n != ref]
    # the best baseline: the lowest mean test RMSE of the finite ones (a NaN is never best)
    best_base = min((n for n in baselines if n in runs and np.isfinite(agg[n]["rmse"]["mean"])),
                    key=lambda n: agg[n]["rmse"]["mean"], default=None)
    candidates = [n for n in runs if n in c.models and c.models[n].role == "candidate"]
    if best_base:  # every candidate against the best baseline (never against another candidate)
        pairs += [(n, best_base, "candidates vs the best baseline") for n in candidates]
    pairs += [(a, b, "ablation") for a, b in c.pairs if a in runs and b in runs]
    tests = []
    for a, b, family in pairs:
        t = stats.delta_rmse(errors[a], errors[b], c.bootstrap_replicates, c.bootstrap_seed)
        tests.append({"a": a, "b": b, "family": family, **t})
    # Holm within each family of tests (one question each: every model against the paper's; ours against the
    # best baseline; the ablations)
    for family in dict.fromkeys(t["family"] for t in tests):
        members = [i for i, t in enumerate(tests) if t["family"] == family]
        rejected = stats.holm({i: tests[i]["p"] for i in members}, c.alpha)
        for i in members:
            t = tests[i]
            t["holm"] = bool(rejected[i])
            t["significant"] = stats.significant(t, rejected[i])
            t["verdict"] = stats.verdict(t, rejected[i])
    features = {n: features_of(n, p) for n in runs}
    content_pairs = [(t["a"], t["b"]) for t in tests if t["family"] == "ablation" and features[t["b"]] == []
                     and features[t["a"]]]
    return {"models": agg, "reference": ref, "ours": ours if ours in runs else None, "best_baseline": best_base,
            "candidates": candidates,
            "tests": tests, "buckets": degree_buckets(preds, reps, p, lo, hi), "oracle": oracle,
            "tuning": tuning, "baselines": sorted(baselines), "features": features, "scale": (lo, hi),
            "content": content_by_degree(content_pairs, preds, reps, p, lo, hi),
            "variance": {n: variance(runs[n], n in invariant) for n in runs}, "replicates": len(reps)}


def features_of(name: str, p) -> list | None:
    """The anime features a model reads (its family's section, then its base's and its own options), or None
    for a family without content features."""
    models = p.compare.models
    section = {"gnn": p.train, "hybrid": p.hybrid}.get(models[name].kind)
    if section is None:
        return None
    chain = [models[name]]
    while chain[-1].base:
        chain.append(models[chain[-1].base])
    feats = section.features
    for spec in reversed(chain):
        feats = spec.options.get("features", feats)
    return list(feats)


def _degrees(test, train):
    item = train.groupby("anime_idx").size().reindex(test["anime_idx"], fill_value=0).to_numpy()
    user = train.groupby("user_idx").size().reindex(test["user_idx"], fill_value=0).to_numpy()
    return {"item": item, "user": user}


def _bucket_errors(pred_reps, reps, masks, lo, hi) -> list:
    """One UserErrors per replicate restricted to its bucket's test ratings (replicates where it is empty are
    left out)."""
    return [stats.user_errors(pred[:, m], rep["test"]["rating"].to_numpy(np.float64)[m],
                              rep["test"]["user_idx"].to_numpy()[m], lo, hi)
            for pred, rep, m in zip(pred_reps, reps, masks) if m.any()]


def _bucket_masks(reps, axis: str, edges) -> list[tuple[str, list]]:
    """[(label, one boolean mask over each replicate's test ratings)] of the non-empty degree buckets."""
    degrees = [_degrees(rep["test"], rep["train"])[axis] for rep in reps]
    out = []
    for label, b_lo, b_hi in buckets(edges):
        masks = [(d >= b_lo) & (d < b_hi) for d in degrees]
        if any(m.any() for m in masks):
            out.append((label, masks))
    return out


def content_by_degree(pairs, preds, reps, p, lo, hi) -> list[dict]:
    """For each (with content, without content) pair: ΔRMSE by the anime's training ratings, Holm within the pair."""
    c = p.compare
    out = []
    for a, b in pairs:
        rows = []
        for label, masks in _bucket_masks(reps, "item", c.item_buckets):
            ea, eb = _bucket_errors(preds[a], reps, masks, lo, hi), _bucket_errors(preds[b], reps, masks, lo, hi)
            rows.append({"bucket": label, "ratings": int(sum(m.sum() for m in masks)),
                         **stats.delta_rmse(ea, eb, c.bootstrap_replicates, c.bootstrap_seed)})
        rejected = stats.holm({r["bucket"]: r["p"] for r in rows}, c.alpha)
        for r in rows:
            r["significant"] = stats.significant(r, rejected[r["bucket"]])
            r["verdict"] = stats.verdict(r, rejected[r["bucket"]])
        out.append({"a": a, "b": b, "buckets": rows})
    return out


def degree_buckets(preds, reps, p, lo, hi) -> dict:
    """Test RMSE (with bootstrap CI) of every model by the item's and by the user's number of training ratings
    (ratings counted over every replicate's test set)."""
    c = p.compare
    out = {}
    for axis, edges in (("item", c.item_buckets), ("user", c.user_buckets)):
        rows = []
        for label, masks in _bucket_masks(reps, axis, edges):
            users = {int(u) for rep, m in zip(reps, masks) for u in rep["test"]["user_idx"].to_numpy()[m]}
            row = {"bucket": label, "ratings": int(sum(m.sum() for m in masks)), "users": len(users), "models": {}}
            for n, pr in preds.items():
                row["models"][n] = stats.rmse_interval(_bucket_errors(pr, reps, masks, lo, hi),
                                                       c.bootstrap_replicates, c.bootstrap_seed)
            rows.append(row)
        out[axis] = rows
    return out


def fmt_cell(s: dict, deterministic: bool) -> str:
    if not np.isfinite(s["mean"]):
        return "–"
    if s["n"] == 1:
        return f"{s['mean']:.4f}" + (" (det.)" if deterministic else "")
    return f"{s['mean']:.4f} ± {s['std']:.4f}"


def best_of(names, agg, key, how):
    """The best model for a metric; NaN is never best (None when every value is NaN)."""
    finite = [n for n in names if np.isfinite(agg[n][key]["mean"])]
    return (min if how == "min" else max)(finite, key=lambda n: agg[n][key]["mean"]) if finite else None


def _ci(t: dict) -> str:
    return f"{t['delta']:+.4f} [{t['ci_low']:+.4f}, {t['ci_high']:+.4f}]"


def findings(res: dict, runs: dict, p) -> list[str]:
    """Sentences generated from the statistics; each verdict is the one of :func:`stats.verdict`."""
    agg, ref = res["models"], res["reference"]
    label = {n: runs[n]["label"] for n in runs}
    by_rmse = sorted(agg, key=lambda n: (not np.isfinite(agg[n]["rmse"]["mean"]), agg[n]["rmse"]["mean"]))
    best = by_rmse[0]
    out = [f"- Lowest mean test RMSE: **{label[best]}** ({agg[best]['rmse']['mean']:.4f}); the paper's model "
           f"({label[ref]}) has {agg[ref]['rmse']['mean']:.4f}, rank {by_rmse.index(ref) + 1} of {len(by_rmse)}."]
    vs_ref = [t for t in res["tests"] if t["family"] == "vs the paper's model"]
    groups = {"significantly better than": [], "significantly worse than": [], "not significantly different from": []}
    for t in vs_ref:
        key = ("not significantly different from" if not t["significant"] else
               "significantly better than" if t["delta"] < 0 else "significantly worse than")
        groups[key].append(label[t["a"]])
    out.append(f"- Against the paper's model (ΔRMSE with a replicate-user-and-seed bootstrap, Holm over these "
               f"{len(vs_ref)} tests, alpha={p.compare.alpha}): "
               + "; ".join(f"{k} it: {', '.join(v) or 'none'}" for k, v in groups.items()) + ".")
    for t in res["tests"]:
        if t["family"] != "candidates vs the best baseline":
            continue
        base = agg[t["b"]]["rmse"]["mean"]
        rel = f" ({t['delta'] / base:+.1%})" if base > 0 else ""  # a baseline with RMSE 0 (constant ratings)
        out.append(f"- **{label[t['a']]} against the best baseline ({label[t['b']]})**: {t['verdict']}, "
                   f"ΔRMSE {_ci(t)}{rel}.")
    acc = best_of(agg, agg, "accuracy", "max")
    out.append(f"- Highest exact-match accuracy: {label[acc]} ({agg[acc]['accuracy']['mean']:.3f}); the paper reports "
               f"a test accuracy of {PAPER['test_accuracy']}.")
    out += _ranking_findings(res, label, p)
    for t in res["tests"]:
        if t["family"] == "ablation":
            out.append(f"- {label[t['a']]} vs {label[t['b']]}: {t['verdict']} (ΔRMSE {_ci(t)}, p={t['p']:.2g}).")
    for t in res["tests"]:
        if t["family"] == "ablation" and res["features"].get(t["b"]) == ["genres"] and "synopsis" in res["features"].get(t["a"], []):
            out.append(f"- **Do synopsis embeddings help over genres alone ({label[t['a']]} vs {label[t['b']]})?** "
                       + (f"Yes on this data: with them the test RMSE is lower by {-t['delta']:.4f}, significantly."
                          if t["significant"] and t["delta"] < 0 else
                          f"No on this data: genres alone give a test RMSE lower by {t['delta']:.4f}, significantly."
                          if t["significant"] else
                          f"Not demonstrably on this data: ΔRMSE {_ci(t)} is not significant."))
    out += bucket_findings(res, label)
    edges = [f"{label[n]}: {', '.join(f'{o} ({e})' for o, e in t['edges'].items())}"
             for n, t in res["tuning"].items() if t.get("edges") and n in label]
    if edges:
        out.append(f"- Tuned values on an edge of their search space (the space may be too narrow): {'; '.join(edges)}.")
    if res["oracle"]:
        gap = agg[best]["rmse"]["mean"] - res["oracle"]["rmse"]
        out.append(f"- The best model is {gap:.4f} RMSE above the irreducible floor of the synthetic data "
                   f"(oracle {res['oracle']['rmse']:.4f}).")
    return out


def _ranking_findings(res, label, p) -> list[str]:
    agg = res["models"]
    k = p.evaluate.k
    best = best_of(agg, agg, "ndcg", "max")
    if best is None:
        return [f"- Ranking (NDCG@{k}): no test rating reaches the relevance threshold; not measured."]
    pop_like = [n for n in agg if np.isfinite(agg[n]["popularity_spearman"]["mean"])
                and agg[n]["popularity_spearman"]["mean"] >= POPULARITY_LIKE]
    rho = agg[best]["popularity_spearman"]["mean"]
    out = [f"- Best top-{k} ranking (NDCG@{k}): {label[best]} ({agg[best]['ndcg']['mean']:.4f}; Spearman of its item "
           f"scores with item popularity {rho:.2f}" + (", i.e. it ranks by popularity)." if best in pop_like else ").")]
    if pop_like:
        out.append(f"- Popularity-like rankers (Spearman >= {POPULARITY_LIKE} between item scores and training "
                   f"popularity): {', '.join(label[n] for n in pop_like)}.")
    return out


def bucket_findings(res, label) -> list[str]:
    out = []
    for axis, what in (("item", "anime's"), ("user", "user's")):
        parts = []
        for row in res["buckets"].get(axis, []):
            m = row["models"]
            best = min(m, key=lambda n: m[n]["rmse"])
            parts.append(f"{row['bucket']} training ratings: {label[best]} ({m[best]['rmse']:.3f}, n={row['ratings']})")
        if parts:
            out.append(f"- Lowest test RMSE by the {what} number of training ratings: " + "; ".join(parts) + ".")
    return out


def write(out_dir: Path, res: dict, runs: dict, p, protocol: str, split_infos: list[dict], source,
          unseen: dict, anime=None, users=None, temp=None, extra=None) -> None:
    """comparison.md and its figures, all renamed into place together or none (``temp``: the temporary-path
    function of an :func:`hybridrec.io.atomic_files` block the caller holds; ``extra``: more files of the same
    set, path -> text, e.g. comparison.json). ``unseen``: model -> what it predicts for an unseen user/item;
    ``anime`` (anime_idx, name, genres) and ``users`` (user_idx -> user_id) name the top-k lists."""
    if temp is None:
        with io.atomic_files() as temp:
            return write(out_dir, res, runs, p, protocol, split_infos, source, unseen, anime, users, temp, extra)
    out_dir = Path(out_dir)
    agg = res["models"]
    names = list(runs)
    best = {key: best_of(names, agg, key, how) for key, _, how in COLUMNS}
    rows = []
    for n in names:
        row = [runs[n]["label"]]
        for key, _, _ in COLUMNS:
            cell = fmt_cell(agg[n][key], runs[n]["deterministic"])
            row.append(f"**{cell}**" if best[key] == n else cell)
        ci = agg[n]["rmse_ci"]
        rho = agg[n]["popularity_spearman"]["mean"]
        row += [f"[{ci['ci_low']:.3f}, {ci['ci_high']:.3f}]", f"{rho:.2f}" if np.isfinite(rho) else "–",
                f"{agg[n]['fit_seconds']['mean']:.1f}", agg[n]["rmse"]["n"]]
        rows.append(row)
    blank = ["–"] * (len(COLUMNS) + 4)
    paper_row = ["paper (published, MAL, 800 users)"] + blank
    paper_row[3] = f"{PAPER['test_accuracy']}"
    rows.append(paper_row)
    if res["oracle"]:
        o = res["oracle"]
        rows.append(["oracle: true expected rating (synthetic)", f"{o['rmse']:.4f}", f"{o['mae']:.4f}",
                     f"{o['accuracy']:.4f}", f"{o['within1']:.4f}"] + ["–"] * 7)
    k = p.evaluate.k
    headers = (["model"] + [h.replace("@k", f"@{k}") for _, h, _ in COLUMNS]
               + ["RMSE 95% CI", "popularity ρ", "fit s", "runs"])
    rows = [[str(c) for c in r] for r in rows]
    c = p.compare
    info = split_infos[0]
    R = len(split_infos)
    counts = info["counts"]
    protocol_line = {
        "random": f"- Protocol `random`: a seeded {1 - p.split.val - p.split.test:.0%}/{p.split.val:.0%}/"
                  f"{p.split.test:.0%} split of the subset's ratings (replicate 0: {info['moved_note']}).",
        "cold_items": f"- Protocol `cold_items`: {p.split.val:.0%} + {p.split.test:.0%} of the anime are held out "
                      f"with all their ratings for validation and test (replicate 0: {info['anime']['val']} + "
                      f"{info['anime']['test']} anime): every test anime is unseen in training and has no edge in "
                      f"the message-passing graph; its content features remain ({info['moved_note']}).",
        "given": lambda: (
            f"- Protocol `given`: the test ratings are those of `{p.split.given_test}` "
            f"({info.get('given', {}).get('file', p.split.given_test)}: {info.get('given', {}).get('found', 0):,} of "
            f"its {info.get('given', {}).get('pairs', 0):,} pairs are ratings of this data"
            + (f", {info['given']['not_in_data']:,} are not" if info.get("given", {}).get("not_in_data") else "")
            + f"); validation is a seeded {p.split.val:.0%} of the other ratings, carved anew in each replicate, and "
              "nothing of the test file reaches training or tuning. The test set is the same in every replicate: "
              "**it has no split variance**; the split part of the variance below is the validation carve's "
              f"({info['moved_note']})."),
        "folds": lambda: (
            f"- Protocol `folds`: {R}-fold cross-validation, one fold assignment shared by every model "
            f"({info.get('folds_from', '?')}); replicate r tests on fold r + 1 and carves a seeded "
            f"{p.split.val:.0%} of the other folds for validation. Every number is the mean ± std over the folds "
            f"(and seeds); the split part of the variance is the folds' ({info['moved_note']})."),
        "temporal": lambda: (
            f"- Protocol `temporal`: each user's last {p.split.temporal_k} rating(s) by timestamp are test and the "
            f"{p.split.temporal_k} before them validation, so no user is trained on a rating later than one they "
            "are tested on. The split is the same in every replicate (it has no randomness): **no split variance**; "
            f"replicates differ in tuning and seeds ({info['moved_note']})."),
    }[protocol]
    protocol_line = protocol_line() if callable(protocol_line) else protocol_line
    split_list = "; ".join(f"r{i}: seed {si['seed']}, `{si['sha256'][:12]}…`, {si['counts']['train']:,}/"
                           f"{si['counts']['val']:,}/{si['counts']['test']:,}" for i, si in enumerate(split_infos))
    L = [f"# Comparison on `{p.data.name}`, protocol `{protocol}`: the paper's model, tuned baselines and ablations",
         "", "Generated by `dvc repro` (stages `compare@<protocol>`, `comparison@<protocol>`); every number is "
         "measured.", ""] + source.report_note() + ["## Protocol", "",
         f"- {R} replicate(s) of the whole procedure (`compare.replicates`, after Bouthillier et al., \"Accounting "
         "for Variance in Machine Learning Benchmarks\", MLSys 2021). Replicate r has its own "
         + {"given": "validation carve (seed split.seed + r; the test set is given)", "folds": "fold (r + 1)",
            "temporal": "copy of the one temporal split"}.get(protocol, "split (seed split.seed + r)")
         + f", its own tuning (seed {c.tuning_seed} + r) and its own training seeds nested inside it "
         f"({list(c.seeds)} + 1000 r). Every model reads the same split within a replicate, so models are paired "
         f"there. Splits (train/validation/test ratings): {split_list}. Replicate 0 "
         f"(`data/{p.data.name}/split/{protocol}.parquet`) is the paper model's split. Train on train, tune on "
         f"validation, report test. Predictions clamped to the rating range ({res['scale'][0]:g}..{res['scale'][1]:g}) "
         "for every model.", protocol_line,
         roles_line(res, runs, p),
         "- Seeds change model initialisation/sampling (not the split); deterministic models (det.) run once per "
         f"replicate. Cells: mean ± std over the {R} replicate(s) x seeds (runs: how many).",
         f"- Tuning: every tunable model gets the same budget of {c.tuning_trials} fits per replicate, on validation "
         f"RMSE over the search spaces of params.yaml (log scales where they span decades; they contain the library "
         f"defaults). The first fit is the defaults; Optuna's TPE sampler chooses the next "
         f"{c.tuning_trials - c.tuning_confirm - 1}; a seeded model's last {c.tuning_confirm} fits re-evaluate the best "
         "search trials (the defaults among them) on a second training seed, and the choice is the lowest two-seed "
         f"mean, the defaults kept when that gain is within {zoo.NOISE_SE:g} standard errors of the seed noise the "
         "pairs show (a deterministic model searches with the whole budget). The paper preset is *not* tuned (it is "
         "the replication); ablations start from their base model's tuned settings of the same replicate and change "
         "one thing.",
         f"- Ranking: for each test user, every anime not rated in training or validation is ranked (full ranking); "
         f"relevant = test rating >= {res['scale'][1] - p.evaluate.relevant_share * (res['scale'][1] - res['scale'][0]):g} "
         f"(the top {p.evaluate.relevant_share:.0%} of the rating scale {res['scale'][0]:g}..{res['scale'][1]:g}); "
         "averaged over users with a relevant test rating. "
         "popularity ρ: Spearman correlation between a model's mean score per anime and the anime's number of "
         "training ratings.",
         f"- Statistics: ΔRMSE (A - B) = mean over replicates and seeds of the paired test RMSE difference (the "
         f"table's means), 95% interval and p-value from {c.bootstrap_replicates:,} hierarchical bootstrap replicates "
         f"(seed {c.bootstrap_seed}) that resample the replicates of the procedure (the split's and the tuning's "
         "variance), within each the test *users* (with all their ratings: ratings of a user are not independent), "
         "and the seeds (training variance); the p-value is the one the interval inverts. Holm's correction within "
         "each family of tests below (every model against the paper's; each candidate against the best baseline; "
         f"the ablations), alpha = {c.alpha}. A difference is called significant only when Holm rejects, the interval "
         "excludes 0 and every replicate's ΔRMSE has the same sign (replicates that disagree are never "
         "significant); better/worse is the sign of ΔRMSE. Assumed: users are exchangeable draws from the "
         "population the subset represents. How each model's variance splits into split, tuning and seed is "
         "measured below (\"Where the variance comes from\")."
         + ("" if R > 1 else " With one replicate the split's and the tuning's variance are **not** measured: "
            "set compare.replicates >= 3."), "",
         "## Results (test set)", "", table(rows, headers, numparse=False), "",
         "Best value per column in bold (a missing value is never best). RMSE 95% CI: the same bootstrap.", "",
         "![test RMSE with 95% CI](rmse_ci.png)", ""]
    L += range_notes(runs, res["scale"])
    L += _tests_section(res, runs)
    L += variance_section(res, runs)
    L += _bucket_section(res, runs)
    L += ["## Findings (generated from the statistics above)", ""] + findings(res, runs, p) + [""]
    L += content_section(res, runs, protocol)
    L += recommendations_section(res, runs, p, anime, users)
    L += _unseen_section(runs, unseen)
    L += _hyper_section(res, runs)
    L += source.anchors(res, runs, protocol)
    plot(out_dir / "rmse_ci.png", agg, runs, res["oracle"], f"{p.data.name} ({protocol})", temp)
    plot_buckets(out_dir / "rmse_by_degree.png", res, runs, f"{p.data.name} ({protocol})", temp)
    temp(out_dir / "comparison.md").write_text("\n".join(L), encoding="utf-8")
    for path, text in (extra or {}).items():
        temp(path).write_text(text, encoding="utf-8")


def range_notes(runs, scale) -> list[str]:
    """Which models predicted outside the rating range (clamped for every metric; an infinite prediction is
    clamped too) or NaN (such a run's metrics are NaN), counted over every run's test predictions."""
    lines = []
    for name, run in runs.items():
        total = sum(int(r["test"].get("n", 0)) for r in run["runs"])
        out = sum((r.get("out_of_range") or {}).get("test", 0) for r in run["runs"])
        bad = sum((r.get("nan") or {}).get("test", 0) for r in run["runs"])
        if out or bad:
            parts = ([f"{out:,} outside {scale[0]:g}..{scale[1]:g} (clamped)"] if out else []) + \
                    ([f"{bad:,} NaN (those runs' metrics are NaN)"] if bad else [])
            lines.append(f"- {run['label']}: of {total:,} test predictions over {len(run['runs'])} run(s), "
                         + " and ".join(parts) + ".")
    if not lines:
        return []
    return ["Predictions outside the rating range (`score` returns raw ratings; every metric clamps them):", ""] \
        + lines + [""]


def roles_line(res, runs, p) -> str:
    """The Protocol bullet naming each model's role and the Holm families they make."""
    models = p.compare.models
    by_role = {r: [runs[n]["label"] for n in runs if n in models and models[n].role == r]
               for r in ("paper", "baseline", "candidate", "ablation")}
    n_ref, n_cand, n_abl = (sum(t["family"] == f for t in res["tests"])
                            for f in ("vs the paper's model", "candidates vs the best baseline", "ablation"))
    best = runs[res["best_baseline"]]["label"] if res.get("best_baseline") else "none"
    absent = [(a, b) for a, b in p.compare.pairs if a not in runs or b not in runs]
    return (f"- Roles (each compare.models entry's `role`; where it names none: compare.reference is the paper's "
            f"model, an entry with `base` an ablation, otherwise its family's default: the comparators (global mean, "
            f"most popular, Surprise, Cornac) baselines, the GNN and ours candidates): paper: "
            f"{', '.join(by_role['paper']) or 'none'}; baselines: {', '.join(by_role['baseline']) or 'none'}; "
            f"candidates: {', '.join(by_role['candidate']) or 'none'}; ablations: "
            f"{', '.join(by_role['ablation']) or 'none'}. Holm families: every model against the paper's "
            f"({n_ref} tests); each candidate against the best baseline ({best}; {n_cand} tests; never a candidate "
            f"against another); the ablation pairs of compare.pairs ({n_abl} tests)."
            + (f" Pairs of compare.pairs with a model not compared on this protocol (not tested here): "
               f"{', '.join(f'{a} vs {b}' for a, b in absent)}." if absent else ""))


def _tests_section(res, runs) -> list[str]:
    label = {n: runs[n]["label"] for n in runs}
    L = []
    for family, title in (("vs the paper's model", "Each model against the paper's model"),
                          ("candidates vs the best baseline", "Each candidate against the best baseline"),
                          ("ablation", "Ablation pairs")):
        ts = sorted((t for t in res["tests"] if t["family"] == family), key=lambda t: t["delta"])
        if not ts:
            continue
        trows = [[f"{label[t['a']]} vs {label[t['b']]}", f"{t['delta']:+.4f}", f"[{t['ci_low']:+.4f}, {t['ci_high']:+.4f}]",
                  f"{t['p']:.2g}", " ".join(f"{d:+.3f}" for d in t.get("per_replicate", [])),
                  "yes" if t.get("sign_agree", True) else "no", t["verdict"]] for t in ts]
        L += [f"## {title}", "", f"ΔRMSE = RMSE(A) - RMSE(B): negative means A is better. Holm over the {len(ts)} "
              "tests of this table; per replicate: each replicate's ΔRMSE.", "",
              table(trows, ["A vs B", "ΔRMSE", "95% CI", "p", "per replicate", "same sign", "verdict (Holm)"],
                    numparse=False), ""]
    return L


def variance_section(res, runs) -> list[str]:
    """Per model: how the variance of one run's test RMSE splits into split, tuning and seed; how often the
    replicates' tunings agree."""
    R = res["replicates"]
    if R < 2:
        return ["## Where the variance comes from", "",
                "One replicate: the split's and the tuning's variance are not measured (compare.replicates >= 3 "
                "measures them).", ""]
    rows = []
    for n in runs:
        v = res["variance"][n]["rmse"]
        tot = v["total"]
        share = (lambda x: f"{x / tot:.0%}") if tot > 0 else (lambda x: "–")
        rows.append([runs[n]["label"], f"{np.sqrt(tot):.4f}", f"{np.sqrt(v['split']):.4f} ({share(v['split'])})",
                     f"{np.sqrt(v['tuning']):.4f} ({share(v['tuning'])})" if runs[n].get("settings_from_tuning")
                     else "– (fixed settings)",
                     f"{np.sqrt(v['seed']):.4f} ({share(v['seed'])})" if v["seeds"] > 1 else "– (det.)",
                     f"{v['rerun_se']:.4f}"])
    L = ["## Where the variance comes from", "",
         f"The standard deviation of one run's test RMSE and its parts (variance shares in brackets), from the {R} "
         "replicates (method of moments on the nested design, each part floored at 0): **seed** = the spread of "
         "the seeds within a replicate; **split** = the spread over replicates of fits that share replicate 0's "
         "settings (its first seed, and those settings refitted once on each other replicate's split), less the "
         "seed part; **tuning** = the spread of the replicate means less the split and seed parts (a model with "
         "fixed settings has none). With few replicates each part is a rough estimate. rerun s.e.: the standard "
         "error of the table's mean under a rerun of the same splits with other rounding (tuning + seed parts; 0 "
         "for a deterministic model and for one whose bits do not depend on the CPU's kernels: Surprise's "
         "algorithms and Cornac MF, compiled loops without BLAS), which the gate uses on another platform; MAE and "
         "validation RMSE get at least test RMSE's rerun s.e. relative to their size (one metric's tuning part "
         "can come out 0 by chance with few replicates).", "",
         table(rows, ["model", "sd of a run", "split", "tuning", "seed", "rerun s.e. of the mean"],
               numparse=False), ""]
    trows = []
    for n in runs:
        t = res["tuning"].get(n)
        if not t or "agreement" not in t:
            continue
        a = t["agreement"]
        per = ", ".join(f"{k} {v:.0%}" for k, v in a["per_option"].items())
        trows.append([runs[n]["label"], f"{a['agree']}/{a['pairs']}", per,
                      f"{t.get('kept_defaults', 0)}/{len(t.get('replicates', []))}"])
    if trows:
        L += [f"How often the replicates' tunings agree: pairs of replicates whose chosen settings match in every "
              f"option (a range option within {zoo.AGREE_SHARE:.0%} of its width, on its log scale where it has one), "
              "the share of agreeing pairs per option, and in how many replicates the defaults were kept.", "",
              table(trows, ["model", "agreeing pairs", "per option", "defaults kept"], numparse=False), ""]
    return L


def _bucket_section(res, runs) -> list[str]:
    L = ["## Where the data is thin: RMSE by number of training ratings", "",
         "Test RMSE (mean over replicates and seeds) with its 95% bootstrap interval, by how many training ratings the "
         "test rating's "
         "anime (first table) or user (second) has; n = test ratings in the bucket.", ""]
    for axis, what in (("item", "anime"), ("user", "user")):
        rows_b = res["buckets"].get(axis, [])
        if not rows_b:
            continue
        headers = ["model"] + [f"{what} {r['bucket']} (n={r['ratings']:,})" for r in rows_b]
        body = []
        for n in runs:
            cells = []
            best = {r["bucket"]: min(r["models"], key=lambda m: r["models"][m]["rmse"]) for r in rows_b}
            for r in rows_b:
                m = r["models"][n]
                cell = f"{m['rmse']:.3f} [{m['ci_low']:.3f}, {m['ci_high']:.3f}]"
                cells.append(f"**{cell}**" if best[r["bucket"]] == n else cell)
            body.append([runs[n]["label"]] + cells)
        L += [table(body, headers, numparse=False), ""]
    L += ["![RMSE by degree](rmse_by_degree.png)", ""]
    return L


def content_section(res, runs, protocol) -> list[str]:
    """"When does content help?": each with-content model against its no-content ablation, by anime degree."""
    label = {n: runs[n]["label"] for n in runs}
    L = ["## When does content help?", "",
         f"Each model that reads anime content against the same model without it (protocol `{protocol}`): ΔRMSE = "
         "with - without (negative: content helps), by the anime's number of training ratings, with the same "
         "bootstrap; Holm within each pair.", ""]
    ceiling = res.get("content_ceiling")
    if ceiling:
        gain = ceiling["mean_user_bias"] - ceiling["true_theme_ridge"]
        L += [f"How much content *can* help here (synthetic data: the generator knows each anime's themes): the global "
              f"mean + a shrunk user bias has test RMSE {ceiling['mean_user_bias']:.4f}; adding, per user, a ridge "
              f"regression (lambda {ceiling['lambda']:g}) on each anime's *true* dominant theme gives "
              f"{ceiling['true_theme_ridge']:.4f}, a gain of {gain:.4f}. That is about the most any anime content "
              "could add on this split beyond what the ratings already say (the generator's anime bias is mostly "
              "idiosyncratic: `anime_bias_sd` 0.8 against `theme_quality_sd` 0.3), so differences between content "
              "features smaller than that are within what the data can show.", ""]
    if not res["content"]:
        return L + ["No (with content, without content) pair is among `compare.pairs`.", ""]
    for pair in res["content"]:
        rows = [[r["bucket"], r["ratings"], f"{r['delta']:+.4f}", f"[{r['ci_low']:+.4f}, {r['ci_high']:+.4f}]",
                 f"{r['p']:.2g}", r["verdict"]] for r in pair["buckets"]]
        overall = next(t for t in res["tests"] if (t["a"], t["b"]) == (pair["a"], pair["b"]))
        helps = [r["bucket"] for r in pair["buckets"] if r["significant"] and r["delta"] < 0]
        hurts = [r["bucket"] for r in pair["buckets"] if r["significant"] and r["delta"] > 0]
        L += [f"**{label[pair['a']]} vs {label[pair['b']]}**", "",
              table(rows, ["anime's training ratings", "test ratings", "ΔRMSE", "95% CI", "p", "verdict"],
                    numparse=False), "",
              f"Overall: content is {overall['verdict'].replace('better', 'helpful').replace('worse', 'harmful')} "
              f"(ΔRMSE {_ci(overall)}). Significantly helpful for anime with "
              + (f"{', '.join(helps)} training ratings" if helps else "none of these numbers of training ratings")
              + (f"; significantly harmful for anime with {', '.join(hurts)} training ratings" if hurts else "")
              + ".", ""]
    return L


def recommendations_section(res, runs, p, anime, users) -> list[str]:
    """How personal each model's top-k lists are, and ours' lists for the report's users (paper Figure 3)."""
    k = p.evaluate.k
    rows = [[runs[n]["label"], f"{res['models'][n]['top_jaccard']['mean']:.2f}"] for n in runs
            if np.isfinite(res["models"][n]["top_jaccard"]["mean"])]
    if not rows:
        return []
    L = ["## Recommendations: how personal are the top-10 lists?", "",
         f"Each model's top-{k} unseen anime (rated in no split) for the users of paper Figure 3 (replicate 0, first "
         "seed); the "
         "mean pairwise Jaccard overlap of their lists: 1 means everyone gets the same list, 0 that no two share "
         "an anime.", "", table(rows, ["model", f"mean pairwise Jaccard of the top-{k} lists"], numparse=False), ""]
    ours = res["ours"]
    if ours and anime is not None:
        names = anime.set_index("anime_idx")
        lo, hi = res["scale"]
        clamped = 0
        for u, items in top_lists(runs[ours]).items():
            # a ranking score outside the rating range (a family that ranks by raw scores) is shown clamped
            clamped += sum(not lo <= s <= hi for _, s in items)
            trows = [[i + 1, names.at[a, "name"], str(names.at[a, "genres"]).replace("|", ", "),
                      f"{min(max(s, lo), hi):.3f}"] for i, (a, s) in enumerate(items)]
            L += [f"**{runs[ours]['label']}: user {users.get(u, u) if users else u}**", "",
                  table(trows, ["#", "anime", "genres", "predicted rating"], numparse=False), ""]
        if clamped:
            L += [f"{clamped} listed score(s) lay outside the rating range {lo:g}..{hi:g} and are shown clamped to "
                  "it (the ranking used the raw scores).", ""]
    return L


def _unseen_section(runs, unseen) -> list[str]:
    rows = [[runs[n]["label"], unseen.get(n, {}).get("consumes", "–"), unseen.get(n, {}).get("unseen_item", "–")]
            for n in runs]
    return ["## What each model reads, and what it predicts for an anime unseen in training", "",
            table(rows, ["model", "consumes", "unseen anime"], numparse=False), ""]


def _hyper_section(res, runs) -> list[str]:
    hrows = []
    for n in runs:
        tuned = res["tuning"].get(n)
        if tuned:
            chosen = ", ".join(f"{k}={_short(v)}" + (f" ({tuned['edges'][k]} edge)" if k in tuned.get("edges", {}) else "")
                               for k, v in tuned["best"].items())
            others = "; ".join(f"r{t['replicate']}: " + ", ".join(f"{k}={_short(v)}" for k, v in t["best"].items())
                               for t in tuned.get("replicates", [])[1:])
            hrows.append([runs[n]["label"], "tuned (r0): " + chosen + (f" [{others}]" if others else ""),
                          f"val RMSE {tuned['best_val_rmse']:.4f} (r0; {tuned.get('selection', 'best trial')})"])
        else:
            s = runs[n]["settings"]
            shown = ", ".join(f"{k}={_short(v)}" for k, v in s.items() if k not in ("device", "seed")) or "defaults"
            hrows.append([runs[n]["label"], "fixed", shown])
    return ["## Hyperparameters", "", "Chosen in replicate 0 (r0), the other replicates' choices in brackets.", "",
            table(hrows, ["model", "chosen", "settings / tuning"], numparse=False), ""]


def _short(v):
    return f"{v:.3g}" if isinstance(v, float) else v


def metrics_json(res: dict, runs: dict, prov: dict) -> dict:
    """comparison.json: the means the gate reads, every test, each metric's variance parts (``spread``: the
    gate's tolerance on another platform comes from ``rerun_se``) and what produced them."""
    models = {n: {k: v["mean"] for k, v in a.items() if k not in ("fit_seconds", "rmse_ci")} for n, a in
              res["models"].items()}
    tests = {f"{t['a']} vs {t['b']}": {"delta": t["delta"], "ci_low": t["ci_low"], "ci_high": t["ci_high"],
                                       "p": t["p"], "significant": t["significant"],
                                       "per_replicate": t.get("per_replicate"), "verdict": t["verdict"]}
             for t in res["tests"]}
    spread = {n: {k: {part: v[part] for part in ("split", "tuning", "seed", "rerun_se")} for k, v in parts.items()}
              for n, parts in res["variance"].items()}
    return {"models": models, "tests": tests, "spread": spread, "replicates": res["replicates"], "provenance": prov}


def plot(path, agg, runs, oracle, name, temp=None) -> None:
    # a model whose mean RMSE is NaN (it predicted NaN) has no bar; the tables say so
    names = sorted((n for n in agg if np.isfinite(agg[n]["rmse"]["mean"])), key=lambda n: agg[n]["rmse"]["mean"],
                   reverse=True)
    means = [agg[n]["rmse"]["mean"] for n in names]
    # a bootstrap interval need not contain the mean (one user: every resample is that user): never a negative bar
    err = np.nan_to_num(np.maximum(0.0, np.array([[m - agg[n]["rmse_ci"]["ci_low"], agg[n]["rmse_ci"]["ci_high"] - m]
                                                  for n, m in zip(names, means)]).reshape(-1, 2).T))
    fig, ax = plt.subplots(figsize=(8, 0.38 * len(names) + 1.2))
    colors = ["#55a868" if runs[n]["kind"] == "hybrid" else "#c44e52" if runs[n]["kind"] == "gnn" else "#4c72b0"
              for n in names]
    ax.barh([runs[n]["label"] for n in names], means, xerr=err, color=colors, capsize=3)
    if oracle:
        ax.axvline(oracle["rmse"], color="k", ls="--", lw=1, label="oracle (irreducible)")
        ax.legend(loc="lower right")
    ends = means + ([oracle["rmse"]] if oracle else [])
    if ends:
        ax.set_xlim(left=min(ends) * 0.9)
    ax.set_xlabel("test RMSE (mean over replicates and seeds, 95% replicate-user-seed bootstrap CI)")
    ax.set_title(f"{name}: hybrid (green), GNNs (red), baselines (blue)")
    save_figure(fig, path, temp)


def plot_buckets(path, res, runs, name, temp=None) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, axis in zip(axes, ("item", "user")):
        rows_b = res["buckets"].get(axis, [])
        x = np.arange(len(rows_b))
        for n in runs:
            y = [r["models"][n]["rmse"] for r in rows_b]
            style = "-" if runs[n]["kind"] in ("hybrid", "gnn") else ":"
            ax.plot(x, y, style, marker="o", ms=3, label=runs[n]["label"])
        ax.set_xticks(x, [f"{r['bucket']}\n(n={r['ratings']})" for r in rows_b], fontsize=7)
        ax.set_xlabel(f"training ratings of the test rating's {'anime' if axis == 'item' else 'user'}")
        ax.set_ylabel("test RMSE")
    axes[1].legend(fontsize=6, loc="best")
    fig.suptitle(f"{name}: test RMSE by degree")
    save_figure(fig, path, temp)
