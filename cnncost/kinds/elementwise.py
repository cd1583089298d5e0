"""Elementwise layers that cost nothing in these conventions: ``Activation`` (one node for every
nonlinearity, told apart by ``function``) and ``Dropout``.

Each activation function is one ``Function`` record in ``FUNCTIONS``: its torch module, the
functions and tensor methods that compute it, and what fvcore and ptflops count for it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ..errors import CnncostError
from ..tool_conventions import (by_call, hooked_and_patched, input_elements, nowhere, output_elements,
                                uncounted)
from .base import ArchType, Field, FxForms, Kind, bind, no_counts, same_shape


class Activation(NamedTuple):
    """Elementwise nonlinearity: free for params and MACs."""

    name: str
    function: str = "relu"  # a key of FUNCTIONS
    call: str = "module"  # written as: module, subclass, function (F.x), torch (torch.x), method (x.m())


class Dropout(NamedTuple):
    """Dropout: free (identity at inference)."""

    name: str
    p: float = 0.5


class Function(NamedTuple):
    """One activation function."""

    module: str  # its torch.nn class, dotted
    functions: tuple  # dotted F.* and torch.* functions computing it
    methods: tuple  # Tensor methods computing it
    fvcore: Any  # tool rule (cnncost.tool_conventions)
    ptflops: Any


_NO_HANDLER = "fvcore has no handler for aten::{} (unsupported op, counted 0)"
_F = "torch.nn.functional."

FUNCTIONS: dict[str, Function] = {
    "relu": Function("torch.nn.ReLU", (_F + "relu", _F + "relu_", "torch.relu", "torch.relu_"), ("relu", "relu_"),
                     uncounted("aten::relu is in fvcore's _IGNORED_OPS"),
                     hooked_and_patched("relu", ("torch", "torch.relu/F.relu_"), ("method", "Tensor.relu"))),
    "relu6": Function("torch.nn.ReLU6", (_F + "relu6",), (), uncounted(_NO_HANDLER.format("hardtanh")),
                      by_call("ptflops", {
                          "module": output_elements(1, "module hook only (nn.ReLU6 calls the unpatched F.hardtanh)"),
                          "subclass": uncounted("no hook (exact-type check), and F.hardtanh is not patched"),
                          "function": input_elements(1, "patched F.relu6 counts once")})),
    "gelu": Function("torch.nn.GELU", (_F + "gelu",), (), uncounted(_NO_HANDLER.format("gelu")),
                     hooked_and_patched("gelu")),
    "silu": Function("torch.nn.SiLU", (_F + "silu",), (), uncounted(_NO_HANDLER.format("silu")),
                     by_call("ptflops", {call: input_elements(1, "patched F.silu only (nn.SiLU has no module hook)")
                                         for call in ("module", "subclass", "function")})),
    "mish": Function("torch.nn.Mish", (_F + "mish",), (), uncounted(_NO_HANDLER.format("mish")), nowhere("mish")),
    "elu": Function("torch.nn.ELU", (_F + "elu",), (), uncounted(_NO_HANDLER.format("elu")),
                    hooked_and_patched("elu")),
    "tanh": Function("torch.nn.Tanh", ("torch.tanh", _F + "tanh"), ("tanh", "tanh_"),
                     uncounted(_NO_HANDLER.format("tanh")), nowhere("tanh")),
    "sigmoid": Function("torch.nn.Sigmoid", ("torch.sigmoid", _F + "sigmoid"), ("sigmoid", "sigmoid_"),
                        uncounted(_NO_HANDLER.format("sigmoid")), nowhere("sigmoid")),
}


def by_function(tool: str) -> Any:
    """An Activation's rule for ``tool``, looked up by its function; unknown functions raise."""

    def rule(node: Activation, x: tuple, y: tuple) -> Any:
        known = FUNCTIONS.get(node.function)
        if known is None:
            raise CnncostError(f"{node.name}: the {tool} convention has no rule for activation "
                               f"{node.function!r} (known: {', '.join(FUNCTIONS)})")
        return getattr(known, tool)(node, x, y)

    rule.__doc__ = f"{tool}: by activation function ({', '.join(FUNCTIONS)})"
    return rule


def _activation_module(node: Activation, x: tuple) -> Any:
    return _resolve(FUNCTIONS[node.function].module)()


def _activation_call(node: Activation, x: Any) -> Any:
    """The function in the recorded form: x.relu(), F.relu(x) or torch.relu(x)."""
    import torch
    import torch.nn.functional as F

    if node.call == "method":
        return getattr(x, node.function)()
    return getattr(F if node.call == "function" else torch, node.function)(x)


def _resolve(dotted: str) -> Any:
    import importlib

    module, _, attribute = dotted.rpartition(".")
    return getattr(importlib.import_module(module), attribute)


def _dropout_module(node: Dropout, x: tuple) -> Any:
    from torch import nn

    return nn.Dropout(node.p)


def _dropout_from_call(call: Any, name: str) -> Dropout:
    return Dropout(name, bind(call, ("input", "p"), {"p": 0.5})["p"])


def _activation_forms() -> FxForms:
    modules, functions, methods = {}, {}, {}
    for function, spec in FUNCTIONS.items():
        modules[spec.module] = ((lambda f: lambda m, name: Activation(name, f))(function), None)
        for dotted in spec.functions:
            functions[dotted] = (lambda f: lambda call, name: Activation(name, f))(function)
        for method in spec.methods:
            methods[method] = (lambda f: lambda call, name: Activation(name, f))(function)
    return FxForms(modules, functions, methods)


KINDS = (
    Kind(Activation, same_shape, no_counts, fvcore=by_function("fvcore"), ptflops=by_function("ptflops"), free=True,
         archfile=tuple(ArchType(function, {}, (lambda f: lambda name, fields, rank: Activation(name, f))(function),
                                 "act") for function in FUNCTIONS),
         torch_module=_activation_module, torch_call=_activation_call, fx=_activation_forms()),
    Kind(Dropout, same_shape, no_counts, free=True,
         fvcore=uncounted("aten::dropout is in fvcore's _IGNORED_OPS"),
         ptflops=uncounted("nn.Dropout has no hook and F.dropout is not patched"),
         archfile=(ArchType("dropout", {"p": Field("prob", 0.5)}, lambda name, f, rank: Dropout(name, f["p"]),
                            "drop"),),
         torch_module=_dropout_module,
         # Dropout2d is the identity at inference, like Dropout.
         fx=FxForms(modules={"torch.nn.Dropout": (lambda m, name: Dropout(name, m.p), None),
                             "torch.nn.Dropout2d": (lambda m, name: Dropout(name, m.p), None)},
                    functions={_F + "dropout": _dropout_from_call, _F + "dropout2d": _dropout_from_call})),
)
