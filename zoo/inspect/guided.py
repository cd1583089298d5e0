"""Guided backpropagation (Springenberg et al. 2014, "Striving for simplicity: the all convolutional net").

The gradient of an objective (a neuron of a layer, or a class score) with
respect to the input image, except that at every activation only the positive
part of the gradient arriving from above is passed back. For an activation
``a`` with input ``x`` and arriving gradient ``g`` (the gradient w.r.t. ``a``'s
output), the gradient passed back to ``x`` is

    a'(x) · max(g, 0)

For ReLU, ``a'(x)`` is the gate ``x > 0``, so this is the paper's rule: a
gradient flows only where the forward input was positive and the gradient from
above is positive; the result is ≥ 0 at every ReLU and zero wherever the ReLU's
output was zero. That path is Captum's (``GuidedBackprop`` and
``NeuronGuidedBackprop`` override the backward pass of ``nn.ReLU`` modules).

Captum hooks ``nn.ReLU`` modules only. For every other activation (ReLU6,
SiLU, GELU, Mish, ELU, tanh, sigmoid, ...) the same formula is the
*generalised rule*, carried by ``generalised_gates``: a forward hook on each
such module puts a hook on its output tensor that clamps the arriving gradient
at zero, so autograd then multiplies it by the module's own derivative. (We do
not subclass Captum's ReLU machinery: its hook registration and the hook it
calls are private methods.) Where ``a'`` can be negative (SiLU, GELU and Mish
for inputs below about −1.3, −0.75 and −1.2) the gradient passed back can be
slightly negative: the rule clips what arrives, not the activation's own slope.
ReLU6 and Hardtanh have a ≥ 0 gate, so for them the rule is the ReLU rule.
Figures and printed lines name the rule that was used (``rule_label``).
"""

from __future__ import annotations

import contextlib
import warnings
from typing import NamedTuple

import torch
from torch import nn

from cnncost.arch import ParameterError

from ..from_spec import ACTIVATIONS as ACTIVATION_MODULES
from .activations import forward_to

NEURONS = 10  # channels shown by default (report 001's 10×1 grid), fewer when the layer has fewer
ACTIVATIONS = tuple(ACTIVATION_MODULES.values())  # every activation a SpecModule can hold
# Softmax and log-softmax normalise a whole vector (usually the network's output): they are no gate.
NOT_GATES = (nn.Softmax, nn.LogSoftmax)


class Guided(NamedTuple):
    """Guided gradients of the strongest channels of one layer for one image."""

    channels: list  # channel indices, strongest first
    peaks: torch.Tensor  # [N] each channel's maximum activation for the image
    gradients: torch.Tensor  # [N, C, H, W] guided gradient of each channel's maximum w.r.t. the (normalised) input
    rule: str  # how the activations were treated (``rule_label``)


def is_generalised(module) -> bool:
    """True for an activation that the generalised rule handles (every gate that is not an ``nn.ReLU``)."""
    return isinstance(module, ACTIVATIONS) and not isinstance(module, (nn.ReLU, *NOT_GATES))


def _clip_arriving_gradient(module, inputs, output):
    """Forward hook: the gradient arriving at this activation's output is clamped at ≥ 0 on the way back."""
    if isinstance(output, torch.Tensor) and output.requires_grad:
        output.register_hook(lambda grad: grad.clamp(min=0))


@contextlib.contextmanager
def generalised_gates(model):
    """Inside the block, every non-ReLU activation leaf of ``model`` applies the generalised rule
    (``a'(x) · max(g, 0)``); the hooks are removed on leaving, whatever happens inside."""
    gates = [module for module in model._leaves.values() if is_generalised(module)]
    handles = [module.register_forward_hook(_clip_arriving_gradient) for module in gates]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


@contextlib.contextmanager
def captum_quietly():
    """Captum warns on every call that it sets (and removes) ReLU hooks, and that it made the input
    require gradients: both expected here, so not shown."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Setting backward hooks on ReLU activations")
        warnings.filterwarnings("ignore", message="Input Tensor .* did not already require gradients")
        yield


def gates_before(subject, layer: str | None) -> list:
    """The activation kinds (class names, in order of first use) that run before ``layer`` (None: all)."""
    kinds: list = []
    for row in subject.table.layers:
        if row.name == layer:
            break
        module = subject.model._leaves.get(row.name)
        if isinstance(module, ACTIVATIONS) and not isinstance(module, NOT_GATES):
            kind = type(module).__name__
            if kind not in kinds:
                kinds.append(kind)
    return kinds


def rule_label(kinds: list) -> str:
    """How guided backpropagation treated the activations ``kinds``, for titles and printed lines."""
    other = [kind for kind in kinds if kind != "ReLU"]
    if not kinds:
        return "no activation on the path: the plain gradient"
    if not other:
        return "ReLU rule"
    return f"generalised rule for {', '.join(other)}" + (" (ReLU rule for ReLU)" if "ReLU" in kinds else "")


def neuron_guided(subject, x: torch.Tensor, layer: str, neurons: int) -> Guided:
    """Guided gradients for the ``neurons`` channels of ``layer`` with the largest activation for image ``x``
    ([1, C, H, W], normalised). The objective of a channel is its maximum over positions; the channels
    are back-propagated as one batch (one copy of the image each: the model is in eval mode, so the
    copies do not interact)."""
    from captum.attr import NeuronGuidedBackprop

    model = subject.model
    with torch.no_grad():
        output = forward_to(model, x, [layer])[layer][0]
    peaks = output.flatten(1).amax(1).float()
    if not 1 <= neurons <= len(peaks):
        raise ParameterError("neurons", f"{neurons} is out of range for {layer} (1–{len(peaks)}: its channel count)")
    top = peaks.topk(neurons).indices
    chosen = top.to(x.device)

    def channel_maxima(maps):  # Captum hands over the layer's output for the whole batch
        return maps[torch.arange(len(chosen), device=maps.device), chosen].flatten(1).amax(1)

    batch = x.detach().repeat(neurons, 1, 1, 1)
    with torch.enable_grad(), captum_quietly(), generalised_gates(model):
        gradients = NeuronGuidedBackprop(model, model._leaves[layer]).attribute(batch, neuron_selector=channel_maxima)
    return Guided(top.tolist(), peaks[top].cpu(), gradients.detach().float().cpu(),
                  rule_label(gates_before(subject, layer)))


def class_guided(model, x: torch.Tensor, targets: list) -> torch.Tensor:
    """Guided gradients [N, C, H, W] of class ``targets[i]``'s score (logit) w.r.t. image ``x[i]``."""
    from captum.attr import GuidedBackprop

    with torch.enable_grad(), captum_quietly(), generalised_gates(model):
        gradients = GuidedBackprop(model).attribute(x.detach().clone(), target=list(targets))
    return gradients.detach().float()


def for_display(gradients: torch.Tensor, spread: float = 0.15) -> torch.Tensor:
    """Gradients [N, C, H, W] as pictures in [0, 1]: each centred on 0.5 grey and scaled by its own
    standard deviation (``spread`` of grey per deviation), clipped; a zero gradient stays flat grey."""
    centred = gradients - gradients.mean(dim=(1, 2, 3), keepdim=True)
    deviation = centred.flatten(1).std(1).view(-1, 1, 1, 1)
    scaled = torch.where(deviation > 0, centred / deviation.clamp_min(1e-30), torch.zeros_like(centred))
    return (0.5 + spread * scaled).clamp(0.0, 1.0)
