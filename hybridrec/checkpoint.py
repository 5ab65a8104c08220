"""The paper model's checkpoint (``models/<d>/paper/model.pt``): weights, the `train` settings it was
trained with (restored as a typed :class:`~hybridrec.params.Train`, the only settings evaluation uses), and
what it was trained on, checked on load.

On load the checkpoint must match the data it is used with: the split's sha256, the anime features' sha256
and the graph's shape; and its weights must match the hash recorded at save (a damaged file is refused,
not silently scored). The bytes are a function of the contents alone: same training, same file.
"""

from __future__ import annotations

import hashlib
import io as _io
from dataclasses import dataclass

import numpy as np
import torch

from hybridrec import io
from hybridrec.errors import DataError
from hybridrec.graph import GraphInputs
from hybridrec.params import Train, as_dict, check_type


def tensor_sha256(tensors: dict) -> str:
    """sha256 over the names, dtypes, shapes and bytes of ``tensors`` (in name order)."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
    return h.hexdigest()


def features_sha256(inputs: GraphInputs) -> str:
    return tensor_sha256({"anime_x": inputs.anime_x})


@dataclass
class Checkpoint:
    path: str
    train: Train
    payload: dict

    @property
    def best_epoch(self) -> int:
        return self.payload["best_epoch"]

    @property
    def weights(self) -> np.ndarray:
        return np.asarray(self.payload["weights"])


def save(path, trained, cfg: Train, inputs: GraphInputs) -> None:
    state = {k: v.detach().cpu() for k, v in trained.model.state_dict().items()}
    payload = {"state_dict": state, "state_sha256": tensor_sha256(state), "train": as_dict(cfg),
               "best_epoch": trained.best_epoch, "best_val_rmse": trained.best_val_rmse,
               "n_users": inputs.n_users, "n_anime": inputs.n_anime, "anime_x_dim": int(inputs.anime_x.size(1)),
               "split_sha256": inputs.split_sha256, "features_sha256": features_sha256(inputs),
               "weights": trained.weights.tolist()}
    buf = _io.BytesIO()  # a file object: torch names the archive after a *path*, which is a random temp name
    torch.save(payload, buf)
    with io.atomic_path(path, suffix=".pt") as tmp:
        tmp.write_bytes(buf.getvalue())


def load(path) -> Checkpoint:
    """Read and verify a checkpoint on its own (weights intact, settings valid)."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise DataError(path, "model checkpoint not found (run `dvc repro train`)") from None
    except Exception as e:
        raise DataError(path, f"unreadable checkpoint ({str(e).splitlines()[0] if str(e) else type(e).__name__})") \
            from None
    if not isinstance(payload, dict) or "state_dict" not in payload or "train" not in payload:
        raise DataError(path, "not a hybridrec checkpoint (re-run `dvc repro train`)")
    if payload.get("state_sha256") != tensor_sha256(payload["state_dict"]):
        raise DataError(path, "damaged checkpoint: its weights differ from the hash recorded when it was saved "
                              "(re-run `dvc repro train`)")
    try:
        cfg = check_type(payload["train"], Train, "train")
    except Exception as e:
        raise DataError(path, f"checkpoint settings are not a valid `train` section ({e})") from None
    return Checkpoint(str(path), cfg, payload)


def restore(ckpt: Checkpoint, inputs: GraphInputs, device: str):
    """The trained model on ``inputs``, which must be the data it was trained on. Returns the runner."""
    from hybridrec.training import build  # noqa: PLC0415

    p = ckpt.payload
    if p.get("split_sha256") != inputs.split_sha256:
        raise DataError(ckpt.path, f"trained on another split (sha256 {str(p.get('split_sha256'))[:12]}...) than the "
                                   f"current one ({inputs.split_sha256[:12]}...): re-run `dvc repro train`")
    if (p["n_users"], p["n_anime"], p["anime_x_dim"]) != (inputs.n_users, inputs.n_anime, int(inputs.anime_x.size(1))):
        raise DataError(ckpt.path, "checkpoint does not match the current graph (re-run `dvc repro`)")
    if p.get("features_sha256") != features_sha256(inputs):
        raise DataError(ckpt.path, "trained on other anime features than the current ones (embeddings or genres "
                                   "changed): re-run `dvc repro train`")
    model, runner = build(inputs, ckpt.train, device)
    model.load_state_dict(p["state_dict"])
    model.eval()
    return runner
