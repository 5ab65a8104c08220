"""Family ``kind: gnn``: the paper's GraphSAGE (any variant of the `train` section) behind the shared
interface. ``options`` override the `train` section (none = the paper preset); ``base: <name>`` starts from
another gnn entry's *tuned* settings, so an ablation changes one thing and keeps everything else."""

from __future__ import annotations

import dataclasses

import numpy as np

from hybridrec.params import Train
from hybridrec.predictors import ConfiguredFamily, SplitData


class GraphSAGEPredictor(ConfiguredFamily):
    """The paper's GNN (any variant) behind the shared interface."""

    kind = "gnn"
    section, config_type = "train", Train

    @classmethod
    def describe(cls, spec) -> dict:
        features = spec.options.get("features")
        return {"consumes": "training ratings (graph) + anime features of `train.features` "
                            + (f"({', '.join(features) or 'none: identity'})" if features is not None else
                               "(the `train` section's)"),
                "unseen_item": "its own features through the layers' root weights, no neighbours (with identity "
                               "features: an untrained weight column, i.e. noise)"}

    def fit(self, data: SplitData, seed: int):
        from hybridrec.device import resolve_device  # noqa: PLC0415 (torch only when a GNN is fitted)
        from hybridrec.training import fit  # noqa: PLC0415

        cfg = dataclasses.replace(self.cfg, seed=seed)
        self.inputs = data.graph_inputs(tuple(cfg.features))
        self.trained = fit(self.inputs, cfg, resolve_device(cfg.device), progress=False, on_val=self.report_validation)
        return self

    @property
    def prune_after(self) -> int:
        """Epochs before a tuning trial may be pruned: its early-stopping patience (a GNN's validation RMSE sits
        at the global mean's for tens of epochs before it falls), at least 10 validations."""
        return max(self.cfg.patience, 10 * self.cfg.eval_every)

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
