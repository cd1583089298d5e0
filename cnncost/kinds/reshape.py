"""Layers that only move elements: ``Flatten`` and ``ZeroPad2d``, everything about each in one place."""

from __future__ import annotations

from typing import NamedTuple

from ..arith import product
from ..tool_conventions import uncounted
from .base import ArchType, Field, FxForms, Kind, Unsupported, bind, no_counts, spatial

_NO_HANDLER = "fvcore has no handler for aten::{} (unsupported op, counted 0)"


class Flatten(NamedTuple):
    """Flatten C×H×W to C·H·W features."""

    name: str


class ZeroPad2d(NamedTuple):
    """Explicit zero padding (left, right, top, bottom)."""

    name: str
    padding: tuple  # (left, right, top, bottom)


def flatten_shape(node: Flatten, x: tuple) -> tuple:
    """C×H×W becomes C·H·W features."""
    return (product(x),)


def zeropad_shape(node: ZeroPad2d, x: tuple) -> tuple:
    """Explicit padding enlarges H and W."""
    c, h, w = spatial(node, x)
    left, right, top, bottom = node.padding
    return (c, h + top + bottom, w + left + right)


def zeropad_min_input(node: ZeroPad2d, need: tuple) -> tuple:
    """Padding lowers the input size a later layer needs."""
    left, right, top, bottom = node.padding
    return (need[0] - top - bottom, need[1] - left - right)


def flatten_dims(name: str, start: int, end: int) -> Flatten:
    """A flatten of dims ``start``..``end``; only from dim 1 to the last keeps the batch as cnncost needs."""
    if (start, end) != (1, -1):
        raise Unsupported(f"flatten of dims {start} to {end}; only a flatten from dim 1 keeps the batch")
    return Flatten(name)


def _flatten_from_call(call, name: str) -> Flatten:
    a = bind(call, ("input", "start_dim", "end_dim"), {"start_dim": 0, "end_dim": -1})
    return flatten_dims(name, a["start_dim"], a["end_dim"])


def _pad_from_call(call, name: str) -> ZeroPad2d:
    a = bind(call, ("input", "pad", "mode", "value"), {"mode": "constant", "value": None})
    if a["mode"] != "constant" or a["value"] not in (None, 0) or len(a["pad"]) != 4:
        raise Unsupported("F.pad other than zero padding of the last two dimensions")
    return ZeroPad2d(name, tuple(a["pad"]))


def _flatten_module(node: Flatten, x: tuple):
    from torch import nn

    return nn.Flatten()


def _zeropad_module(node: ZeroPad2d, x: tuple):
    from torch import nn

    return nn.ZeroPad2d(node.padding)


def _zeropad_from_file(name: str, f: dict, rank: int) -> ZeroPad2d:
    return ZeroPad2d(name, f["padding"] if isinstance(f["padding"], tuple) else (f["padding"],) * 4)


KINDS = (
    Kind(Flatten, flatten_shape, no_counts, fvcore=uncounted("aten::flatten is in fvcore's _IGNORED_OPS"),
         ptflops=uncounted("nn.Flatten has no hook"),
         archfile=(ArchType("flatten", {}, lambda name, f, rank: Flatten(name), "flatten"),),
         torch_module=_flatten_module,
         fx=FxForms(modules={"torch.nn.Flatten": (lambda m, name: flatten_dims(name, m.start_dim, m.end_dim), None)},
                    functions={"torch.flatten": _flatten_from_call}, methods={"flatten": _flatten_from_call})),
    Kind(ZeroPad2d, zeropad_shape, no_counts, min_input=zeropad_min_input,
         fvcore=uncounted(_NO_HANDLER.format("pad")),
         ptflops=uncounted("nn.ZeroPad2d has no hook and F.pad is not patched"),
         archfile=(ArchType("zeropad", {"padding": Field("quad", minimum=0)}, _zeropad_from_file, "pad"),),
         torch_module=_zeropad_module,
         fx=FxForms(modules={"torch.nn.ZeroPad2d": (lambda m, name: ZeroPad2d(name, tuple(m.padding)), None)},
                    functions={"torch.nn.functional.pad": _pad_from_call})),
)
