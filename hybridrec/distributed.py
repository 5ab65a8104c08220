"""Distributed training with PyTorch's own engine (torchrun + DistributedDataParallel).

Under ``torchrun --nproc_per_node=N stages/train.py`` (or the multi-node form) every process trains on
its shard of the training ratings, DistributedDataParallel all-reduces the gradients (gloo on CPU, nccl
on CUDA), and only rank 0 writes outputs. Without torchrun everything runs in one process.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


def world() -> tuple[int, int]:
    """(rank, world size); (0, 1) outside torchrun."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    return world()[0] == 0


def init(device: str) -> str:
    """Join the process group when started by torchrun; return this process's device."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        return device
    cuda = device.startswith("cuda")
    dist.init_process_group(backend="nccl" if cuda else "gloo")
    if cuda:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        return f"cuda:{local}"
    return device


def shard(edge_index: torch.Tensor, label: torch.Tensor):
    """This rank's share of the training ratings (every world-th rating, starting at its rank)."""
    rank, size = world()
    if size == 1:
        return edge_index, label
    return edge_index[:, rank::size], label[rank::size]


def wrap(module: torch.nn.Module, device: str) -> torch.nn.Module:
    """DistributedDataParallel around ``module`` when distributed, else the module itself."""
    if world()[1] == 1:
        return module
    from torch.nn.parallel import DistributedDataParallel as DDP  # noqa: PLC0415

    ids = [torch.device(device).index] if device.startswith("cuda") else None
    return DDP(module, device_ids=ids, broadcast_buffers=False)


def finish() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
