"""Guided backpropagation (Springenberg et al. 2014, "Striving for simplicity: the all convolutional net").

The gradient of a neuron's activation with respect to the input image, except
that at every ReLU the gradient passed backwards is clipped at zero as well:
it flows only where the forward input was positive (the ordinary ReLU
gradient) *and* the gradient arriving from above is positive. The result shows
the image pixels that increase the neuron, without the negative evidence that
makes plain gradients noisy.

Implemented with full backward hooks on the network's ReLU modules that clamp
``grad_input`` at ≥ 0 (``guided_relus``); the forward ReLU already zeroes the
gradient where its input was ≤ 0. ReLU6 is treated the same way (its gradient
is the same kind of gate). The rule is defined for those gates only, so a
network with another activation (SiLU, GELU, ...) before the chosen layer is
refused rather than given a half-guided picture.
"""

from __future__ import annotations

import contextlib
from typing import NamedTuple

import torch
from torch import nn

from cnncost.errors import CnncostError

from ..from_spec import ACTIVATIONS as ACTIVATION_MODULES
from .activations import forward_to

NEURONS = 10  # channels shown by default (report 001's 10×1 grid), fewer when the layer has fewer
GATES = (nn.ReLU, nn.ReLU6)  # activations whose backward pass the guided rule modifies
ACTIVATIONS = tuple(ACTIVATION_MODULES.values())  # every activation a SpecModule can hold


class Guided(NamedTuple):
    """Guided gradients of the strongest channels of one layer for one image."""

    channels: list  # channel indices, strongest first
    peaks: torch.Tensor  # [N] each channel's maximum activation for the image
    gradients: torch.Tensor  # [N, C, H, W] guided gradient of each channel's maximum w.r.t. the (normalised) input


def _clip_at_zero(module, grad_input, grad_output):
    return tuple(None if g is None else g.clamp(min=0) for g in grad_input)


@contextlib.contextmanager
def guided_relus(model):
    """Inside the block, every ReLU/ReLU6 leaf of ``model`` passes only positive gradients backwards.

    Yields the names of the modified leaves; the hooks are removed on leaving,
    whatever happens inside.
    """
    gated = {name: module for name, module in model._leaves.items() if isinstance(module, GATES)}
    handles = [module.register_full_backward_hook(_clip_at_zero) for module in gated.values()]
    try:
        yield list(gated)
    finally:
        for handle in handles:
            handle.remove()


def check_gates(subject, layer: str) -> None:
    """Refuse when an activation other than ReLU/ReLU6 runs before ``layer`` (guided backprop needs ReLU gates)."""
    before = []
    for row in subject.table.layers:
        if row.name == layer:
            break
        module = subject.model._leaves[row.name]
        if isinstance(module, ACTIVATIONS) and not isinstance(module, GATES):
            before.append((row.name, type(module).__name__))
    if before:
        name, kind = before[0]
        raise CnncostError(f"--layer: guided backpropagation is defined for ReLU networks; {subject.name} has "
                           f"{kind} activations before {layer} ({name}, …); `cnncost show activations` and "
                           "`cnncost show maximize` work on any network")


def guided_backprop(model, x: torch.Tensor, layer: str, neurons: int) -> Guided:
    """Guided gradients for the ``neurons`` channels of ``layer`` with the largest activation for image ``x``
    ([1, C, H, W], normalised). The objective of a channel is its maximum over positions; the channels
    are back-propagated as one batch (one copy of the image each: the model is in eval mode, so the
    copies do not interact)."""
    with torch.no_grad():
        output = forward_to(model, x, [layer])[layer][0]
    peaks = output.flatten(1).amax(1).float()
    if not 1 <= neurons <= len(peaks):
        raise CnncostError(f"--neurons: {neurons} is out of range for {layer} (1–{len(peaks)}: its channel count)")
    top = peaks.topk(neurons).indices
    batch = x.detach().repeat(neurons, 1, 1, 1).requires_grad_(True)
    with torch.enable_grad(), guided_relus(model):
        maps = forward_to(model, batch, [layer])[layer]
        chosen = maps[torch.arange(neurons, device=maps.device), top.to(maps.device)]
        (gradients,) = torch.autograd.grad(chosen.flatten(1).amax(1).sum(), batch)
    return Guided(top.tolist(), peaks[top].cpu(), gradients.detach().float().cpu())


def for_display(gradients: torch.Tensor, spread: float = 0.15) -> torch.Tensor:
    """Gradients [N, C, H, W] as pictures in [0, 1]: each centred on 0.5 grey and scaled by its own
    standard deviation (``spread`` of grey per deviation), clipped; a zero gradient stays flat grey."""
    centred = gradients - gradients.mean(dim=(1, 2, 3), keepdim=True)
    deviation = centred.flatten(1).std(1).view(-1, 1, 1, 1)
    scaled = torch.where(deviation > 0, centred / deviation.clamp_min(1e-30), torch.zeros_like(centred))
    return (0.5 + spread * scaled).clamp(0.0, 1.0)
