"""Sizes and reshapes in a traced graph: what ``x.size()``, ``x.shape``, size arithmetic, views,
transposes and chunks mean, for the importer (``zoo.fx_units``).

A size read from a tensor is a ``SHAPE`` unit that remembers which dims of which tensor it holds
(``x.size(1) // g`` included), so that ``x.view(x.size(0), -1)`` is a flatten, ``F.avg_pool2d(x,
x.shape[2:])`` a global pool, and ShuffleNetV2's ``view → transpose → view`` a channel shuffle; a
``x.chunk(n, dim=1)`` is ``PARTS`` that an index turns into a ``ChannelSlice``. Anything else that
reads a size or reshapes is refused by name.
"""

from __future__ import annotations

import operator
from typing import Any, Callable, cast

from torch import fx

from cnncost.kinds.layout import ChannelSlice, chunk_arguments
from cnncost.kinds.reshape import ChannelShuffle, Flatten
from cnncost.sizes import WHOLE

from . import fx_ops as ops
from . import fx_units as units
from .fx_ops import BAD, GROUPED, LEAF, PARTS, SHAPE, TENSOR_KINDS, Unit, Unsupported


def sizes_from_input(state: units._State, node: fx.Node) -> Any:
    """The call, a window given as the pooled tensor's own size (``x.shape[2:]``) made ``WHOLE``.

    ``F.avg_pool2d(x, x.size()[2:])`` is a global pool at every input size; any other size
    read from a tensor would fix the count to one input size, so it is refused."""
    windows = ops.WINDOW_ARGUMENTS.get(node.target, {}) if node.op == "call_function" else {}
    args, kwargs = list(node.args), dict(node.kwargs)
    for i, value in enumerate(args[1:], 1):
        args[i] = _window(state, node, value, next((k for k, p in windows.items() if p == i), None))
    for key, value in kwargs.items():
        kwargs[key] = _window(state, node, value, key if key in windows else None)
    return ops.Call(tuple(args), kwargs)


def _window(state: units._State, node: fx.Node, value: Any, argument: str | None) -> Any:
    parts = value if isinstance(value, (tuple, list)) else (value,)
    if not any(units._kind(state, p) == SHAPE for p in parts):
        return value
    dims: Any = ()  # the parts' axes, or None once a part is not a size of this node's input
    for p in parts:
        unit = state.units[p] if units._kind(state, p) == SHAPE else None
        if unit is None or not unit.inputs or unit.inputs[0] is not node.args[0] or \
                not isinstance(unit.dims, tuple):
            dims = None
            break
        dims += unit.dims
    if argument and dims == (2, 3):
        return (WHOLE, WHOLE)
    what = f"{argument or 'an argument'} taken from a tensor's size"
    if argument and dims in ((2,), (3,)):
        what += " (one size for both axes: x.shape[2:] or F.adaptive_avg_pool2d(x, 1) are global pools)"
    raise Unsupported(f"{ops.describe(node)} with {what}")


def size_arithmetic(state: units._State, node: fx.Node) -> Unit:
    """Arithmetic on sizes; ``x.size(1) // g`` is remembered as such (a channel shuffle's group width)."""
    a, b = (list(node.args) + [None])[:2]
    source = state.units.get(a) if isinstance(a, fx.Node) else None
    if node.target is operator.floordiv and source is not None and isinstance(source.dims, tuple) and \
            len(source.dims) == 1 and type(b) is int:
        return Unit(SHAPE, source.inputs, dims=("floordiv", source.dims[0], b))
    return Unit(SHAPE)


def _same_dims(state: units._State, values: tuple, tensor: Any, wanted: tuple) -> bool:
    """Each value is the size ``wanted`` says of ``tensor``: a dim number, -1 (inferred), an int, or
    ("floordiv", dim, g)."""
    if len(values) != len(wanted):
        return False
    for value, want in zip(values, wanted):
        if want == -1 or type(want) is int and not isinstance(value, fx.Node):
            if value != want and not (want == -1 and isinstance(value, fx.Node)):
                return False
            continue
        unit = state.units.get(value) if isinstance(value, fx.Node) else None
        dims = (want,) if type(want) is int else want
        if unit is None or unit.kind != SHAPE or not unit.inputs or unit.inputs[0] is not tensor or unit.dims != dims:
            return False
    return True


def grouping(state: units._State, node: fx.Node) -> None:
    """The steps of ``x.view(b, g, c // g, h, w) → transpose(1, 2) → contiguous() → view(b, -1, h, w)``
    (a channel shuffle), and ``x.chunk(n, dim=1)``, whose parts an index then picks."""
    source = node.args[0]
    unit = state.units.get(source)
    method = node.target if node.op == "call_method" else cast(Callable, node.target).__name__
    if method == "chunk" and units._kind(state, source) in TENSOR_KINDS:
        try:
            parts = chunk_arguments(ops.Call(tuple(node.args), dict(node.kwargs)))
        except Unsupported as why:
            units._bad(state, node, str(why))
            return
        state.units[node] = Unit(PARTS, (source,), dims=parts, call=ops.call_form(node))
    elif method == "transpose" and unit is not None and unit.kind == GROUPED and unit.call == "viewed" and \
            tuple(node.args[1:]) in ((1, 2), (2, 1)):
        state.units[node] = unit._replace(call="transposed")
    elif method in ops.PASS_METHODS and unit is not None and unit.kind == GROUPED:
        state.units[node] = unit
    else:
        units._bad(state, node, ops.describe(node))


def reshape(state: units._State, node: fx.Node, shape: tuple) -> None:
    """``x.view(x.size(0), -1)`` (or reshape, or x.shape[0]) is a flatten; a channel shuffle's views are
    understood (``_grouping``); other reshapes are not."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    batch = len(shape) == 2 and isinstance(shape[0], fx.Node) and state.units[shape[0]].batch
    source = node.args[0]
    unit = state.units.get(source)
    if batch and shape[1] == -1:
        units._call(state, node, lambda n, name: Flatten(name), sizes=False)
    elif len(shape) == 5 and type(shape[1]) is int and units._kind(state, source) in TENSOR_KINDS and \
            _same_dims(state, shape, source, (0, shape[1], ("floordiv", 1, shape[1]), 2, 3)):
        state.units[node] = Unit(GROUPED, (source,), dims=shape[1], call="viewed")
    elif unit is not None and unit.kind == GROUPED and unit.call == "transposed" and (
            _same_dims(state, shape, unit.inputs[0], (0, 1, 2, 3)) or
            _same_dims(state, shape, unit.inputs[0], (0, -1, 2, 3))):
        name = state.namer.fresh(units._scope(node), "channel_shuffle")
        state.units[node] = Unit(LEAF, unit.inputs, ChannelShuffle(name, unit.dims, call="view"), name)
    else:
        units._bad(state, node, f"{ops.describe(node)} to {shape!r}; only x.view(x.size(0), -1) is a flatten")


def shape_attribute(state: units._State, node: fx.Node) -> None:
    if node.args[1] == "shape" and units._kind(state, node.args[0]) in TENSOR_KINDS:
        state.units[node] = Unit(SHAPE, node.args[:1], dims="all")
    else:
        units._bad(state, node, f"getattr {node.args[1]!r}")


def getitem(state: units._State, node: fx.Node) -> None:
    source, index = node.args
    kind = units._kind(state, source)
    if kind == SHAPE:
        unit = state.units[source]
        dims = dims_of(index) if unit.dims == "all" else None
        state.units[node] = Unit(SHAPE, unit.inputs, batch=bool(index == 0), dims=dims)
    elif kind == PARTS and type(index) is int:
        unit = state.units[source]
        name = state.namer.fresh(units._scope(node), "chunk")
        layer = ChannelSlice(name, unit.dims, index % unit.dims, unit.call)
        state.units[node] = Unit(LEAF, unit.inputs, layer, name)
    else:
        units._bad(state, node, "tensor indexing or slicing", listed=kind != BAD)


def dims_of(index: Any) -> tuple | None:
    """Dims of a 4-D tensor's shape an int or slice selects (x.shape[2], x.shape[2:], x.size(-1))."""
    if isinstance(index, int):
        return (index % 4,)
    bounds = (index.start, index.stop, index.step) if isinstance(index, slice) else ()
    if isinstance(index, slice) and all(isinstance(v, (int, type(None))) for v in bounds):
        return tuple(range(4))[index]
    return None
