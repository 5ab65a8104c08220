"""Which torch device a setting (``auto`` | ``cpu`` | ``cuda[:N]``) means on this machine."""

from __future__ import annotations

from hybridrec.errors import UserError


def resolve_device(device: str) -> str:
    import torch  # noqa: PLC0415 (keeps importing this module light)

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"device {device!r} requested but CUDA is not available (use 'auto' or 'cpu')")
    return device
