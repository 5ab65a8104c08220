"""Full scale: identity features as embeddings (same model), neighbour sampling, mini-batch training, and
distributed training with torchrun (2 processes, gloo, CPU)."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from hybridrec.graph import load_inputs
from hybridrec.minibatch import EmbeddingSAGE, FullGraphRunner
from hybridrec.paths import Paths
from hybridrec.sampling import LinkNeighborSampler
from hybridrec.training import build, fit
from tests.conftest import REPO, replace


@pytest.fixture(scope="module")
def inputs(tiny_project):
    root, p = tiny_project
    old = os.getcwd()
    os.chdir(root)
    yield load_inputs(Paths(p.data.name), p.train.features), p
    os.chdir(old)


def test_embeddings_are_the_identity_model(inputs):
    inp, p = inputs
    model, runner = build(inp, replace(p.train, impl="reference"), "cpu")
    emb = EmbeddingSAGE.from_model(model)
    full = FullGraphRunner(emb, inp.anime_x, inp.edges["train"][0], inp.n_users)
    eli = inp.edges["test"][0]
    with torch.no_grad():
        assert torch.allclose(runner(eli), full(eli), atol=1e-4)
        # a sampled batch with every neighbour gives the same predictions for its supervision edges
        sampler = LinkNeighborSampler(inp.edges["train"][0], inp.edges["train"][1], inp.n_users, inp.n_anime,
                                      [-1, -1], batch_size=64, shuffle=True, seed=0)
        batch = next(iter(sampler))
        seeds = torch.stack([batch.user_ids[batch.edge_label_index[0]], batch.anime_ids[batch.edge_label_index[1]]])
        assert torch.allclose(emb(batch, inp.anime_x), runner(seeds), atol=1e-4)


def test_sampler_respects_fanout(inputs):
    inp, _ = inputs
    eli, y = inp.edges["train"]
    sampler = LinkNeighborSampler(eli, y, inp.n_users, inp.n_anime, [3, 2], batch_size=32, seed=1)
    assert len(sampler) == -(-eli.size(1) // 32)
    seen = 0
    train_pairs = set(map(tuple, eli.t().tolist()))
    for b in sampler:
        seen += b.edge_label.numel()
        # supervision pairs map back to real training ratings
        g = torch.stack([b.user_ids[b.edge_label_index[0]], b.anime_ids[b.edge_label_index[1]]])
        assert set(map(tuple, g.t().tolist())) <= train_pairs
        # every message edge is a real training edge, and no node receives more than 3 + 2 messages
        msg = torch.stack([b.user_ids[b.to_anime[0]], b.anime_ids[b.to_anime[1]]])
        assert set(map(tuple, msg.t().tolist())) <= train_pairs
        assert torch.bincount(b.to_anime[1]).max() <= 5 and torch.bincount(b.to_user[1]).max() <= 5
    assert seen == eli.size(1)  # one epoch covers every training rating once


def test_minibatch_training_learns(inputs):
    inp, p = inputs
    cfg = replace(p.train, batch_size=128, num_neighbors=[5, 5], epochs=6, weighted_loss=False, lr=0.01)
    t = fit(inp, cfg, "cpu", progress=False)
    losses = [h["loss"] for h in t.history]
    assert losses[-1] < losses[0]
    mean = inp.edges["train"][1].mean()
    val_y = inp.edges["val"][1]
    assert t.best_val_rmse < float(torch.sqrt(((val_y - mean) ** 2).mean())) + 0.05


@pytest.mark.slow
def test_two_processes_match_one(tiny_project, tmp_path):
    """torchrun --nproc_per_node=2 (gloo, CPU): each rank trains on half the ratings, DDP averages the
    gradients, and the result matches one process within 0.02 validation RMSE."""
    root, p = tiny_project
    results = {}
    for n in (1, 2):
        work = tmp_path / f"p{n}"
        shutil.copytree(root / "data", work / "data")
        shutil.copy2(root / "params.yaml", work / "params.yaml")
        cmd = ([sys.executable, str(REPO / "stages" / "train.py")] if n == 1 else
               [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                str(REPO / "stages" / "train.py")])
        out = subprocess.run(cmd, cwd=work, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        assert out.returncode == 0, out.stderr[-3000:]
        results[n] = json.loads((work / "reports" / p.data.name / "train.json").read_text())
        assert (work / "models" / p.data.name / "paper" / "model.pt").exists()
    assert results[2]["processes"] == 2 and results[1]["processes"] == 1
    assert abs(results[2]["best_val_rmse"] - results[1]["best_val_rmse"]) < 0.02, results
    assert np.isfinite(results[2]["best_val_rmse"])


@pytest.mark.slow
def test_fullscale_runner_rehearsal(tmp_path):
    """`hybridrec fullscale` at a tiny scale: every stage runs in its own process, timed and measured."""
    for item in ("stages", "params.yaml"):
        src = REPO / item
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, tmp_path / item)
    out = subprocess.run([sys.executable, "-m", "hybridrec.cli", "fullscale", "--scale", "0.0005", "--batch-size", "256",
                          "--evaluate", "--out", "summary.json"], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    d = json.loads((tmp_path / "summary.json").read_text())
    assert d["users"] == 155 and d["ratings"] > 0
    for stage in ("generate", "preprocess", "subset", "embed", "split", "train"):
        assert d["stages"][stage]["seconds"] > 0 and d["stages"][stage]["peak_mb"] > 0
    assert d["stages"]["train"]["edges_per_s"] > 0 and d["projected_training_seconds"] > 0
    assert d["stages"]["evaluate"]["rows_per_s"] > 0 and d["test"]["n"] > 0
    assert d["oracle_rmse_floor"] <= d["test"]["rmse"] < 5
    from hybridrec.reporting import timing  # noqa: PLC0415

    section = "\n".join(timing.fullscale_section(tmp_path / "summary.json"))
    assert f"test RMSE {d['test']['rmse']:.4f}" in section and "oracle RMSE" in section
