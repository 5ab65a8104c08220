"""One face for every rating predictor in the suite (Surprise's: fit / predict / test).

GraphSAGE variants and the Surprise baselines alike implement :class:`RatingPredictor`, so tuning,
evaluation, ranking metrics and reports never special-case a model. A predictor class is also a *model
family* of the comparison (registered in :mod:`hybridrec.registry`): its class methods check a
``compare.models`` entry when params load and build the predictor from it.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, field

import numpy as np

from hybridrec import metrics

if typing.TYPE_CHECKING:  # annotations only: loading params.yaml imports this module, and must stay cheap
    import pandas as pd


@dataclass
class SplitData:
    """The shared split: train/val/test ratings (user_idx, anime_idx, rating) and the graph inputs.

    ``graph_inputs(features)`` gives the GNN its node features and ``item_text()`` every anime's synopsis in
    anime_idx order (for text-aware models); other models ignore them.
    """

    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame
    n_users: int
    n_anime: int
    graph_inputs: object = None  # callable(features) -> GraphInputs
    item_text: object = None  # callable() -> list[str], one synopsis per anime_idx
    scale: metrics.Scale = metrics.MAL  # the data's rating scale (the preprocess stage fixes it)
    extra: dict = field(default_factory=dict)


class RatingPredictor:
    """Base class: subclasses implement ``fit`` and ``score`` (raw predicted ratings for index arrays).

    As a family: ``kind`` (its name in params.yaml), ``spec_keys`` (the optional ModelSpec keys it takes
    beyond ``kind`` and ``label``), ``check_spec`` (raise ParamsError for a bad entry), ``default_label`` and
    ``from_spec`` (a fresh predictor for an entry, given the build context of :mod:`hybridrec.zoo`).
    """

    kind = ""
    spec_keys: tuple = ()
    name = "predictor"
    deterministic = False  # True when the seed does not change the model
    # Tuning may set ``report`` to a callable(step, value): a family that trains iteratively calls it through
    # :meth:`report_validation` with its best validation RMSE so far, so a pruner can stop a hopeless trial
    # (it raises optuna.TrialPruned). ``prune_after``: steps before any pruning (None: the family never reports).
    report = None
    prune_after: int | None = None
    # the role of an entry that names none and is neither compare.reference nor an ablation (params.ROLES)
    default_role = "candidate"

    def report_validation(self, step: int, value: float) -> None:
        if self.report is not None:
            self.report(step, value)

    @classmethod
    def check_spec(cls, spec, key: str) -> None:
        """Raise :class:`~hybridrec.errors.ParamsError` (naming ``key``) for an entry this family cannot run."""

    @classmethod
    def default_label(cls, spec) -> str:
        return spec.name

    @classmethod
    def platform_invariant(cls, spec) -> bool:
        """True when the model's numbers, tuning included, do not depend on the CPU's kernels: compiled scalar
        loops with no BLAS, no vector math library and no torch (a rerun on another platform reproduces its bits;
        the gate keeps its tight tolerance there). False (the default) for anything that runs torch or BLAS."""
        return bool(cls.deterministic)

    @classmethod
    def defaults(cls, spec) -> dict:
        """The library's own values of the options an entry may tune (tuning tries them first)."""
        return {}

    @classmethod
    def describe(cls, spec) -> dict:
        """For the reports: what the model ``consumes`` and what it predicts for an ``unseen_item``."""
        return {"consumes": "ratings", "unseen_item": "not documented"}

    @classmethod
    def from_spec(cls, spec, ctx, override: dict | None = None) -> "RatingPredictor":
        """A fresh predictor for ``spec``; ``ctx`` holds the `train` section, every spec and the tuned settings;
        ``override`` are settings to try (a tuning trial)."""
        out = cls()
        out.name = spec.label
        return out

    def fit(self, data: SplitData, seed: int) -> "RatingPredictor":
        raise NotImplementedError

    def settings(self) -> dict:
        """The hyperparameters this predictor runs with (for the reports)."""
        return {}

    def score(self, users: np.ndarray, anime: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def predict(self, pairs: pd.DataFrame) -> np.ndarray:
        """Raw predictions for the (user_idx, anime_idx) rows of ``pairs``."""
        return np.asarray(self.score(pairs["user_idx"].to_numpy(), pairs["anime_idx"].to_numpy()), np.float64)

    def test(self, pairs: pd.DataFrame, scale: metrics.Scale) -> dict:
        """RMSE / MAE / accuracy / within-1 on ``pairs`` (predictions clamped to the rating ``scale``)."""
        return metrics.rating_metrics(self.predict(pairs), pairs["rating"].to_numpy(), scale)

    def rank_scores(self, n_users: int, n_anime: int) -> np.ndarray:
        """[n_users, n_anime] scores that order each user's recommendations (the predicted ratings, unless a
        model ranks by something else, e.g. popularity)."""
        return self.score_matrix(n_users, n_anime)

    def score_matrix(self, n_users: int, n_anime: int) -> np.ndarray:
        """[n_users, n_anime] predicted ratings (for full-ranking metrics). Subclasses may vectorise."""
        users = np.repeat(np.arange(n_users), n_anime)
        anime = np.tile(np.arange(n_anime), n_users)
        return np.asarray(self.score(users, anime), np.float64).reshape(n_users, n_anime)


class ConfiguredFamily(RatingPredictor):
    """A family whose settings are one params.yaml section (a typed dataclass, e.g. `train`) that each entry
    overrides with ``options``; ``base: <name>`` starts from another entry's options and *tuned* settings, so
    an ablation changes one thing and keeps everything else."""

    section = ""  # the params.yaml section
    config_type: type = object  # its dataclass in hybridrec.params
    spec_keys = ("options", "search", "base")

    def __init__(self, cfg, label: str):
        self.cfg, self.name = cfg, label

    @classmethod
    def check_spec(cls, spec, key: str) -> None:
        import typing  # noqa: PLC0415

        from hybridrec.errors import ParamsError  # noqa: PLC0415
        from hybridrec.params import check_type  # noqa: PLC0415

        hints = typing.get_type_hints(cls.config_type)
        for opt, values in [(o, [v]) for o, v in spec.options.items()] + [(o, d.values()) for o, d in spec.search.items()]:
            if opt not in hints:
                raise ParamsError(f"params.yaml: {key}: unknown {cls.section} option {opt!r} "
                                  f"(known: {', '.join(sorted(hints))})")
            for v in values:
                check_type(v, hints[opt], f"{key}.{opt}")

    @classmethod
    def from_spec(cls, spec, ctx, override: dict | None = None):
        import dataclasses  # noqa: PLC0415

        from hybridrec.errors import ParamsError  # noqa: PLC0415
        from hybridrec.params import check_type  # noqa: PLC0415

        overrides = {}
        if spec.base:
            overrides.update(ctx.models[spec.base].options)
            overrides.update(ctx.tuned.get(spec.base, {}))
        overrides.update(spec.options)
        overrides.update(ctx.tuned.get(spec.name, {}))
        overrides.update(override or {})
        raw = {**dataclasses.asdict(getattr(ctx.params, cls.section)), **overrides}
        try:
            cfg = check_type(raw, cls.config_type, cls.section)
        except ParamsError as e:
            raise ParamsError(f"{e} (in compare.models.{spec.name})") from None
        return cls(cfg, spec.label)

    def settings(self) -> dict:
        import dataclasses  # noqa: PLC0415

        return dataclasses.asdict(self.cfg)

