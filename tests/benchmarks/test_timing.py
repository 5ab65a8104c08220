"""Timing benchmarks (pytest-benchmark): embedding throughput, one full-batch training epoch (fast vs
the straightforward PyG formulation), full score-matrix inference with top-10, a Surprise SVD fit, and
the scaling of one epoch with the number of users. CPU always; CUDA when available.

    pytest tests/benchmarks --benchmark-only --benchmark-json=.benchmarks/cpu.json
    hybridrec timing-report .benchmarks/cpu.json            # -> reports/timing.md
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest
import torch

from hybridrec import synthetic
from hybridrec.bench import data as benchdata
from hybridrec.metrics import class_weights
from hybridrec.params import parse
from hybridrec.recommend import rated_by_user
from hybridrec.inference import topk
from hybridrec.training import build, weighted_mse
from tests.benchmarks.conftest import sync
from tests.conftest import raw_params

SCALING_USERS = [int(x) for x in os.environ.get("HYBRIDREC_SCALING_USERS", "100,200,400,800,1600,3200,6400").split(",")]
REFERENCE_BUDGET_GB = float(os.environ.get("HYBRIDREC_REFERENCE_BUDGET_GB", "6"))


def train_step_fn(inputs, cfg, device):
    model, runner = build(inputs, cfg, device)
    eli, y = (t.to(device) for t in inputs.edges["train"])
    w = torch.tensor(class_weights(inputs.edges["train"][1].numpy()), dtype=torch.float32, device=device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)

    def step():
        opt.zero_grad()
        loss = weighted_mse(runner(eli), y, w)
        loss.backward()
        opt.step()
        sync(device)

    return step


def reference_gb(inputs) -> float:
    """Memory the straightforward formulation needs for its per-edge messages (identity user features)."""
    e = inputs.edges["train"][0].size(1)
    return 3 * e * (inputs.n_users + inputs.anime_x.size(1)) * 4 / 1e9


def peak_memory(raw_dir, impl, device) -> float:
    """Peak memory (MB) of building the model and two training steps, in a fresh process."""
    import json
    import subprocess
    import sys

    from tests.conftest import REPO

    out = subprocess.run([sys.executable, "-m", "hybridrec.bench.memory", str(raw_dir), "--impl", impl, "--device",
                          device, "--params", str(REPO / "params.yaml")], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_mb"]


@pytest.mark.parametrize("impl", ["fast", "reference"])
def test_train_epoch(benchmark, dataset, device, impl, params):
    """One full-batch optimisation step (forward + backward + Adam) of the paper's model."""
    inputs = dataset.inputs
    if impl == "reference" and reference_gb(inputs) > REFERENCE_BUDGET_GB * (4 if device == "cuda" else 1):
        pytest.skip(f"reference formulation needs ~{reference_gb(inputs):.1f} GB")
    step = train_step_fn(inputs, dataclasses.replace(params.train, impl=impl, device=device), device)
    step()  # warm-up (lazy init, allocator)
    benchmark.extra_info.update(step="train epoch", dataset=dataset.name, device=device, impl=impl,
                                train_edges=int(inputs.edges["train"][0].size(1)), users=inputs.n_users,
                                anime=inputs.n_anime)
    benchmark.pedantic(step, rounds=10 if impl == "fast" else 5, warmup_rounds=1)


def test_score_matrix_top10(benchmark, dataset, device, params):
    """Inference of the full user x anime score matrix and the top-10 unseen anime of every user."""
    inputs = dataset.inputs
    _, runner = build(inputs, dataclasses.replace(params.train, device=device), device)
    rated = rated_by_user(inputs)
    users = np.arange(inputs.n_users)

    def infer():
        topk(runner, users, rated, 10)
        sync(device)

    infer()
    benchmark.extra_info.update(step="score matrix + top-10", dataset=dataset.name, device=device,
                                pairs=int(inputs.n_users * inputs.n_anime))
    benchmark.pedantic(infer, rounds=5, warmup_rounds=1)


def test_embedding_throughput(benchmark, dataset, device, params):
    """all-MiniLM-L6-v2 over 128 synopses of the data set (synopses per second = 128 / time)."""
    from hybridrec.errors import UserError
    from hybridrec.features import SequenceEncoder

    model = os.environ.get("HYBRIDREC_EMBED_MODEL", params.embed.model)
    try:
        enc = SequenceEncoder(model, device, params.embed.batch_size)
    except UserError as e:
        pytest.skip(str(e))
    enc.model.float()
    texts = [t for t in dataset.synopses if t][:128]
    enc.model.encode(texts[:16], batch_size=16)

    def encode():
        enc.model.encode(texts, batch_size=params.embed.batch_size, show_progress_bar=False)
        sync(device)

    benchmark.extra_info.update(step="embed 128 synopses", dataset=dataset.name, device=device, texts=len(texts),
                                mean_chars=float(np.mean([len(t) for t in texts])))
    benchmark.pedantic(encode, rounds=3, warmup_rounds=0)


def test_surprise_svd_fit(benchmark, dataset):
    """A Surprise SVD fit (defaults) on the same training ratings (CPU: Surprise has no GPU path)."""
    pytest.importorskip("surprise")
    from baselines.surprise_models import SurprisePredictor

    benchmark.extra_info.update(step="Surprise SVD fit", dataset=dataset.name, device="cpu",
                                train_ratings=len(dataset.split.train))
    benchmark.pedantic(lambda: SurprisePredictor("SVD").fit(dataset.split, 0), rounds=3, warmup_rounds=0)


@pytest.fixture(scope="module", params=SCALING_USERS)
def scaled(request, tmp_path_factory):
    n = request.param
    p = parse(raw_params(synthetic={"n_users": n, "chunk_users": 2000}))
    out = tmp_path_factory.mktemp(f"scale{n}")
    synthetic.generate(p.synthetic, out)
    return out, benchdata.load(out, p, "all", f"synthetic-{n}users")


@pytest.mark.parametrize("impl", ["fast", "reference"])
def test_scaling_epoch(benchmark, scaled, device, impl, params):
    """Epoch time and peak memory against the number of users (synthetic, all users, 1,500 anime)."""
    raw_dir, scaled = scaled
    inputs = scaled.inputs
    gb = reference_gb(inputs)
    if impl == "reference" and gb > REFERENCE_BUDGET_GB * (4 if device == "cuda" else 1):
        pytest.skip(f"reference formulation needs ~{gb:.1f} GB")
    step = train_step_fn(inputs, dataclasses.replace(params.train, impl=impl, device=device), device)
    step()
    mem = peak_memory(raw_dir, impl, device)
    benchmark.extra_info.update(step="scaling epoch", dataset=scaled.name, device=device, impl=impl,
                                users=inputs.n_users, anime=inputs.n_anime,
                                train_edges=int(inputs.edges["train"][0].size(1)), peak_mb=round(mem, 1),
                                reference_gb_estimate=round(gb, 2))
    benchmark.pedantic(step, rounds=5 if impl == "fast" else 3, warmup_rounds=0)


FULLSCALE = os.environ.get("HYBRIDREC_FULLSCALE")  # e.g. "310059,16872,57633278" (users, anime, ratings)


@pytest.mark.skipif(not FULLSCALE, reason="set HYBRIDREC_FULLSCALE=users,anime,ratings to time a full-scale epoch")
def test_fullscale_minibatch_epoch(benchmark, device, params):
    """One mini-batch epoch (sampled neighbourhoods, embeddings for users) over a Kaggle-sized graph."""
    n_users, n_anime, n_ratings = (int(x) for x in FULLSCALE.split(","))
    inputs = benchdata.random_graph(n_users, n_anime, n_ratings, device="cpu")
    bs = int(os.environ.get("HYBRIDREC_FULLSCALE_BATCH", "65536"))
    cfg = dataclasses.replace(params.train, batch_size=bs, num_neighbors=[10, 10], epochs=1, weighted_loss=False,
                              device=device)
    from hybridrec.training import fit

    result = {}

    def epoch():
        result["t"] = fit(inputs, cfg, device, progress=False)
        sync(device)

    benchmark.extra_info.update(step="full-scale mini-batch epoch", dataset=f"random {n_users}x{n_anime}",
                                device=device, impl="minibatch", users=n_users, anime=n_anime,
                                train_edges=int(inputs.edges["train"][0].size(1)), batch_size=bs)
    benchmark.pedantic(epoch, rounds=1, warmup_rounds=0)
    benchmark.extra_info["val_rmse"] = result["t"].best_val_rmse
