"""Measure one training step as torch runs it: the storages autograd saves and the FLOPs FlopCounterMode counts.

This is the oracle ``cnncost.trainstep`` is checked against, and what ``cnncost train`` reports as the
measured saved-tensor total on a CPU. ``saved_tensors_hooks`` sees every tensor the autograd graph
saves; a storage is counted once however many tensors (views) of it are saved, and storages of the
model's own parameters and buffers are left out (model state, counted apart).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch.autograd.graph import saved_tensors_hooks


class MeasuredStep(NamedTuple):
    """What one forward + backward of a model measured."""

    saved_bytes: int  # distinct saved storages, model state excluded
    flops: int  # FlopCounterMode total over forward and backward (0 when not counted)
    grad_bytes: int  # bytes of the parameters' .grad after backward


def _storage_key(tensor: torch.Tensor) -> int:
    """An identity shared by a tensor and all its views (works on the meta device too)."""
    return tensor.untyped_storage()._cdata


@contextmanager
def saved_storages(model: torch.nn.Module):
    """Collect {storage: bytes} of what autograd saves inside the block, the model's state left out."""
    state = {_storage_key(t) for t in list(model.parameters()) + list(model.buffers())}
    found: dict = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        key = _storage_key(tensor)
        if key not in state:
            found[key] = tensor.untyped_storage().nbytes()
        return tensor

    with saved_tensors_hooks(pack, lambda tensor: tensor):
        yield found


def measure_step(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, autocast: str | None = None,
                 count_flops: bool = True) -> MeasuredStep:
    """Run one cross-entropy step (forward, loss, backward; no optimizer step) and measure it. ``model`` is
    expected in the modes and requires_grad the strategy gives it (zoo.training.freeze)."""
    from torch.utils.flop_counter import FlopCounterMode

    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(autocast) if autocast else None
    device = images.device.type if images.device.type != "meta" else "cpu"
    counter = FlopCounterMode(display=False) if count_flops else None
    with saved_storages(model) as found, (counter if counter is not None else _nothing()):
        with torch.autocast(device, dtype=dtype, enabled=dtype is not None):
            loss = F.cross_entropy(_logits(model(images)), labels)
        loss.backward()
    grads = sum(p.grad.untyped_storage().nbytes() for p in model.parameters() if p.grad is not None)
    return MeasuredStep(sum(found.values()), counter.get_total_flops() if counter is not None else 0, grads)


def _logits(output):
    """The main output of a model (auxiliary outputs, if any, come after it)."""
    return output[0] if isinstance(output, (tuple, list)) else output


@contextmanager
def _nothing():
    yield
