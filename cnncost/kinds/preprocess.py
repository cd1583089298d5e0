"""Preprocessing layers that hold statistics: Keras' ``Normalization``, everything about it in one place.

Keras applications (EfficientNet B0-B7) start with ``layers.Normalization(axis=channels)``: per channel
``(x - mean) / max(sqrt(variance), epsilon)``, where ``mean``, ``variance`` (one value per channel) and
``count`` (one scalar: the number of samples ``adapt`` saw) are non-trainable weights of the layer. Keras'
"Total params" counts all three (2C + 1: 7 on RGB); PyTorch has no such layer, so the zoo builds a module
holding the same three tensors as buffers (``{name}.mean``, ``{name}.variance``, ``{name}.count``) and this
kind counts them as stored statistics (the buffers quantity, which the keras convention adds to params).

What the tools count for the module the zoo builds (its forward is ``(x - mean) / sqrt(variance).clamp(eps)``
written with operators and Tensor methods only):
  FlopCounterMode: no formula for sub, div, sqrt or clamp: 0 MACs.
  fvcore: aten::sub, aten::div, aten::sqrt and aten::clamp have no handler (unsupported ops, counted 0).
  ptflops: not one of its hooked module types, and none of the operations is a patched function: 0.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ..tool_conventions import uncounted
from .base import Counts, FxForms, Kind, State, spatial
from .saving import Effect, Saved, Site


class Normalization(NamedTuple):
    """Keras' ``Normalization`` over the channels of a C×H×W tensor, with its adapted statistics."""

    name: str
    epsilon: float = 1e-7  # Keras' backend.epsilon(): the floor of the standard deviation


def normalization_counts(node: Normalization, x: tuple, y: tuple) -> Counts:
    """Mean and variance per channel and one sample count: 2C + 1 stored values, no parameters, no MACs."""
    return Counts(buffers=2 * x[0] + 1)


STATISTICS = ("mean", "variance", "count")  # the module's buffers, named as Keras names the weights
_CLASSES: dict = {}


def _classes() -> dict:
    """The torch module class (created once, importing torch: cnncost itself imports without it)."""
    if not _CLASSES:
        import torch
        from torch import nn

        class KerasNormalization(nn.Module):
            """``(x - mean) / max(sqrt(variance), epsilon)`` per channel, the statistics held as buffers."""

            mean: torch.Tensor
            variance: torch.Tensor

            def __init__(self, channels: int, epsilon: float = 1e-7):
                super().__init__()
                self.channels, self.epsilon = channels, epsilon
                self.register_buffer("mean", torch.zeros(channels))
                self.register_buffer("variance", torch.ones(channels))
                self.register_buffer("count", torch.zeros((), dtype=torch.int64))

            def forward(self, x):
                """Normalise each channel; the statistics broadcast over H and W."""
                std = self.variance.sqrt().clamp(min=self.epsilon)
                return (x - self.mean.view(-1, 1, 1)) / std.view(-1, 1, 1)

        _CLASSES["KerasNormalization"] = KerasNormalization
    return _CLASSES


def __getattr__(name: str) -> Any:
    """``KerasNormalization``, created (importing torch) on first access, so the fx tables can name it."""
    if name == "KerasNormalization":
        return _classes()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def normalization_step(node: Normalization, site: Site) -> Effect:
    """``(x - mean) / std``: the subtraction saves nothing, the division saves its divisor (``std``, computed
    from the buffers at every call: C float32 values) for x's gradient. The float32 statistics promote x."""
    return Effect((Saved("new", site.x.shape[0], "fp32", batched=False),), dtype="fp32")


def _torch_module(node: Normalization, x: tuple) -> Any:
    return _classes()["KerasNormalization"](x[0], node.epsilon)


KINDS = (
    Kind(Normalization, spatial, normalization_counts, stateful=lambda node: True,
         fvcore=uncounted("aten::sub/div/sqrt/clamp have no fvcore handler (unsupported ops)"),
         ptflops=uncounted("not a hooked module type, and no patched function is called"),
         torch_module=_torch_module, step=normalization_step,
         state=lambda node, x: State(0, 4 * 2 * x[0] + 8),
         fx=FxForms(modules={__name__ + ".KerasNormalization": (lambda m, name: Normalization(name, m.epsilon),
                                                                "channels")})),
)
