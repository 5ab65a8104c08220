"""The paper model's checkpoint restores a typed `train` section, refuses data it was not trained on and
damaged weights, and is byte-identical for identical training."""

import dataclasses

import pytest
import torch

from hybridrec import checkpoint
from hybridrec.errors import DataError
from hybridrec.graph import load_inputs
from hybridrec.params import Train
from hybridrec.paths import Paths


def test_restores_a_typed_train_section(project):
    _, p = project
    ckpt = checkpoint.load(Paths(p.data.name).paper_model)
    assert isinstance(ckpt.train, Train) and ckpt.train == p.train


def test_same_training_same_bytes(project, tmp_path):
    from hybridrec.training import fit

    _, p = project
    inputs = load_inputs(Paths(p.data.name), p.train.features)
    cfg = dataclasses.replace(p.train, epochs=3)
    for name in ("a.pt", "b.pt"):
        checkpoint.save(tmp_path / name, fit(inputs, cfg, "cpu", progress=False), cfg, inputs)
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b.pt").read_bytes()


def test_refuses_another_split(project):
    _, p = project
    inputs = load_inputs(Paths(p.data.name), p.train.features)
    ckpt = checkpoint.load(Paths(p.data.name).paper_model)
    inputs.split_sha256 = "0" * 64
    with pytest.raises(DataError, match="trained on another split"):
        checkpoint.restore(ckpt, inputs, "cpu")


def test_refuses_other_features(project):
    _, p = project
    inputs = load_inputs(Paths(p.data.name), p.train.features)
    inputs.anime_x = inputs.anime_x.clone()
    inputs.anime_x[0, 0] += 1.0
    with pytest.raises(DataError, match="other anime features"):
        checkpoint.restore(checkpoint.load(Paths(p.data.name).paper_model), inputs, "cpu")


def test_refuses_damaged_weights(project, tmp_path):
    _, p = project
    payload = torch.load(Paths(p.data.name).paper_model, weights_only=True)
    name = next(iter(payload["state_dict"]))
    payload["state_dict"][name] = payload["state_dict"][name] + 1e-3  # what a flipped bit in the data does
    torch.save(payload, tmp_path / "model.pt")
    with pytest.raises(DataError, match="damaged checkpoint"):
        checkpoint.load(tmp_path / "model.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(DataError, match="unreadable checkpoint"):
        checkpoint.load(tmp_path / "junk.pt")
