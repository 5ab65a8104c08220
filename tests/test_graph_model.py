"""The paper's model: features, graph hygiene, training behaviour, determinism, fast == reference."""

import copy

import numpy as np
import pytest
import torch

from hybridrec.graph import EDGE, REV_EDGE, load_inputs, train_graph
from hybridrec.model import FastGraphSAGE
from hybridrec.params import Train
from hybridrec.paths import Paths
from hybridrec.inference import predict
from hybridrec.training import build, fit, weighted_mse
from tests.conftest import replace


def inputs_for(p, features):
    return load_inputs(Paths(p.data.name), features)


def test_feature_shapes(project):
    _, p = project
    n_genres = len(__import__("json").load(open(Paths(p.data.name).preprocessed / "genres.json")))
    both = inputs_for(p, ["synopsis", "genres"])
    assert both.anime_x.shape == (both.n_anime, 384 + n_genres)
    assert inputs_for(p, ["genres"]).anime_x.shape == (both.n_anime, n_genres)
    assert inputs_for(p, ["synopsis"]).anime_x.shape == (both.n_anime, 384)
    ident = inputs_for(p, [])
    assert torch.equal(ident.anime_x, torch.eye(both.n_anime))
    g = train_graph(both)
    assert g["user"].x.shape == (both.n_users, both.n_users) and torch.equal(g["user"].x, torch.eye(both.n_users))
    assert g[EDGE].edge_label.dtype == torch.float32 and "edge_label" not in g[REV_EDGE]


def test_no_heldout_edge_in_message_passing_graph(project):
    _, p = project
    inputs = inputs_for(p, ["genres"])
    g = train_graph(inputs)
    mp = set(map(tuple, g[EDGE].edge_index.t().tolist()))
    rev = set(map(tuple, g[REV_EDGE].edge_index.flip(0).t().tolist()))
    assert mp == rev
    for s in ("val", "test"):
        held = set(map(tuple, inputs.edges[s][0].t().tolist()))
        assert held and not (held & mp)
    assert mp == set(map(tuple, inputs.edges["train"][0].t().tolist()))


def test_loss_falls(project):
    _, p = project
    trained = fit(inputs_for(p, p.train.features), replace(p.train, epochs=40), "cpu", progress=False)
    losses = [h["loss"] for h in trained.history]
    assert losses[-1] < 0.3 * losses[0]
    assert trained.history[trained.best_epoch - 1]["val_rmse"] == trained.best_val_rmse


def test_same_seed_same_metrics(project):
    _, p = project
    inputs = inputs_for(p, p.train.features)
    cfg = replace(p.train, epochs=15)
    runs = [fit(inputs, cfg, "cpu", progress=False) for _ in range(2)]
    preds = [predict(r.runner, inputs.edges["test"][0]) for r in runs]
    assert np.array_equal(preds[0], preds[1])
    other = fit(inputs, replace(cfg, seed=cfg.seed + 1), "cpu", progress=False)
    assert not np.array_equal(preds[0], predict(other.runner, inputs.edges["test"][0]))


@pytest.mark.parametrize("patience", [0, 6])
def test_validation_from_the_next_forward_is_bit_for_bit_a_separate_pass(project, monkeypatch, patience):
    """Without dropout, the validation of epoch t comes from epoch t + 1's training forward: every validation
    RMSE, the best epoch, the early stop, the pruner's calls and the kept weights are those of a separate
    evaluation pass, bit for bit. With dropout, a separate pass (training mode would drop units)."""
    import hybridrec.training as training

    _, p = project
    inputs = inputs_for(p, p.train.features)
    cfg = replace(p.train, epochs=40, eval_every=3, patience=patience, lr=0.05)
    runs, calls, forwards = {}, {}, {}
    for shared in (False, True):
        monkeypatch.setattr(training, "SHARE_VALIDATION", shared)
        count = {"n": 0}
        monkeypatch.setattr(FastGraphSAGE, "encode", _counting(FastGraphSAGE.encode, count))
        calls[shared] = []
        runs[shared] = fit(inputs, cfg, "cpu", progress=False, on_val=lambda e, b, c=calls[shared]: c.append((e, b)))
        forwards[shared] = count["n"]
        monkeypatch.undo()
    a, b = runs[False], runs[True]
    assert [h["val_rmse"] for h in a.history] == pytest.approx([h["val_rmse"] for h in b.history], rel=0, abs=0,
                                                               nan_ok=True)
    assert (a.best_epoch, a.best_val_rmse, len(a.history)) == (b.best_epoch, b.best_val_rmse, len(b.history))
    assert calls[False] == calls[True] and len(calls[True]) >= 3
    for k, v in a.model.state_dict().items():
        assert torch.equal(v, b.model.state_dict()[k]), k
    assert forwards[True] == forwards[False] - len(calls[True]) + 1  # the last validation is a pass of its own
    if patience:
        assert len(a.history) < cfg.epochs  # the early stop was exercised
    dropped = fit(inputs, replace(cfg, dropout=0.3), "cpu", progress=False)
    assert all(np.isfinite(h["val_rmse"]) == (h["epoch"] % 3 == 0 or h["epoch"] == 40) for h in dropped.history)


def _counting(fn, count):
    def wrapped(*args, **kwargs):
        count["n"] += 1
        return fn(*args, **kwargs)
    return wrapped


@pytest.mark.parametrize("features,conv", [(["synopsis", "genres"], "sage"), ([], "sage"),
                                           (["synopsis", "genres"], "graphconv")])
def test_fast_equals_reference_gradients_and_steps(project, features, conv):
    """Same parameters, same gradient for every parameter at every step, same predictions after several steps
    (an Adam step alone is lr * sign(grad) at first and would hide a wrongly scaled gradient)."""
    _, p = project
    inputs = inputs_for(p, features)
    cfg = replace(p.train, impl="reference", conv=conv)
    ref_model, ref = build(inputs, cfg, "cpu")
    fast_model = copy.deepcopy(ref_model)
    fast = FastGraphSAGE(fast_model, train_graph(inputs))
    eli, y = inputs.edges["train"]
    w = torch.linspace(0.5, 2.0, 11)  # a weighted loss, so the weights' scale matters
    opts = [torch.optim.Adam(m.parameters(), lr=cfg.lr) for m in (ref_model, fast_model)]
    for step in range(5):
        for model, run, opt in ((ref_model, ref, opts[0]), (fast_model, fast, opts[1])):
            opt.zero_grad()
            weighted_mse(run(eli), y, w).backward()
        for (name, a), b in zip(ref_model.named_parameters(), fast_model.parameters()):
            assert torch.allclose(a.grad, b.grad, rtol=1e-3, atol=1e-6), (step, name, (a.grad - b.grad).abs().max())
        for opt in opts:
            opt.step()
    test_eli = inputs.edges["test"][0]
    with torch.no_grad():
        assert torch.allclose(ref(test_eli), fast(test_eli), atol=1e-4)
        assert torch.allclose(ref(eli), fast(eli), atol=1e-4)


def test_fast_equals_reference_after_training(project):
    _, p = project
    inputs = inputs_for(p, p.train.features)
    preds = {}
    for impl in ("reference", "fast"):
        t = fit(inputs, replace(p.train, impl=impl, epochs=60), "cpu", progress=False)
        preds[impl] = predict(t.runner, inputs.edges["test"][0])
    assert np.allclose(preds["fast"], preds["reference"], atol=2e-3), np.abs(preds["fast"] - preds["reference"]).max()


def test_other_convs_train(project):
    _, p = project
    inputs = inputs_for(p, ["genres"])
    for conv in ("graphconv", "gat"):
        t = fit(inputs, replace(p.train, conv=conv, impl="reference", epochs=5), "cpu", progress=False)
        assert np.isfinite(t.best_val_rmse)
    with pytest.raises(ValueError, match="fast path implements sage and graphconv only"):
        fit(inputs, replace(p.train, conv="gat", impl="fast", epochs=1), "cpu", progress=False)


def test_train_params_dataclass_has_no_defaults():
    import dataclasses

    assert all(f.default is dataclasses.MISSING for f in dataclasses.fields(Train))


@pytest.mark.parametrize("h, n_pairs", [(16, 50), (128, 5000)])
def test_compiled_pair_decoder_equals_plain(h, n_pairs):
    """The CPU decoder that never materialises the [pairs, h] intermediates (_PairMLP: compiled kernels, one pass
    per pair) gives the plain formulation's values and gradients for every input and parameter, with repeated
    users and anime."""
    from hybridrec.model import EdgeDecoder

    gen = torch.Generator().manual_seed(0)
    dec = EdgeDecoder(h)
    pu0, pa0 = torch.randn(9, h, generator=gen), torch.randn(13, h, generator=gen)
    row, col = torch.randint(0, 9, (n_pairs,), generator=gen), torch.randint(0, 13, (n_pairs,), generator=gen)
    target = torch.randn(n_pairs, generator=gen)
    grads = []
    for compiled in (False, True):
        dec.zero_grad()
        pu, pa = pu0.clone().requires_grad_(), pa0.clone().requires_grad_()
        out = (dec.combine_pairs(pu, pa, row, col) if compiled
               else dec.combine(pu.index_select(0, row), pa.index_select(0, col)))
        ((out - target) ** 2 * torch.linspace(0.5, 2.0, n_pairs)).sum().backward()
        grads.append([out.detach(), pu.grad, pa.grad, dec.lin2.weight.grad.clone(), dec.lin2.bias.grad.clone()])
    for name, a, b in zip(["values", "d pu", "d pa", "d lin2.weight", "d lin2.bias"], *grads):
        scale = b.abs().max().clamp(min=1.0)
        assert a.shape == b.shape and a.dtype == b.dtype and torch.allclose(a, b, rtol=1e-4, atol=1e-5 * scale), \
            (name, (a - b).abs().max())
    pre = pu0[row] + pa0[col]
    assert (pre > 0).any() and (pre <= 0).any()  # both sides of the ReLU are exercised


def test_compiled_pair_decoder_propagates_nan():
    """A diverged fit's NaN stays NaN through the compiled decoder (as through torch's ReLU), never a rating."""
    from hybridrec.model import EdgeDecoder

    dec = EdgeDecoder(4)
    pu, pa = torch.ones(2, 4), torch.ones(3, 4)
    pu[1, 2] = float("nan")
    out = dec.combine_pairs(pu, pa, torch.tensor([0, 1, 1]), torch.tensor([0, 0, 2]))
    assert torch.isfinite(out[0]) and torch.isnan(out[1:]).all()


def test_fast_dropout_is_inverted_dropout_and_seeded():
    """The compiled dropout drops a share p of the elements, scales the rest by 1 / (1 - p) (its gradient is the
    same mask), draws its mask from torch's seed (same seed, same mask; another seed, another mask), and is the
    identity when not training."""
    from hybridrec.model import dropout

    x = torch.ones(400, 250, requires_grad=True)
    torch.manual_seed(3)
    out = dropout(x, 0.3, True)
    kept = out.detach() != 0
    assert abs(1 - kept.float().mean().item() - 0.3) < 0.01
    assert torch.allclose(out.detach()[kept], torch.full((int(kept.sum()),), 1 / 0.7))
    out.sum().backward()
    assert torch.equal(x.grad, out.detach())
    torch.manual_seed(3)
    assert torch.equal(dropout(x, 0.3, True), out)
    assert not torch.equal(dropout(x, 0.3, True), out)  # the next draw: another mask
    assert dropout(x, 0.3, False) is x and dropout(x, 0.0, True) is x
    rows = kept.float().mean(1)  # no structure along rows or columns
    assert rows.min() > 0.55 and rows.max() < 0.85


def test_compiled_score_matrix_equals_pair_ratings():
    """Every pair's entry of the compiled score matrix is the rating the pair decoder gives it, bit for bit (the
    score matrix ranks, the pair decoder predicts: both must be the one model), and the plain formulation's
    within float rounding."""
    from hybridrec.model import EdgeDecoder

    gen = torch.Generator().manual_seed(1)
    dec = EdgeDecoder(64)
    pu, pa = torch.randn(7, 64, generator=gen), torch.randn(11, 64, generator=gen)
    full = dec.combine_all(pu, pa)
    row, col = torch.arange(7).repeat_interleave(11), torch.arange(11).repeat(7)
    with torch.no_grad():
        pairs = dec.combine_pairs(pu, pa, row, col).view(7, 11)
        plain = dec.combine(pu[:, None, :], pa[None, :, :])
    assert full.shape == (7, 11) and torch.equal(full, pairs)
    assert torch.allclose(full, plain, rtol=1e-5, atol=1e-5)


def test_compiled_pair_decoder_backward_is_the_plain_loop_bit_for_bit():
    """The branch-free backward kernel makes exactly the roundings of the plain loop that skips a unit the ReLU
    masks (a masked unit adds a zero): every gradient equal bit for bit, with NaN and signed zeros in the input."""
    from hybridrec.kernels import pair_mlp_backward

    rng = np.random.default_rng(4)
    h, n = 16, 400
    pu, pa = rng.standard_normal((9, h)).astype(np.float32), rng.standard_normal((13, h)).astype(np.float32)
    pu[2, 3], pa[5, :4] = np.nan, -0.0
    row, col = rng.integers(0, 9, n), rng.integers(0, 13, n)
    w, grad = rng.standard_normal(h).astype(np.float32), rng.standard_normal(n).astype(np.float32)
    g_pu, g_pa, g_w = np.zeros_like(pu), np.zeros_like(pa), np.zeros(h)
    for e in range(n):
        x = pu[row[e]] + pa[col[e]]
        on = ~(x <= 0)
        g_w[on] += (x * grad[e])[on].astype(np.float64)
        g_pu[row[e], on] += (grad[e] * w)[on]
        g_pa[col[e], on] += (grad[e] * w)[on]
    for name, got, want in zip(["d pu", "d pa", "d w"], pair_mlp_backward(pu, pa, row, col, w, grad), [g_pu, g_pa, g_w]):
        assert got.dtype == want.dtype and np.array_equal(got, want, equal_nan=True), name
    assert np.isnan(g_w).any() and not np.isnan(g_pa[col[row != 2]]).all()  # the NaN unit's gradient passes


@pytest.mark.parametrize("d, n_pairs", [(4, 30), (32, 5000)])
def test_pair_dot_equals_torch_bit_for_bit(d, n_pairs):
    """Ours' pair scores (a[row] * b[col]).sum(1) with the compiled backward: torch's values and gradients bit for
    bit (the same roundings: a product, then a scatter-add in index order), with repeated rows; without a
    gradient, and off CPU, it is torch's formulation itself."""
    from hybridrec.model import pair_dot

    gen = torch.Generator().manual_seed(2)
    a0, b0 = torch.randn(9, d, generator=gen), torch.randn(13, d, generator=gen)
    row, col = torch.randint(0, 9, (n_pairs,), generator=gen), torch.randint(0, 13, (n_pairs,), generator=gen)
    weight = torch.randn(n_pairs, generator=gen)
    got = []
    for compiled in (False, True):
        a, b = a0.clone().requires_grad_(), b0.clone().requires_grad_()
        out = pair_dot(a, b, row, col) if compiled else (a.index_select(0, row) * b.index_select(0, col)).sum(1)
        (out * weight).sum().backward()
        got.append([out.detach(), a.grad, b.grad])
    assert type(pair_dot(a0.requires_grad_(), b0, row, col).grad_fn).__name__.startswith("_PairDot")
    for name, x, y in zip(["values", "d a", "d b"], *got):
        assert torch.equal(x, y), (name, (x - y).abs().max())
    with torch.no_grad():
        assert torch.equal(pair_dot(a0, b0, row, col), got[0][0])
