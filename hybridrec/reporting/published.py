"""Our numbers beside published ones on MovieLens-100K: the GNN leaderboard on the canonical u1.base/u1.test
split, and Surprise's own 5-fold table. Every published number carries its citation and the protocol it was
measured under; where ours differs (a validation set carved from the training ratings, tuned settings), the
section says so."""

from __future__ import annotations

import numpy as np

from hybridrec.reporting.common import table

# (model, test RMSE, source, how it was measured); ML-100K, u1.base / u1.test (80,000 / 20,000 ratings)
U1 = [
    ("MC (nuclear norm)", 0.973, "as reported by Monti, Bronstein & Bresson, NeurIPS 2017", "u1.base/u1.test"),
    ("sRGCNN", 0.929, "Monti, Bronstein & Bresson, NeurIPS 2017", "u1.base/u1.test"),
    ("GC-MC", 0.910, "van den Berg, Kipf & Welling, arXiv 1706.02263 (2017)", "u1.base/u1.test"),
    ("GC-MC + side features", 0.905, "van den Berg, Kipf & Welling (2017)", "u1.base/u1.test"),
    ("IGMC", 0.905, "Zhang & Chen, ICLR 2020", "u1.base/u1.test"),
    ("Sparse FC", 0.895, "Muller, Weitzel & Vidal, ICML 2018", "u1.base/u1.test"),
    ("GLocal-K", 0.8889, "Han, Lee, Kim, Kim & Poon, CIKM 2021", "u1.base/u1.test"),
]
# Surprise's README table: ML-100K, 5-fold cross-validation, each algorithm with its default settings
SURPRISE_5FOLD = {"SVD": 0.934, "SVDpp": 0.919, "KNNBaseline": 0.931, "BaselineOnly": 0.944, "NMF": 0.963,
                  "SlopeOne": 0.946, "NormalPredictor": 1.518}
SURPRISE_SOURCE = "Surprise's README (Hug, JOSS 2020), ML-100K, 5-fold CV, default settings"
WITHIN = 0.01  # how close our Surprise rows must come to Surprise's own table (or the section says why not)
GOALS = {"ours": 0.905, "sage_tuned": 0.915}  # the suite's own targets on u1 (beside GC-MC and IGMC)


def is_ml100k(res: dict) -> bool:
    """The comparison ran on ML-100K's full 943 users x 1,682 movies (the published numbers need all of them)."""
    return res.get("shape") == (943, 1682)


def _rows(res, runs, names):
    agg = res["models"]
    return {n: agg[n]["rmse"] for n in names if n in agg and np.isfinite(agg[n]["rmse"]["mean"])}


def section(res: dict, runs: dict, p, protocol: str) -> list[str]:
    """"Against published results": on `given` with u1.test, our models beside the GNN leaderboard; on
    `folds` (5, the canonical u1..u5), our Surprise rows beside Surprise's table. Empty elsewhere."""
    if not is_ml100k(res):
        return []
    models = p.compare.models
    ours = _rows(res, runs, runs)
    L = ["## Against published results", ""]
    if protocol == "given" and p.split.given_test == "u1.test":
        L += ["Published test RMSE on ML-100K's canonical u1.base/u1.test beside ours on the same test ratings "
              "(`given`, split.given_test = u1.test). **Where the protocols differ**: we carve a seeded "
              f"{p.split.val:.0%} of u1.base for validation (tuning and early stopping) and train on the rest "
              "(72,000 ratings), in each of the replicates; the papers train on all of u1.base and tune as each "
              "describes (GC-MC and IGMC hold out 10% of u1.base for their hyperparameter search, then train on all "
              "of it). Our content features are the movie's \"title (year)\" MiniLM embedding and genre flags "
              "(MovieLens has no synopsis); GC-MC's side features are user and item features of its own.", ""]
        rows = [[name, f"{rmse:.4f}", src, how] for name, rmse, src, how in U1]
        rows += [[f"**{runs[n]['label']}** (this suite)", f"{s['mean']:.4f} ± {s['std']:.4f}",
                  f"this suite, {res['replicates']} replicate(s) x seeds", "u1.test; validation carved from u1.base"]
                 for n, s in sorted(ours.items(), key=lambda kv: kv[1]["mean"])]
        L += [table(rows, ["model", "test RMSE", "source", "protocol"], numparse=False), ""]
        ref = dict((name, r) for name, r, _, _ in U1)["GC-MC"]
        for n in (p.compare.reference, "sage_tuned", p.compare.ours):
            if n in ours:
                goal = GOALS.get("ours" if n == p.compare.ours else n)
                L.append(f"- {runs[n]['label']}: {ours[n]['mean']:.4f}, {ours[n]['mean'] - ref:+.4f} against GC-MC's "
                         f"{ref}" + ("" if goal is None else
                                     f"; the goal of <= {goal} is {'met' if ours[n]['mean'] <= goal else 'missed by '}"
                                     + ("" if ours[n]['mean'] <= goal else f"{ours[n]['mean'] - goal:.4f}")) + ".")
        missed = [n for n in ("sage_tuned", p.compare.ours) if n in ours
                  and ours[n]["mean"] > GOALS["ours" if n == p.compare.ours else n]]
        if missed:
            L.append(f"- What was tried for the missed goals: the suite's own tuning, the same for every model "
                     f"({p.compare.tuning_trials} fits per replicate over the search spaces of params.yaml, the best "
                     f"re-fitted on a second seed), {res['replicates']} replicates. Not tried: training the final fit on "
                     "all of u1.base (the validation carve stays out of training in every protocol here, where the "
                     "papers refit on it), a larger tuning budget or wider spaces for MovieLens, and GC-MC's "
                     "rating-typed message passing in the GNN.")
        L.append("")
    elif protocol == "folds" and res["replicates"] == 5:
        L += [f"Our Surprise models beside {SURPRISE_SOURCE}. **Where the protocols differ**: our folds are GroupLens's "
              f"canonical u1..u5 (Surprise's `cross_validate` draws its own 5 folds); we carve a seeded "
              f"{p.split.val:.0%} of each training part for validation, so every model trains on 72% of the ratings "
              "instead of 80%; and the tuned rows use the settings their tuning chose, not the defaults. Rows "
              "marked *defaults* run Surprise's default settings, as its table does.", ""]
        rows, far, knn = [], [], []
        for n, s in sorted(ours.items(), key=lambda kv: kv[1]["mean"]):
            spec = models.get(n)
            if spec is None or spec.kind != "surprise" or spec.algo not in SURPRISE_5FOLD:
                continue
            published = SURPRISE_5FOLD[spec.algo]
            tuned = bool(spec.search)
            gap = s["mean"] - published
            tag = "tuned" if tuned else "defaults"
            label = runs[n]["label"] if f"({tag})" in runs[n]["label"] else f"{runs[n]['label']} ({tag})"
            if spec.algo == "KNNBaseline":
                knn.append(runs[n]["label"])
            rows.append([label, f"{s['mean']:.4f} ± {s['std']:.4f}",
                         f"{published:.3f}", f"{gap:+.4f}", "yes" if abs(gap) <= WITHIN else "no"])
            if not tuned and abs(gap) > WITHIN:
                far.append(runs[n]["label"])
        L += [table(rows, ["model", "ours: test RMSE, mean ± std over folds", "Surprise's table", "difference",
                           f"within {WITHIN}"], numparse=False), ""]
        if far:
            L += [f"- Defaults more than {WITHIN} from Surprise's table: {', '.join(far)}. The cause we can name: "
                  "training on 72% instead of 80% of the ratings (the validation carve) raises every error a "
                  "little, most for the models with the most parameters per rating.", ""]
        if knn:
            L += [f"- {', '.join(knn)}: item-based similarity (the suite's KNNBaseline supports item-based only); "
                  "Surprise's table runs its default, user-based KNNBaseline, so that row compares two different "
                  "neighbourhoods.", ""]
    else:
        return []
    return L
