"""Family ``kind: gnn``: the paper's GraphSAGE (any variant of the `train` section) behind the shared
interface. ``options`` override the `train` section (none = the paper preset); ``base: <name>`` starts from
another gnn entry's *tuned* settings, so an ablation changes one thing and keeps everything else."""

from __future__ import annotations

import dataclasses
import typing

import numpy as np

from hybridrec.errors import ParamsError
from hybridrec.params import Train, check_type
from hybridrec.predictors import RatingPredictor, SplitData


def train_config(base_train: Train, overrides: dict, name: str) -> Train:
    raw = {**dataclasses.asdict(base_train), **overrides}
    try:
        return check_type(raw, Train, "train")
    except ParamsError as e:
        raise ParamsError(f"{e} (in compare.models.{name})") from None


class GraphSAGEPredictor(RatingPredictor):
    """The paper's GNN (any variant) behind the shared interface."""

    kind = "gnn"
    spec_keys = ("options", "search", "base")

    def __init__(self, cfg: Train, label: str):
        self.cfg, self.name = cfg, label

    @classmethod
    def check_spec(cls, spec, key: str) -> None:
        hints = typing.get_type_hints(Train)
        for opt, values in [(o, [v]) for o, v in spec.options.items()] + [(o, d.values()) for o, d in spec.search.items()]:
            if opt not in hints:
                raise ParamsError(f"params.yaml: {key}: unknown train option {opt!r} (known: {', '.join(sorted(hints))})")
            for v in values:
                check_type(v, hints[opt], f"{key}.{opt}")

    @classmethod
    def describe(cls, spec) -> dict:
        features = spec.options.get("features")
        return {"consumes": "training ratings (graph) + anime features of `train.features` "
                            + (f"({', '.join(features) or 'none: identity'})" if features is not None else
                               "(the `train` section's)"),
                "unseen_item": "its own features through the layers' root weights, no neighbours (with identity "
                               "features: an untrained weight column, i.e. noise)"}

    @classmethod
    def from_spec(cls, spec, ctx, override: dict | None = None):
        overrides = {}
        if spec.base:
            overrides.update(ctx.models[spec.base].options)
            overrides.update(ctx.tuned.get(spec.base, {}))
        overrides.update(spec.options)
        overrides.update(ctx.tuned.get(spec.name, {}))
        overrides.update(override or {})
        return cls(train_config(ctx.train, overrides, spec.name), spec.label)

    def settings(self) -> dict:
        return dataclasses.asdict(self.cfg)

    def fit(self, data: SplitData, seed: int):
        from hybridrec.device import resolve_device  # noqa: PLC0415 (torch only when a GNN is fitted)
        from hybridrec.training import fit  # noqa: PLC0415

        cfg = dataclasses.replace(self.cfg, seed=seed)
        self.inputs = data.graph_inputs(tuple(cfg.features))
        self.trained = fit(self.inputs, cfg, resolve_device(cfg.device), progress=False)
        return self

    def score(self, users, anime):
        import torch  # noqa: PLC0415

        from hybridrec.inference import predict  # noqa: PLC0415

        eli = torch.as_tensor(np.stack([np.asarray(users), np.asarray(anime)]), dtype=torch.long)
        return predict(self.trained.runner, eli)

    def score_matrix(self, n_users, n_anime):
        from hybridrec.inference import score_matrix  # noqa: PLC0415

        out = score_matrix(self.trained.runner)
        assert out.shape == (n_users, n_anime), (out.shape, n_users, n_anime)
        return out
