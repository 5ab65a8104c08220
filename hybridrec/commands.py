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


def cmd_recommend(args: argparse.Namespace) -> int:
    from tabulate import tabulate  # noqa: PLC0415

    from hybridrec import params  # noqa: PLC0415
    from hybridrec.features import resolve_device  # noqa: PLC0415
    from hybridrec.graph import load_inputs  # noqa: PLC0415
    from hybridrec.paths import Paths  # noqa: PLC0415
    from hybridrec.recommend import recommend  # noqa: PLC0415
    from hybridrec.training import load_checkpoint  # noqa: PLC0415

    p = params.load(args.params)
    k = args.k if args.k is not None else p.evaluate.k
    if k <= 0:
        raise UserError(f"-k {k}: must be a positive number of recommendations")
    paths = Paths(p.data.name)
    inputs = load_inputs(paths, p.train.features)
    runner, _ = load_checkpoint(paths.models / "paper" / "model.pt", inputs, resolve_device(p.train.device))
    df = recommend(runner, inputs, [args.user], k)[args.user]
    print(f"Top-{k} unseen anime for user {args.user} ({p.data.name}, paper model):")
    df["genres"] = df["genres"].str.replace("|", ", ")
    print(tabulate(df[["rank", "name", "genres", "predicted_rating"]].values.tolist(),
                   headers=["#", "anime", "genres", "predicted rating"], tablefmt="simple", floatfmt=".2f"))
    return 0
