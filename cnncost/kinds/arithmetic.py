"""Arithmetic with a constant or a learned tensor: ``Scale`` (``x * 0.5``, ConvNeXt's
``self.layer_scale * x``, ``x - mean``), everything about it in one place.

Arithmetic between two tensors computed from the input is a merge (``layers.Residual``
with its ``op``), not a leaf; the tools' rules for both are here, so one table says how
fvcore and ptflops count an elementwise operation written each way.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ..arith import product
from ..errors import CnncostError
from ..tool_conventions import uncounted
from .base import Counts, FxForms, Kind, State
from .saving import Effect, Saved, Site

OPS = ("add", "sub", "mul", "div")
SYMBOLS = {"add": "+", "sub": "−", "mul": "×", "div": "/"}


class Scale(NamedTuple):
    """``x op c``: an elementwise operation with a constant or with a tensor the module holds."""

    name: str
    op: str = "mul"  # add, sub, mul, div
    operand: tuple | None = None  # the held tensor's shape as torch has it; None: a Python number
    learned: bool = True  # the held tensor is a parameter (counted), not a buffer (a constant)
    value: float = 1.0  # the number, when ``operand`` is None
    call: str = "operator"  # written as: operator (x * c), torch (torch.mul), method (x.mul(c)), method_ (x.mul_(c))


def broadcast(name: str, x: tuple, other: tuple) -> tuple:
    """The shape of ``x op other`` (batch excluded from ``x``; ``other`` as torch holds it), as torch
    broadcasts: trailing dims aligned, each pair equal or one of them 1. A held tensor may not
    reach into the batch dimension with a size other than 1."""
    if len(other) > len(x) + 1 or (len(other) == len(x) + 1 and other[0] != 1):
        raise CnncostError(f"{name}: a held tensor of shape {_fmt(other)} does not broadcast over a batch of "
                           f"{_fmt(x)} inputs (its dims beyond the input's must be 1)")
    other = other[-len(x):] if len(other) > len(x) else (1,) * (len(x) - len(other)) + tuple(other)
    out = []
    for a, b in zip(x, other):
        if b == 1 or _same(a, b):
            out.append(a)
        elif a == 1:
            out.append(b)
        else:
            raise CnncostError(f"{name}: shapes {_fmt(x)} and {_fmt(other)} do not broadcast")
    return tuple(out)


def _same(a: Any, b: Any) -> bool:
    difference = a - b
    return difference == 0 or getattr(difference, "is_zero", False) is True


def _fmt(shape: tuple) -> str:
    return "×".join(str(d) for d in shape)


def scale_shape(node: Scale, x: tuple) -> tuple:
    """The broadcast shape (a number keeps the input's shape)."""
    return x if node.operand is None else broadcast(node.name, x, node.operand)


def scale_counts(node: Scale, x: tuple, y: tuple) -> Counts:
    """A learned tensor's elements are parameters; elementwise arithmetic is no MAC in these conventions."""
    return Counts(params=product(node.operand) if node.operand is not None and node.learned else 0)


def patched_elementwise(a: tuple, b: tuple | None) -> Any:
    """ptflops' _elementwise_tensor_flops_hook (pytorch_ops.py:397-419) on shapes with the batch of 1:
    a number counts the tensor's elements; two tensors count the product of the per-dim maxima,
    dims aligned from the LEFT (not as torch broadcasts), a missing dim read as 1."""
    if b is None:
        return product(a)
    size = max(len(a), len(b))
    dims = []
    for i in range(size):
        u, v = a[i] if i < len(a) else 1, b[i] if i < len(b) else 1
        dims.append(u if _known_greater(u, v) else v)
    return product(dims)


def _known_greater(u: Any, v: Any) -> bool:
    if type(u) is int and type(v) is int:
        return u > v
    if v == 1:
        return True  # a symbolic size is at least 1, and the hook keeps the other one on a tie
    if u == 1:
        return False
    if _same(u, v):
        return False
    raise CnncostError(f"cannot tell which of {u} and {v} is larger (ptflops' elementwise count depends on it)")


# ptflops patches torch.add/Tensor.add and torch.mul/Tensor.mul (pytorch_engine.py:451-456); nothing else.
PATCHED = {("add", "torch"), ("add", "method"), ("mul", "torch"), ("mul", "method")}
_FVCORE = uncounted("fvcore has no handler for aten::add/sub/mul/div (unsupported ops, counted 0)")


def ptflops_scale(node: Scale, x: tuple, y: tuple) -> Any:
    """Patched torch.add/torch.mul/Tensor.add/Tensor.mul: _elementwise_tensor_flops_hook; other forms
    (a * b, a.mul_(b), torch.sub, torch.div, ...) are not patched: 0."""
    if (node.op, node.call) not in PATCHED:
        return 0
    return patched_elementwise((1,) + tuple(x), node.operand)


CALLS = ("operator", "torch", "method", "method_")


def merge_ptflops(op: str, call: str, a: tuple, b: tuple) -> Any:
    """What ptflops counts for ``a op b`` of two tensors (shapes without the batch), by how it was written;
    the int 0 for a form it does not patch. An unknown op or form raises, never a silent zero."""
    if op not in OPS or call not in CALLS:
        raise CnncostError(f"the ptflops convention has no rule for {op!r} written as {call!r} "
                           f"(known: {', '.join(OPS)} as {', '.join(CALLS)})")
    if (op, call) not in PATCHED:
        return 0
    return patched_elementwise((1,) + tuple(a), (1,) + tuple(b))


def apply(op: str, call: str, a: Any, b: Any) -> Any:
    """``a op b`` computed in the recorded form, so ptflops sees what the user's code did."""
    import operator

    import torch

    if call == "operator":
        return getattr(operator, {"div": "truediv"}.get(op, op))(a, b)
    if call == "torch":
        return getattr(torch, op)(a, b)
    return getattr(a, op + ("_" if call == "method_" else ""))(b)


_MODULE: list = []  # the torch class, made once on first use: cnncost imports without torch


def _torch_scale(node: Scale, x: tuple) -> Any:
    if not _MODULE:
        from torch import nn

        class ScaleModule(nn.Module):
            """``x op weight`` (a parameter or buffer of the node's shape) or ``x op value``."""

            def __init__(self, node: Scale):
                super().__init__()
                self.node = node
                if node.operand is not None:
                    import torch

                    weight = torch.ones(node.operand)
                    if node.learned:
                        self.weight = nn.Parameter(weight)
                    else:
                        self.register_buffer("weight", weight)

            def forward(self, x):
                """The operation in its recorded form."""
                other = self.weight if self.node.operand is not None else self.node.value
                return apply(self.node.op, self.node.call, x, other)

            # A held tensor is an attribute of the user's module (ConvNeXt's ``layer_scale``), so its
            # state_dict key is the node's own path, not ``<path>.weight``. The container holding this
            # module accepts that key (zoo.from_spec.Container).
            def _save_to_state_dict(self, destination, prefix, keep_vars):
                if self.node.operand is not None:
                    destination[prefix[:-1]] = self.weight if keep_vars else self.weight.detach()

            def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs):
                # torch hands a child only the keys below ``<path>.``: the container that holds this
                # module loads its tensor from ``<path>`` (zoo.from_spec._load_with_held_tensors).
                if self.node.operand is None:
                    super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                                  unexpected_keys, error_msgs)

        _MODULE.append(ScaleModule)
    return _MODULE[0](node)


def scale_step(node: Scale, site: Site) -> Effect:
    """``x op c``: by a number nothing is saved. By a held tensor (model state) add and sub save nothing;
    mul and div save x only for the tensor's gradient (a learned tensor that trains), and the tensor itself
    (model state) for x's. A held tensor is float32: a lower-precision x is promoted."""
    if node.operand is None:
        return Effect()
    saved = (Saved("input"),) if node.op in ("mul", "div") and node.learned and site.trains else ()
    return Effect(saved, dtype="fp32")


def scale_state(node: Scale, x: tuple) -> State:
    """A learned tensor is one parameter tensor; a constant one a float32 buffer."""
    if node.operand is None:
        return State()
    return State(1) if node.learned else State(0, 4 * product(node.operand))


def merge_saved(op: str, body: Any, shortcut: Any) -> tuple:
    """Which operands of ``body op shortcut`` (each a saving.Tensor) autograd saves: none for add and sub; for
    mul each operand for the other's gradient; for div the dividend for the divisor's gradient and the
    divisor for either's (derivatives.yaml: mul.Tensor, div.Tensor)."""
    if op in ("add", "sub"):
        return ()
    saved = (body,) if shortcut.grad else ()
    if body.grad or (op == "div" and shortcut.grad):
        saved += (shortcut,)
    return saved


KINDS = (
    Kind(Scale, scale_shape, scale_counts, stateful=lambda n: n.operand is not None and n.learned,
         fvcore=_FVCORE, ptflops=ptflops_scale, torch_module=_torch_scale, step=scale_step, state=scale_state,
         # Recognised by the importer from the arithmetic calls themselves (zoo.fx_units), not by a table.
         fx=FxForms(importer="zoo.fx_units._arithmetic")),
)
