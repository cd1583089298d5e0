"""torch.fx nodes as units of cnncost's description: leaf layers, pass-throughs and merges.

One table per kind of fx node, in the style of fvcore's handle tables: ``MODULES``
maps an ``nn.Module`` type to a converter, ``FUNCTIONS`` a function object, ``METHODS``
a Tensor method name. A node with no entry becomes a ``BAD`` unit: the importer lists
it by name and refuses to count, never counting it as zero. Shape bookkeeping
(``x.size(0)``, ``x.shape[0]``) becomes ``SHAPE`` units, so ``x.view(x.size(0), -1)``
can be recognised as a flatten.
"""

from __future__ import annotations

import operator
from typing import Any, Callable, NamedTuple

import torch
import torch.nn.functional as F
from torch import fx, nn

from cnncost import layers as L

# Unit kinds.
SOURCE, LEAF, PASS, ADD, CAT, SHAPE, BAD = "source", "leaf", "pass", "add", "cat", "shape", "bad"
TENSOR_KINDS = (SOURCE, LEAF, PASS, ADD, CAT, BAD)


class Unit(NamedTuple):
    """One fx node as the decomposition sees it."""

    kind: str  # one of the kinds above
    inputs: tuple = ()  # fx nodes whose tensors it consumes (LEAF, PASS: one; ADD: two; CAT: any)
    layer: Any = None  # LEAF: the cnncost.layers node
    name: str = ""  # LEAF, ADD, CAT: the node's name in the description
    batch: bool = False  # SHAPE: the value is the batch size (dim 0)
    call: str = ""  # ADD: how the add was written (cnncost.layers.Residual.call)
    dims: Any = None  # SHAPE: dims of inputs[0] it holds, a tuple, or "all" (x.shape, x.size())


class Call(NamedTuple):
    """A call's arguments with sizes taken from the input already resolved (what ``bind`` reads)."""

    args: tuple
    kwargs: dict


class Unsupported(Exception):
    """A node cnncost has no rule for; the message says what it is."""


def _pair(value: Any) -> Any:
    """(3, 3) -> 3: equal pairs read better in formulas; unequal pairs stay pairs."""
    if isinstance(value, (tuple, list)):
        value = tuple(value)
        return value[0] if len(value) == 2 and value[0] == value[1] else value
    return value


# --- modules -------------------------------------------------------------------

def _conv(m: nn.Conv2d, name: str) -> L.Conv2d:
    if m.padding_mode != "zeros":
        raise Unsupported(f"Conv2d with padding_mode={m.padding_mode!r}")
    padding = m.padding if isinstance(m.padding, str) else _pair(m.padding)
    return L.Conv2d(name, m.out_channels, _pair(m.kernel_size), _pair(m.stride), padding,
                    _pair(m.dilation), m.groups, m.bias is not None)


def _max_pool(m: nn.MaxPool2d, name: str) -> L.MaxPool2d:
    if m.return_indices:
        raise Unsupported("MaxPool2d with return_indices=True")
    return L.MaxPool2d(name, _pair(m.kernel_size), _pair(m.stride), _pair(m.padding), _pair(m.dilation),
                       m.ceil_mode)


def _avg_pool(m: nn.AvgPool2d, name: str) -> L.AvgPool2d:
    if m.divisor_override is not None:
        raise Unsupported("AvgPool2d with divisor_override")
    return L.AvgPool2d(name, _pair(m.kernel_size), _pair(m.stride), _pair(m.padding), m.ceil_mode,
                       m.count_include_pad)


def _adaptive(m: nn.AdaptiveAvgPool2d, name: str) -> L.AdaptiveAvgPool2d:
    return _adaptive_pool(name, m.output_size)


def _adaptive_pool(name: str, size: Any) -> L.AdaptiveAvgPool2d:
    if size is None or (isinstance(size, (tuple, list)) and None in size):
        raise Unsupported("AdaptiveAvgPool2d keeping an input size, None")
    return L.AdaptiveAvgPool2d(name, _pair(size))


def _batchnorm(kind: type) -> Callable:
    def convert(m: nn.Module, name: str):
        """The BatchNorm node of module ``m``."""
        return kind(name, m.affine, m.track_running_stats, m.eps)

    return convert


def _flatten(m: nn.Flatten, name: str) -> L.Flatten:
    return _flatten_dims(name, m.start_dim, m.end_dim)


def _flatten_dims(name: str, start: int, end: int) -> L.Flatten:
    if (start, end) != (1, -1):
        raise Unsupported(f"flatten of dims {start} to {end}; only a flatten from dim 1 keeps the batch")
    return L.Flatten(name)


def _activation(function: str) -> Callable:
    return lambda m, name: L.Activation(name, function)


ACTIVATION_MODULES = {nn.ReLU: "relu", nn.ReLU6: "relu6", nn.GELU: "gelu", nn.SiLU: "silu", nn.Mish: "mish",
                      nn.ELU: "elu", nn.Tanh: "tanh", nn.Sigmoid: "sigmoid"}

MODULES: dict[type, Callable] = {
    nn.Conv2d: _conv,
    nn.Linear: lambda m, name: L.Linear(name, m.out_features, m.bias is not None),
    nn.MaxPool2d: _max_pool,
    nn.AvgPool2d: _avg_pool,
    nn.AdaptiveAvgPool2d: _adaptive,
    nn.BatchNorm2d: _batchnorm(L.BatchNorm2d),
    nn.BatchNorm1d: _batchnorm(L.BatchNorm1d),
    nn.Dropout: lambda m, name: L.Dropout(name, m.p),
    nn.Dropout2d: lambda m, name: L.Dropout(name, m.p),  # identity at inference, like Dropout
    nn.Flatten: _flatten,
    nn.ZeroPad2d: lambda m, name: L.ZeroPad2d(name, tuple(m.padding)),
    nn.Identity: None,  # a pass-through: no node
    **{kind: _activation(function) for kind, function in ACTIVATION_MODULES.items()},
}

# What the module was built for, checked against the engine's shape walk: the input's dim 0.
EXPECTED_INPUT = {nn.Conv2d: "in_channels", nn.Linear: "in_features", nn.BatchNorm2d: "num_features",
                  nn.BatchNorm1d: "num_features"}


def module_rule(module: nn.Module) -> type | None:
    """The MODULES key for ``module``: its own type, or a base whose forward it does not override."""
    if type(module) in MODULES:
        return type(module)
    for kind in MODULES:
        if isinstance(module, kind) and type(module).forward is kind.forward:
            return kind
    return None


# --- functions and methods -----------------------------------------------------

def bind(node: fx.Node, names: tuple, defaults: dict) -> dict:
    """The call's arguments by parameter name (positional first, then keywords)."""
    values = dict(defaults)
    values.update(zip(names, node.args))
    values.update(node.kwargs)
    return values


def _activation_call(function: str) -> Callable:
    return lambda node, name: L.Activation(name, function)


def _max_pool_call(node: fx.Node, name: str) -> L.MaxPool2d:
    a = bind(node, ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"),
             {"stride": None, "padding": 0, "dilation": 1, "ceil_mode": False, "return_indices": False})
    if a["return_indices"]:
        raise Unsupported("max_pool2d with return_indices=True")
    return L.MaxPool2d(name, _pair(a["kernel_size"]), _pair(a["stride"] or None), _pair(a["padding"]),
                       _pair(a["dilation"]), a["ceil_mode"])


def _avg_pool_call(node: fx.Node, name: str) -> L.AvgPool2d:
    a = bind(node, ("input", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad",
                    "divisor_override"),
             {"stride": None, "padding": 0, "ceil_mode": False, "count_include_pad": True, "divisor_override": None})
    if a["divisor_override"] is not None:
        raise Unsupported("avg_pool2d with divisor_override")
    return L.AvgPool2d(name, _pair(a["kernel_size"]), _pair(a["stride"] or None), _pair(a["padding"]),
                       a["ceil_mode"], a["count_include_pad"])


def _pad_call(node: fx.Node, name: str) -> L.ZeroPad2d:
    a = bind(node, ("input", "pad", "mode", "value"), {"mode": "constant", "value": None})
    if a["mode"] != "constant" or a["value"] not in (None, 0) or len(a["pad"]) != 4:
        raise Unsupported("F.pad other than zero padding of the last two dimensions")
    return L.ZeroPad2d(name, tuple(a["pad"]))


def _dropout_call(node: fx.Node, name: str) -> L.Dropout:
    return L.Dropout(name, bind(node, ("input", "p"), {"p": 0.5})["p"])


def _flatten_call(node: fx.Node, name: str) -> L.Flatten:
    a = bind(node, ("input", "start_dim", "end_dim"), {"start_dim": 0, "end_dim": -1})
    return _flatten_dims(name, a["start_dim"], a["end_dim"])


LEAF_FUNCTIONS: dict[Any, Callable] = {
    **{f: _activation_call("relu") for f in (F.relu, F.relu_, torch.relu, torch.relu_)},
    F.relu6: _activation_call("relu6"), F.gelu: _activation_call("gelu"), F.silu: _activation_call("silu"),
    F.mish: _activation_call("mish"), F.elu: _activation_call("elu"),
    **{f: _activation_call("tanh") for f in (torch.tanh, F.tanh)},
    **{f: _activation_call("sigmoid") for f in (torch.sigmoid, F.sigmoid)},
    F.max_pool2d: _max_pool_call,
    F.avg_pool2d: _avg_pool_call,
    F.adaptive_avg_pool2d: lambda node, name: _adaptive_pool(name, bind(node, ("input", "output_size"), {})
                                                              ["output_size"]),
    F.pad: _pad_call,
    F.dropout: _dropout_call,
    F.dropout2d: _dropout_call,
    torch.flatten: _flatten_call,
}

LEAF_METHODS: dict[str, Callable] = {
    **{m: _activation_call("relu") for m in ("relu", "relu_")},
    **{m: _activation_call("sigmoid") for m in ("sigmoid", "sigmoid_")},
    **{m: _activation_call("tanh") for m in ("tanh", "tanh_")},
    "flatten": _flatten_call,
}

ADD_FUNCTIONS = (operator.add, operator.iadd, torch.add)
ADD_METHODS = ("add", "add_")
CAT_FUNCTIONS = (torch.cat, torch.concat, torch.concatenate)
# Windows that may be given as the pooled tensor's own size: argument name -> position.
WINDOW_ARGUMENTS = {F.max_pool2d: {"kernel_size": 1, "stride": 2}, F.avg_pool2d: {"kernel_size": 1, "stride": 2}}
RESHAPES = (torch.reshape,)
RESHAPE_METHODS = ("view", "reshape")
PASS_METHODS = ("contiguous", "clone")


def call_form(node: fx.Node) -> str:
    """How a function or method call was written, as ``cnncost.layers`` records it: "method"
    (x.relu()), "function" (F.relu; F.relu_ is torch.relu_ itself) or "torch" (torch.relu).

    ptflops patches some ``F.*`` functions and no ``torch.*`` one of these, so the form
    changes its count (``cnncost.tool_conventions``)."""
    if node.op == "call_method":
        return "method"
    return "function" if describe(node).startswith("F.") else "torch"


ADD_FORMS = {operator.add: "operator", operator.iadd: "operator", torch.add: "torch", "add": "method",
             "add_": "method_"}  # fx traces ``a += b`` as operator.add: Proxy has no __iadd__


def describe(node: fx.Node) -> str:
    """What a call node calls, readably: torch.matmul, operator.mul, Tensor.permute."""
    if node.op == "call_method":
        return f"Tensor.{node.target}"
    target = node.target
    name = getattr(target, "__name__", repr(target))
    module = getattr(target, "__module__", None) or ""
    if module in ("_operator", "operator"):
        return f"operator.{name}"
    if module.startswith("torch.nn.functional") or module == "torch._C._nn":
        return f"F.{name}"
    if module.startswith("torch") or isinstance(target, type(torch.add)):
        return f"torch.{name}"
    return f"{module}.{name}" if module else name
