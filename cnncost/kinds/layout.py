"""Layers that only reorder dims: ``Permute`` (ConvNeXt's channels-last switches), in one place.

Shapes stay positional after a permute: a channels-last tensor is (H, W, C), and the layers that
follow read it as torch does (a Linear maps its last dim, a LayerNorm normalises it).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ..errors import CnncostError
from ..tool_conventions import uncounted
from .base import FxForms, Kind, Unsupported, call_module, no_counts
from .saving import view


class Permute(NamedTuple):
    """The input's dims in a new order; ``dims`` number the dims without the batch (0 = the first)."""

    name: str
    dims: tuple  # e.g. (1, 2, 0): C×H×W -> H×W×C
    call: str = "method"  # written as: method (x.permute(...)) or torch (torch.permute(x, ...))


def permute_shape(node: Permute, x: tuple) -> tuple:
    """The dims of ``x`` in ``dims`` order."""
    if sorted(node.dims) != list(range(len(x))):
        raise CnncostError(f"{node.name}: permutation {node.dims} does not reorder a {len(x)}-D input")
    return tuple(x[d] for d in node.dims)


def _from_call(call: Any, name: str) -> Permute:
    dims = call.args[1:] if len(call.args) > 1 else call.kwargs.get("dims", ())
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    dims = tuple(dims)
    if not dims or not all(type(d) is int for d in dims):
        raise Unsupported("permute with dims that are not numbers")
    dims = tuple(d % len(dims) for d in dims)
    if dims[0] != 0:
        raise Unsupported(f"permute {dims} moving the batch dim")
    return Permute(name, tuple(d - 1 for d in dims[1:]))


def _permute_call(node: Permute, x: Any) -> Any:
    import torch

    dims = (0,) + tuple(d + 1 for d in node.dims)
    return torch.permute(x, dims) if node.call == "torch" else x.permute(*dims)


_permute_module = call_module("Permute", lambda node, x: _permute_call(node, x), "A permute as a module.")


KINDS: tuple[Kind, ...] = (
    Kind(Permute, permute_shape, no_counts, free=True, layout=True,
         fvcore=uncounted("aten::permute is in fvcore's _IGNORED_OPS"),
         ptflops=uncounted("torch.permute and Tensor.permute are not patched"),
         torch_module=_permute_module, torch_call=_permute_call, step=view,
         fx=FxForms(functions={"torch.permute": _from_call}, methods={"permute": _from_call})),
)


class ChannelSlice(NamedTuple):
    """One part of the channels: ``x.chunk(parts, dim=1)[index]`` (ShuffleNetV2's channel split)."""

    name: str
    parts: int  # chunks asked for
    index: int  # type: ignore[assignment]  # which one (the name shadows tuple.index)
    call: str = "method"  # written as: method (x.chunk(...)) or torch (torch.chunk(x, ...))


def chunk_bounds(node: ChannelSlice, channels: Any) -> tuple:
    """(start, length) of the chunk, as torch.chunk splits: pieces of ⌈C/parts⌉, the last one smaller;
    fewer pieces than asked when C is small (then a missing index is an error)."""
    size = -((-channels) // node.parts)
    start = node.index * size
    if type(channels) is int and start >= channels:
        raise CnncostError(f"{node.name}: chunk {node.index} of {node.parts} does not exist for {channels} channels")
    length = size if type(channels) is not int else min(size, channels - start)
    if type(channels) is not int and node.index == node.parts - 1:
        length = channels - start
    return start, length


def slice_shape(node: ChannelSlice, x: tuple) -> tuple:
    """The chunk's channels, the spatial size unchanged."""
    return (chunk_bounds(node, x[0])[1],) + tuple(x[1:])


def _slice_call(node: ChannelSlice, x: Any) -> Any:
    import torch

    parts = torch.chunk(x, node.parts, dim=1) if node.call == "torch" else x.chunk(node.parts, dim=1)
    return parts[node.index]


def chunk_arguments(call: Any) -> int:
    """The number of chunks of ``x.chunk(n, dim=1)``; other dims raise ``Unsupported``."""
    from .base import bind

    a = bind(call, ("input", "chunks", "dim"), {"dim": 0})
    if a["dim"] not in (1, -3) or type(a["chunks"]) is not int or a["chunks"] < 1:
        raise Unsupported(f"chunk into {a['chunks']!r} along dim {a['dim']!r}; only channels, dim 1, are split")
    return a["chunks"]


KINDS += (
    Kind(ChannelSlice, slice_shape, no_counts, free=True,
         fvcore=uncounted("aten::chunk is in fvcore's _IGNORED_OPS"),
         ptflops=uncounted("torch.chunk and Tensor.chunk are not patched"),
         torch_module=call_module("ChannelSlice", lambda node, x: _slice_call(node, x), "A chunk as a module."),
         torch_call=_slice_call, step=view,
         fx=FxForms(importer="zoo.fx_units._parts (x.chunk(n, dim=1), then an index)")),
)
