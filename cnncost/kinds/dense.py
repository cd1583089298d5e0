"""Fully connected layers: ``Linear``, everything cnncost knows about it in one place."""

from __future__ import annotations

from typing import Any, NamedTuple

from ..arith import product
from ..errors import CnncostError
from ..tool_conventions import by_call, uncounted
from .base import always, ArchType, Counts, Field, FxForms, Kind, accumulate, weight_and_bias
from .saving import Effect, Saved, Site, low_precision_weights


class Linear(NamedTuple):
    """Fully connected layer; ``in_features`` is inferred from the input shape."""

    name: str
    out_features: Any
    bias: bool = True
    call: str = "module"  # written as: module, or subclass (a user's subclass of nn.Linear)


def linear_shape(node: Linear, x: tuple) -> tuple:
    """Output of a Linear layer: it maps the last dim, as torch does (flat features, or the channels of
    a channels-last tensor as ConvNeXt's blocks use it)."""
    return tuple(x[:-1]) + (node.out_features,)


def linear_counts(node: Linear, x: tuple, y: tuple) -> Counts:
    """in·out weights + out biases; MACs = in·out at each position of the leading dims."""
    fin, fout, positions = x[-1], node.out_features, product(x[:-1])
    c = accumulate(positions * fin * fout, positions * fout, node.bias)
    return Counts(params=fin * fout + (fout if node.bias else 0), macs=c.macs, mults=c.mults, adds=c.adds)


def linear_macs(node: Linear, x: tuple, y: tuple) -> Any:
    """fvcore (aten::linear): prod(input dims) · out, bias ignored (jit_handles.py:99-110)."""
    return product(x) * node.out_features


def ptflops_linear(node: Linear, x: tuple, y: tuple) -> Any:
    """linear_flops_counter_hook: (in·out + out for a bias) at each position of the leading dims
    (pytorch_ops.py:35-43; its F.linear patch is commented out)."""
    return (x[-1] * node.out_features + (node.out_features if node.bias else 0)) * product(x[:-1])


def _from_file(name: str, f: dict, rank: int) -> Linear:
    if rank != 1:  # torch would map the last dim (W) of C×H×W: in a file that is a missing flatten
        raise CnncostError(f"{name}: Linear expects flat features, got a C×H×W input (add a flatten)")
    return Linear(name, f["out"], f["bias"])


def linear_step(node: Linear, site: Site) -> Effect:
    """addmm/mm save each operand only for the other's gradient (derivatives.yaml: mat1 if mat2 needs a
    gradient, mat2 if mat1 does): the input when the weight trains, the weight (a parameter; under autocast
    its lower-precision copy) when the input needs a gradient."""
    saved = (Saved("input"),) if site.trains else ()
    if site.x.grad:
        saved += low_precision_weights(site, site.x.shape[-1] * node.out_features)
    return Effect(saved, cast="low")


def _torch_linear(node: Linear, x: tuple) -> Any:
    from torch import nn

    return nn.Linear(x[-1], node.out_features, node.bias)


KINDS = (
    Kind(Linear, linear_shape, linear_counts, stateful=always, fvcore=linear_macs,
         ptflops=by_call("ptflops", {"module": ptflops_linear,
                                     "subclass": uncounted("no hook (exact-type check), and F.linear is not "
                                                           "patched")}),
         archfile=(ArchType("linear", {"out": Field("expr"), "bias": Field("bool", True)},
                            _from_file, "fc"),),
         torch_module=_torch_linear, step=linear_step, state=weight_and_bias,
         fx=FxForms(modules={"torch.nn.Linear": (lambda m, name: Linear(name, m.out_features, m.bias is not None),
                                                 "in_features")})),
)
