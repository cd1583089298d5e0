"""Fully connected layers: ``Linear``, everything cnncost knows about it in one place."""

from __future__ import annotations

from typing import Any, NamedTuple

from ..errors import CnncostError
from ..tool_conventions import by_call, uncounted
from .base import ArchType, Counts, Field, FxForms, Kind, accumulate


class Linear(NamedTuple):
    """Fully connected layer; ``in_features`` is inferred from the input shape."""

    name: str
    out_features: Any
    bias: bool = True
    call: str = "module"  # written as: module, or subclass (a user's subclass of nn.Linear)


def linear_shape(node: Linear, x: tuple) -> tuple:
    """Output features of a Linear layer (needs a flat input)."""
    if len(x) != 1:
        raise CnncostError(f"{node.name}: Linear expects flat features, got a {len(x)}-D input (add a Flatten)")
    return (node.out_features,)


def linear_counts(node: Linear, x: tuple, y: tuple) -> Counts:
    """in·out weights + out biases; MACs = in·out."""
    fin, fout = x[0], node.out_features
    c = accumulate(fin * fout, fout, node.bias)
    return Counts(params=fin * fout + (fout if node.bias else 0), macs=c.macs, mults=c.mults, adds=c.adds)


def linear_macs(node: Linear, x: tuple, y: tuple) -> Any:
    """fvcore (aten::linear): in · out, bias ignored (jit_handles.py:99-110)."""
    return x[0] * node.out_features


def ptflops_linear(node: Linear, x: tuple, y: tuple) -> Any:
    """linear_flops_counter_hook: in·out + out for a bias (its F.linear patch is commented out)."""
    return linear_macs(node, x, y) + (node.out_features if node.bias else 0)


def _torch_linear(node: Linear, x: tuple) -> Any:
    from torch import nn

    return nn.Linear(x[0], node.out_features, node.bias)


KINDS = (
    Kind(Linear, linear_shape, linear_counts, fvcore=linear_macs,
         ptflops=by_call("ptflops", {"module": ptflops_linear,
                                     "subclass": uncounted("no hook (exact-type check), and F.linear is not "
                                                           "patched")}),
         archfile=(ArchType("linear", {"out": Field("expr"), "bias": Field("bool", True)},
                            lambda name, f, rank: Linear(name, f["out"], f["bias"]), "fc"),),
         torch_module=_torch_linear,
         fx=FxForms(modules={"torch.nn.Linear": (lambda m, name: Linear(name, m.out_features, m.bias is not None),
                                                 "in_features")})),
)
