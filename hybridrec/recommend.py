"""Top-k recommendations (paper §5, Figure 3): rank every anime a user has not rated by predicted rating."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hybridrec.errors import UserError
from hybridrec.graph import GraphInputs
from hybridrec.inference import topk


def rated_by_user(inputs: GraphInputs, users=None) -> dict:
    """user_idx -> set of anime_idx the user rated in any split (never recommended back); only for
    ``users`` (user_idx values) when given, so a few users of a huge graph cost little."""
    import numpy as np  # noqa: PLC0415

    out: dict = {}
    for eli, _ in inputs.edges.values():
        u, a = eli[0].numpy(), eli[1].numpy()
        if users is not None:
            keep = np.isin(u, np.asarray(list(users)))
            u, a = u[keep], a[keep]
        for uu, aa in zip(u.tolist(), a.tolist()):
            out.setdefault(uu, set()).add(aa)
    return out


def user_index(users: pd.DataFrame, user_id: int) -> int:
    """The user_idx of ``user_id`` in ``users`` (user_idx, user_id); a one-line error naming the known ids."""
    match = users.loc[users["user_id"] == user_id, "user_idx"]
    if match.empty:
        ids = users["user_id"]
        raise UserError(f"unknown user {user_id}: the trained subset holds {len(ids)} users with ids "
                        f"{ids.min()}..{ids.max()} (e.g. {', '.join(map(str, ids.head(5)))})")
    return int(match.iloc[0])


def recommend(runner, inputs: GraphInputs, user_ids, k: int, rated: dict | None = None) -> dict:
    """user_id -> DataFrame(rank, anime_id, name, genres, score, predicted_rating) of its top-k unseen anime.

    ``score`` is the model's raw output (the ranking key); ``predicted_rating`` clamps it to the rating scale.
    """
    idx = [user_index(inputs.users, u) for u in user_ids]
    rated = rated if rated is not None else rated_by_user(inputs, idx)
    tops = topk(runner, idx, rated, k)
    anime = inputs.anime.set_index("anime_idx")
    out = {}
    for u, (a_idx, score) in zip(user_ids, tops):
        rows = anime.loc[a_idx]
        out[int(u)] = pd.DataFrame({"rank": np.arange(1, len(a_idx) + 1), "anime_id": rows["anime_id"].to_numpy(),
                                    "name": rows["name"].to_numpy(), "genres": rows["genres"].to_numpy(),
                                    "score": score.round(3), "predicted_rating": inputs.scale.clamp(score).round(3)})
    return out


def pick_users(users: pd.DataFrame, wanted, n: int = 4) -> list[int]:
    """The wanted user ids that exist in ``users`` (user_idx, user_id), topped up with the first users."""
    present = set(users["user_id"].tolist())
    out = [u for u in wanted if u in present]
    for u in users.sort_values("user_idx")["user_id"]:
        if len(out) >= n:
            break
        if u not in out:
            out.append(int(u))
    return out[:max(n, len(out))]
