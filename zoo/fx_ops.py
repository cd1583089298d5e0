"""torch.fx nodes as units of cnncost's description: leaf layers, pass-throughs and merges.

One table per kind of fx node, in the style of fvcore's handle tables, gathered from the
layer kinds (``cnncost.kinds``, each kind's ``fx`` forms): ``MODULES`` maps an ``nn.Module``
type to a converter, ``LEAF_FUNCTIONS`` a function object, ``LEAF_METHODS`` a Tensor
method name. A node with no entry becomes a ``BAD`` unit: the importer lists
it by name and refuses to count, never counting it as zero. Shape bookkeeping
(``x.size(0)``, ``x.shape[0]``) becomes ``SHAPE`` units, so ``x.view(x.size(0), -1)``
can be recognised as a flatten.
"""

from __future__ import annotations

import importlib
import operator
import os
from typing import Any, NamedTuple

import torch
from torch import fx, nn

from cnncost.kinds import KINDS
from cnncost.kinds.base import Unsupported, bind

__all__ = ["ADD", "BAD", "CAT", "GROUPED", "LEAF", "PARAM", "PARTS", "PASS", "SHAPE", "SOURCE", "TENSOR_KINDS",
           "TUPLE", "Call", "Unit", "Unsupported", "bind", "describe", "call_form", "module_rule", "resolve"]

# Unit kinds.
SOURCE, LEAF, PASS, ADD, CAT, SHAPE, BAD = "source", "leaf", "pass", "add", "cat", "shape", "bad"
PARAM = "param"  # a parameter or buffer read directly (get_attr): an operand, not on the tensor path
PARTS = "parts"  # x.chunk(n, dim=1): the parts an index picks
GROUPED = "grouped"  # a channel shuffle's intermediate view (call: "viewed", then "transposed")
TUPLE = "tuple"  # a namedtuple of outputs (GoogLeNetOutputs(logits, aux2, aux1)): only forward may return it
TENSOR_KINDS = (SOURCE, LEAF, PASS, ADD, CAT, BAD)


class Unit(NamedTuple):
    """One fx node as the decomposition sees it."""

    kind: str  # one of the kinds above
    inputs: tuple = ()  # fx nodes whose tensors it consumes (LEAF, PASS: one; ADD: two; CAT: any)
    layer: Any = None  # LEAF: the cnncost.layers node
    name: str = ""  # LEAF, ADD, CAT: the node's name in the description
    batch: bool = False  # SHAPE: the value is the batch size (dim 0)
    call: str = ""  # ADD: how the op was written (cnncost.layers.Residual.call)
    dims: Any = None  # SHAPE: dims of inputs[0] it holds, a tuple, or "all" (x.shape, x.size()); PARAM: its shape
    op: str = ""  # ADD: add, sub, mul or div (a merge of two tensors)
    learned: bool = False  # PARAM: a parameter (counted), not a buffer


class Call(NamedTuple):
    """A call's arguments with sizes taken from the input already resolved (what ``bind`` reads)."""

    args: tuple
    kwargs: dict


def resolve(dotted: str) -> Any:
    """The torch object a kind names by dotted path ("torch.nn.Conv2d", "torch.nn.functional.relu")."""
    module, _, attribute = dotted.rpartition(".")
    return getattr(importlib.import_module(module), attribute)


def _tables() -> tuple:
    """(modules, expected inputs, functions, methods, windows) of every kind, torch objects resolved."""
    modules: dict = {nn.Identity: None}  # a pass-through: no node
    expected, functions, methods, windows = {}, {}, {}, {}
    for kind in KINDS.values():
        for dotted, (convert, attribute) in kind.fx.modules.items():
            modules[resolve(dotted)] = convert
            if attribute:
                expected[resolve(dotted)] = attribute
        functions.update({resolve(dotted): convert for dotted, convert in kind.fx.functions.items()})
        methods.update(kind.fx.methods)
        windows.update({resolve(dotted): arguments for dotted, arguments in kind.fx.windows.items()})
    return modules, expected, functions, methods, windows


# nn.Module type -> converter(module, name); what each module was built for (its input's dim 0, checked
# against the engine's shape walk); function object -> converter(call, name); Tensor method -> converter;
# windows that may be given as the pooled tensor's own size: function -> {argument name: position}.
MODULES, EXPECTED_INPUT, LEAF_FUNCTIONS, LEAF_METHODS, WINDOW_ARGUMENTS = _tables()


def module_rule(module: nn.Module) -> type | None:
    """The MODULES key for ``module``: its own type, or a base whose forward it does not override."""
    if type(module) in MODULES:
        return type(module)
    for kind in MODULES:
        if isinstance(module, kind) and type(module).forward is kind.forward:
            return kind
    return None


# Elementwise arithmetic, as (op, how it was written): ptflops patches torch.add/torch.mul and the
# Tensor methods add/mul, so the form changes its count (cnncost.kinds.arithmetic). fx traces
# ``a += b`` as operator.add (Proxy has no __iadd__); in-place operators are listed for symbolic_trace
# of code that calls them directly.
ARITHMETIC_FUNCTIONS = {
    operator.add: ("add", "operator"), operator.iadd: ("add", "operator"), torch.add: ("add", "torch"),
    operator.sub: ("sub", "operator"), operator.isub: ("sub", "operator"), torch.sub: ("sub", "torch"),
    torch.subtract: ("sub", "torch"),
    operator.mul: ("mul", "operator"), operator.imul: ("mul", "operator"), torch.mul: ("mul", "torch"),
    torch.multiply: ("mul", "torch"),
    operator.truediv: ("div", "operator"), operator.itruediv: ("div", "operator"), torch.div: ("div", "torch"),
    torch.divide: ("div", "torch"), torch.true_divide: ("div", "torch"),
}
ARITHMETIC_METHODS = {method + suffix: (op, form) for op in ("add", "sub", "mul", "div")
                      for method in (op,) for suffix, form in (("", "method"), ("_", "method_"))}
SIZE_ARITHMETIC = (operator.floordiv, operator.mod, operator.neg)  # only ever on sizes (x.size(1) // g)
def _held_arguments() -> dict:
    """Functions a module may pass its own parameters to: function -> (converter, argument names)."""
    from cnncost.kinds.norm import layer_norm_from_call

    def layer_norm(call: Any, name: str) -> Any:
        return layer_norm_from_call(call, name, parameters=True)

    names = ("input", "normalized_shape", "weight", "bias", "eps")
    return {torch.nn.functional.layer_norm: (layer_norm, names), torch.layer_norm: (layer_norm, names)}


HELD_ARGUMENTS = _held_arguments()
CAT_FUNCTIONS = (torch.cat, torch.concat, torch.concatenate)
# Windows that may be given as the pooled tensor's own size: argument name -> position.
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
    if node.target is torch.nn.functional.interpolate and _called_from(node, "upsample"):
        return "upsample"  # F.upsample (deprecated) calls F.interpolate; ptflops patches both
    if node.target in PATCHED_FUNCTIONS:
        return _patched_form(node)
    return "function" if describe(node).startswith("F.") else "torch"


# The torch.nn.functional functions ptflops replaces while it counts (ptflops/pytorch_engine.py:348-391): a
# call reaches the replacement only if it looks the function up on the module when it runs (F.relu(x)); one
# bound before (``from torch.nn.functional import relu``, ``act=F.relu`` as a default argument, ``self.act =
# F.relu``) calls the original, which ptflops never sees. fx records the same function either way, so the
# source line of the call tells them apart.
PATCHED_FUNCTIONS = {getattr(torch.nn.functional, name): name for name in (
    "relu", "prelu", "elu", "relu6", "gelu", "silu", "softmax", "upsample", "interpolate",
    *(f"{kind}_pool{d}d" for kind in ("avg", "max") for d in (1, 2, 3)),
    *(f"adaptive_{kind}_pool{d}d" for kind in ("avg", "max") for d in (1, 2, 3)))}


def _patched_form(node: fx.Node) -> str:
    """"function" for a call that looks the function up as it runs (``F.relu(x)``; torch's own code calling
    it by its global name, as F.upsample_nearest calls interpolate), "bound" for one that calls a reference
    taken earlier; a call whose source line cannot be read, or that is written both ways, is refused."""
    import re

    name = PATCHED_FUNCTIONS[node.target]
    for file, line in reversed(_caller_frames(node)):  # innermost first
        if file.endswith(os.path.join("torch", "nn", "functional.py")):
            if re.search(rf"(?<![\w.]){name}\s*\(", line):
                return "function"  # a global of torch.nn.functional: what ptflops replaces
            continue  # the function's own dispatch (handle_torch_function(relu, ...), boolean_dispatch)
        # F.relu(x), torch.nn.functional.relu(x), getattr(F, "relu")(x): looked up as the call runs.
        looked_up = re.search(rf"\.\s*{name}\s*\(", line) is not None or "getattr(" in line
        by_name = re.search(rf"(?<![\w.]){name}\s*\(", line) is not None  # relu(x) after an import
        if looked_up and by_name:
            raise Unsupported(f"{describe(node)} written both ways on one line ({line!r}): ptflops counts only one")
        return "function" if looked_up else "bound"  # neither: a reference held elsewhere (self.act(x))
    raise Unsupported(f"{describe(node)} called from code whose source cannot be read (whether ptflops "
                      "sees the call depends on how it is written)")


def _caller_frames(node: fx.Node) -> list:
    """(file, source line) of each frame that led to ``node``, outermost first, without the tracer's,
    torch.fx's and torch's module-calling machinery; frames whose source is unknown are left out."""
    import re

    torch_dir = os.path.dirname(os.path.abspath(torch.__file__))
    skipped = (os.path.dirname(os.path.abspath(__file__)) + os.sep, os.path.join(torch_dir, "fx") + os.sep,
               os.path.join(torch_dir, "overrides.py"), os.path.join(torch_dir, "_jit_internal.py"),
               os.path.join(torch_dir, "nn", "modules", "module.py"))
    frames = re.findall(r'File "([^"]+)", line \d+, in [^\n]*\n([^\n]*)', node.stack_trace or "")
    return [(file, line.strip()) for file, line in frames if not file.startswith(skipped) and line.strip()]


def _called_from(node: fx.Node, function: str) -> bool:
    """Whether fx recorded the call inside torch.nn.functional's ``function`` (its stack trace)."""
    trace = node.stack_trace or ""
    return f"in {function}\n" in trace and "torch/nn/functional.py" in trace




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
