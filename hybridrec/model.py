"""The paper's model: GNNEncoder (2 x SAGEConv, made heterogeneous with ``to_hetero(aggr='sum')``)
and EdgeDecoder (concat -> Linear(2h, h) -> ReLU -> Linear(h, 1)), as in PyG's hetero_link_pred.py.

Two ways to compute the same function with the same parameters:

* ``Model.forward``: the straightforward PyG formulation (the reference). Every epoch it aggregates the
  raw 384+-dimensional anime features and the n_users-dimensional identity user features over every edge.
* :class:`FastGraphSAGE`: for SAGEConv (mean aggregation, which is linear) on a fixed graph with fixed
  inputs, the first layer's neighbour means of the raw features are computed once; identity features
  become row lookups of the weight matrices; the second layer projects before it aggregates (CSR sparse
  matmul, h-dimensional instead of raw); the decoder projects each node once instead of every edge.
  Same parameters, same optimiser, same answers up to float rounding (a test checks 1e-4).
"""

from __future__ import annotations

import warnings

import torch
from torch import nn
from torch_geometric.data import HeteroData
from torch_geometric.nn import GATConv, GraphConv, SAGEConv, to_hetero

from hybridrec.graph import EDGE, REV_EDGE

warnings.filterwarnings("ignore", message=".*[Ss]parse CSR tensor support is in beta.*")

EDGE_KEY = "__".join(EDGE)
REV_KEY = "__".join(REV_EDGE)


def make_conv(kind: str, out_channels: int) -> nn.Module:
    if kind == "sage":
        return SAGEConv((-1, -1), out_channels)
    if kind == "graphconv":
        return GraphConv((-1, -1), out_channels, aggr="add")  # sum aggregation (mean would equal SAGEConv)
    if kind == "gat":
        return GATConv((-1, -1), out_channels, add_self_loops=False)
    raise ValueError(f"unknown conv {kind!r} (sage | graphconv | gat)")


class GNNEncoder(nn.Module):
    """Two GNN layers with a ReLU between (the paper's GNNEncoder; SAGEConv by default); optional dropout on
    the hidden layer (none in the paper)."""

    def __init__(self, hidden_channels: int, out_channels: int, conv: str = "sage", dropout: float = 0.0):
        super().__init__()
        self.conv1 = make_conv(conv, hidden_channels)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.conv2 = make_conv(conv, out_channels)

    def forward(self, x, edge_index):  # to_hetero traces these argument names
        x = self.drop(self.conv1(x, edge_index).relu())
        return self.conv2(x, edge_index)


def _compiled_decoder(pu, pa) -> bool:
    """Whether the decoder of these projected rows runs the compiled kernels (CPU, float32)."""
    return pu.device.type == "cpu" and pu.dtype == torch.float32 and pa.dtype == torch.float32


class EdgeDecoder(nn.Module):
    """Rating of a (user, anime) pair from the two node embeddings."""

    def __init__(self, hidden_channels: int):
        super().__init__()
        self.lin1 = nn.Linear(2 * hidden_channels, hidden_channels)
        self.lin2 = nn.Linear(hidden_channels, 1)

    def forward(self, z_dict, edge_label_index):
        row, col = edge_label_index
        z = torch.cat([z_dict["user"][row], z_dict["anime"][col]], dim=-1)
        return self.lin2(self.lin1(z).relu()).view(-1)

    def project(self, z_user, z_anime):
        """Each node's share of ``lin1``, computed once per node: lin1(cat(a, b)) = a W_a^T + b W_b^T + bias.
        Returns (user rows [n_users, h] with the bias, anime rows [n_anime, h])."""
        h = z_user.size(1)
        w = self.lin1.weight
        return torch.addmm(self.lin1.bias, z_user, w[:, :h].t()), z_anime @ w[:, h:].t()

    def combine(self, pu, pa):
        """Ratings from projected user and anime rows (any broadcastable shapes, last dim h)."""
        return self.lin2((pu + pa).relu()).squeeze(-1)

    def combine_pairs(self, pu, pa, row, col):
        """Ratings of the pairs (``row[e]``, ``col[e]``) from projected rows: ``combine(pu[row], pa[col])``.

        On CPU (float32) the per-pair [n_pairs, h] intermediates are never materialised: :class:`_PairMLP`
        runs compiled kernels that make one pass per pair; the same function and gradients up to float
        rounding (a test checks both). On GPU, memory bandwidth makes the plain formulation as fast.
        """
        if _compiled_decoder(pu, pa):
            return _PairMLP.apply(pu, pa, row, col, self.lin2.weight, self.lin2.bias)
        # index_select (backward: index_add) is much cheaper than advanced indexing (index_put)
        return self.combine(pu.index_select(0, row), pa.index_select(0, col))

    def combine_all(self, pu, pa):
        """[n_users, n_anime] ratings of every pair from projected rows (no gradient): on CPU (float32) by the
        compiled kernel, the same numbers as :meth:`combine_pairs` gives pair by pair."""
        if _compiled_decoder(pu, pa):
            from hybridrec.kernels import pair_mlp_all  # noqa: PLC0415

            w = self.lin2.weight.detach().reshape(-1).contiguous().numpy()
            return torch.from_numpy(pair_mlp_all(pu.detach().contiguous().numpy(), pa.detach().contiguous().numpy(),
                                                 w, float(self.lin2.bias.detach())))
        return None

    def forward_projected(self, z_user, z_anime, edge_label_index):
        """The same function as :meth:`forward`, projecting each node once instead of every edge."""
        pu, pa = self.project(z_user, z_anime)
        row, col = edge_label_index
        return self.combine_pairs(pu, pa, row, col)


class _PairMLP(torch.autograd.Function):
    """``lin2(relu(pu[row] + pa[col]))`` by the compiled kernels of :mod:`hybridrec.kernels`: forward and backward
    make one pass per pair over its two projected rows instead of several passes over [n_pairs, h] tensors (on
    CPU the decoder is bound by memory traffic, not arithmetic: about 60% of a GraphSAGE epoch at h = 128 as
    torch operations, even in cache-sized blocks). The backward recomputes each pair's hidden row."""

    @staticmethod
    def forward(ctx, pu, pa, row, col, weight, bias):
        from hybridrec.kernels import pair_mlp_forward  # noqa: PLC0415

        pu, pa = pu.detach().contiguous(), pa.detach().contiguous()
        row, col = row.contiguous(), col.contiguous()
        w = weight.detach().reshape(-1).contiguous()
        out = pair_mlp_forward(pu.numpy(), pa.numpy(), row.numpy(), col.numpy(), w.numpy(), float(bias))
        ctx.save_for_backward(pu, pa, row, col, w)
        ctx.weight_shape = weight.shape
        return torch.from_numpy(out)

    @staticmethod
    def backward(ctx, grad):
        from hybridrec.kernels import pair_mlp_backward  # noqa: PLC0415

        pu, pa, row, col, w = ctx.saved_tensors
        grad = grad.detach().contiguous()
        g_pu, g_pa, g_w = pair_mlp_backward(pu.numpy(), pa.numpy(), row.numpy(), col.numpy(), w.numpy(),
                                            grad.numpy())
        g_bias = grad.to(torch.float64).sum().to(grad.dtype).reshape(1)
        return (torch.from_numpy(g_pu), torch.from_numpy(g_pa), None, None,
                torch.from_numpy(g_w).to(w.dtype).view(ctx.weight_shape), g_bias)


def pair_dot(a: torch.Tensor, b: torch.Tensor, row: torch.Tensor, col: torch.Tensor) -> torch.Tensor:
    """``(a[row] * b[col]).sum(1)``: the score of each pair (``row[e]``, ``col[e]``) from two tables of rows.

    The values are torch's, by the same operations. On CPU (float32), when a gradient is needed, the backward is
    a compiled kernel (:func:`hybridrec.kernels.pair_dot_backward`) that makes the same roundings as torch's
    autograd, bit for bit (a test checks it), without its four [pairs, d] intermediates (a fit of ours on the
    default data: 3.5-3.9 s -> 2.9-3.3 s)."""
    if a.device.type == "cpu" and a.dtype == b.dtype == torch.float32 and torch.is_grad_enabled() \
            and (a.requires_grad or b.requires_grad):
        return _PairDot.apply(a, b, row, col)
    return _dot_rows(a, b, row, col)


def _dot_rows(a, b, row, col):
    return (a.index_select(0, row) * b.index_select(0, col)).sum(1)


class _PairDot(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, b, row, col):
        ctx.save_for_backward(a, b, row, col)
        return _dot_rows(a, b, row, col)

    @staticmethod
    def backward(ctx, grad):
        from hybridrec.kernels import pair_dot_backward  # noqa: PLC0415

        a, b, row, col = ctx.saved_tensors
        g_a, g_b = pair_dot_backward(a.detach().contiguous().numpy(), b.detach().contiguous().numpy(),
                                     row.contiguous().numpy(), col.contiguous().numpy(),
                                     grad.detach().contiguous().numpy())
        return torch.from_numpy(g_a), torch.from_numpy(g_b), None, None


class Model(nn.Module):
    """Encoder (heterogeneous via to_hetero, aggr='sum') + EdgeDecoder: the paper's Model."""

    def __init__(self, hidden_channels: int, metadata, conv: str = "sage", dropout: float = 0.0):
        super().__init__()
        self.conv, self.dropout = conv, dropout
        self.encoder = to_hetero(GNNEncoder(hidden_channels, hidden_channels, conv, dropout), metadata, aggr="sum")
        self.decoder = EdgeDecoder(hidden_channels)

    def forward(self, x_dict, edge_index_dict, edge_label_index):
        z_dict = self.encoder(x_dict, edge_index_dict)
        return self.decoder(z_dict, edge_label_index)

    def encode(self, x_dict, edge_index_dict):
        z = self.encoder(x_dict, edge_index_dict)
        return z["user"], z["anime"]


def dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Inverted dropout (as ``torch.nn.functional.dropout``) whose mask on CPU comes from a compiled counter-based
    generator (:func:`hybridrec.kernels.dropout_multiplier`) seeded by one draw of torch's generator: 20-30x
    faster than torch's ``bernoulli_`` (which took a fifth of an epoch of ours and of the GNN at h = 128), and as
    reproducible (the seed comes from ``torch.manual_seed``). Elsewhere: torch's."""
    if not training or p <= 0:
        return x
    if x.device.type != "cpu" or p >= 1:
        return torch.nn.functional.dropout(x, p, True)
    from hybridrec.kernels import dropout_multiplier  # noqa: PLC0415

    seed = int(torch.randint(0, 2**62, (1,)))
    return x * torch.from_numpy(dropout_multiplier(x.numel(), p, seed)).to(x.dtype).view(x.shape)


class Dropout(nn.Module):
    """:func:`dropout` as a module (a drop-in for ``nn.Dropout``)."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x):
        return dropout(x, self.p, self.training)


def _is_identity(x: torch.Tensor) -> bool:
    return x.dim() == 2 and x.size(0) == x.size(1) and bool(torch.equal(x, torch.eye(x.size(0), device=x.device)))


def _csr(rows, cols, values, shape) -> torch.Tensor:
    a = torch.sparse_coo_tensor(torch.stack([rows, cols]), values, shape, check_invariants=False).coalesce()
    return a.to_sparse_csr()


class Aggregation:
    """``A @ X`` with A the adjacency (row-normalised for the mean, 0/1 for the sum, or given edge
    ``weights``), as CSR.

    The transpose is built once too, so the backward pass (``A^T @ grad``) does not re-sort the matrix
    every step, which is what ``torch.sparse.mm``'s own backward would do.
    """

    def __init__(self, dst: torch.Tensor, src: torch.Tensor, n_dst: int, n_src: int, mean: bool = True,
                 weights: torch.Tensor | None = None):
        if weights is not None:
            values = weights.to(torch.float32)
        elif mean:
            deg = torch.bincount(dst, minlength=n_dst).clamp(min=1).to(torch.float32)
            values = 1.0 / deg[dst]
        else:
            values = torch.ones(dst.numel())
        self.a = _csr(dst, src, values, (n_dst, n_src))
        self.at = _csr(src, dst, values, (n_src, n_dst))

    def to(self, device):
        self.a, self.at = self.a.to(device), self.at.to(device)
        return self

    def __matmul__(self, x: torch.Tensor) -> torch.Tensor:
        return _SparseMM.apply(self.a, self.at, x)


class _SparseMM(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, at, x):
        ctx.at = at
        return a @ x

    @staticmethod
    def backward(ctx, grad):
        return None, None, ctx.at @ grad


# conv kind -> (neighbour weight name, root weight name, mean aggregation?)
FAST_CONVS = {"sage": ("lin_l", "lin_r", True), "graphconv": ("lin_rel", "lin_root", False)}


class FastGraphSAGE(nn.Module):
    """The fast path: computes ``Model`` (SAGEConv, or GraphConv with sum aggregation; identity user
    features) on a fixed training graph. Both layers are ``lin_nb(aggregate(x_j)) + lin_root(x_i)``.

    Holds no parameters of its own: it reads the wrapped model's, so an optimiser over
    ``model.parameters()`` trains both formulations identically.
    """

    def __init__(self, model: Model, data: HeteroData):
        super().__init__()
        if model.conv not in FAST_CONVS:
            raise ValueError(f"the fast path implements {' and '.join(FAST_CONVS)} only; "
                             "use train.impl: reference for other convs")
        self.nb, self.root, mean = FAST_CONVS[model.conv]
        if "x" in data["user"] and not _is_identity(data["user"].x):
            raise ValueError("the fast path needs identity user features (or none: identity is implied)")
        self.model = model
        n_user, n_anime = data["user"].num_nodes, data["anime"].num_nodes
        user, anime = data[EDGE].edge_index
        x_anime = data["anime"].x
        self.anime_identity = _is_identity(x_anime)
        self.a_ua = Aggregation(user, anime, n_user, n_anime, mean).to(x_anime.device)
        self.a_au = Aggregation(anime, user, n_anime, n_user, mean).to(x_anime.device)
        # First layer, user side: the neighbour aggregate of the raw anime features never changes.
        with torch.no_grad():
            agg_anime = None if self.anime_identity else self.a_ua.a @ x_anime
        self.register_buffer("agg_anime_x", agg_anime, persistent=False)
        self.register_buffer("x_anime", None if self.anime_identity else x_anime, persistent=False)

    @staticmethod
    def _lin(x, weight):
        """x @ weight^T, where x None means identity features (the product is the weight itself)."""
        return weight.t() if x is None else x @ weight.t()

    def encode(self):
        c1, c2 = self.model.encoder.conv1, self.model.encoder.conv2
        nb, root = self.nb, self.root
        to_anime1, to_user1 = getattr(c1[EDGE_KEY], nb), getattr(c1[REV_KEY], nb)
        root_anime1, root_user1 = getattr(c1[EDGE_KEY], root), getattr(c1[REV_KEY], root)
        # Layer 1, anime nodes: aggregated identity user features -> A_au @ W^T; own features -> X W_root^T.
        h_anime = self.a_au @ to_anime1.weight.t() + to_anime1.bias + self._lin(self.x_anime, root_anime1.weight)
        # Layer 1, user nodes: precomputed aggregate of anime features -> (A_ua X) W^T; identity -> W_root^T.
        if self.anime_identity:
            agg = self.a_ua @ to_user1.weight.t()
        else:
            agg = self.agg_anime_x @ to_user1.weight.t()
        h_user = agg + to_user1.bias + root_user1.weight.t()
        h_anime, h_user = self._drop(h_anime.relu()), self._drop(h_user.relu())
        # Layer 2: project (h -> h) before aggregating; aggregation is linear so the order does not matter.
        to_anime2, to_user2 = getattr(c2[EDGE_KEY], nb), getattr(c2[REV_KEY], nb)
        root_anime2, root_user2 = getattr(c2[EDGE_KEY], root), getattr(c2[REV_KEY], root)
        z_anime = self.a_au @ (h_user @ to_anime2.weight.t()) + to_anime2.bias + h_anime @ root_anime2.weight.t()
        z_user = self.a_ua @ (h_anime @ to_user2.weight.t()) + to_user2.bias + h_user @ root_user2.weight.t()
        return z_user, z_anime

    def _drop(self, h):
        return dropout(h, self.model.dropout, self.model.training)

    def forward(self, edge_label_index):
        z_user, z_anime = self.encode()
        return self.model.decoder.forward_projected(z_user, z_anime, edge_label_index)

    def forward_with(self, edge_label_index, other_index):
        """(:meth:`forward` of ``edge_label_index``, the ratings of ``other_index`` from the same encoding,
        without a gradient): the training pairs' predictions and, for free, those of the validation pairs at the
        same weights (the encoder runs once)."""
        decoder = self.model.decoder
        pu, pa = decoder.project(*self.encode())
        out = decoder.combine_pairs(pu, pa, *edge_label_index)
        with torch.no_grad():
            return out, decoder.combine_pairs(pu.detach(), pa.detach(), *other_index)
