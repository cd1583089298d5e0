"""Layers that only move elements: ``Flatten``, ``ZeroPad2d`` (explicit padding in any of torch's modes) and
``ChannelShuffle``, everything about each in one place."""

from __future__ import annotations

from typing import Any, NamedTuple

from ..arith import exact_div, is_number, maximum, product
from ..errors import CnncostError
from ..tool_conventions import by_call, uncounted
from .base import call_module, ArchType, Field, FxForms, Kind, Unsupported, bind, no_counts, spatial
from .saving import Effect, NotModelled, Saved, Site, nothing, view

# Where fvcore leaves an op without a handle: not in _DEFAULT_SUPPORTED_OPS, nor in _IGNORED_OPS,
# so it is listed as unsupported and adds nothing to the total.
_FVCORE_UNSUPPORTED = "(fvcore/nn/flop_count.py:26-44 has no handle; jit_analysis.py:577-581 skips it)"


class Flatten(NamedTuple):
    """Flatten C×H×W to C·H·W features."""

    name: str


class ZeroPad2d(NamedTuple):
    """Explicit padding (left, right, top, bottom) in one of torch's modes: zeros by default, any constant,
    or the edge values reflected, replicated or wrapped around (nn.ReflectionPad2d, ... and F.pad)."""

    name: str
    padding: tuple  # (left, right, top, bottom)
    mode: str = "constant"  # a key of PAD_MODES: constant, reflect, replicate, circular
    value: float = 0.0  # the fill of mode "constant"


class ChannelShuffle(NamedTuple):
    """ShuffleNet's channel shuffle: C = g·n channels read as g×n, transposed to n×g; no arithmetic."""

    name: str
    groups: Any
    # written as: module (nn.ChannelShuffle), subclass, torch (torch.channel_shuffle, which is
    # F.channel_shuffle), or view (x.view(b, g, c // g, h, w), torch.transpose(x, 1, 2), .contiguous(),
    # .view(b, -1, h, w): torchvision's ShuffleNetV2 idiom)
    call: str = "module"


# How far each mode may pad an axis of length ``size`` (torch checks each side against the input):
# reflect mirrors without repeating the edge, so a side needs pad < size; circular wraps around at
# most once, pad <= size; constant and replicate pad any amount.
PAD_MODES = {"constant": None, "reflect": 1, "replicate": None, "circular": 0}


def flatten_shape(node: Flatten, x: tuple) -> tuple:
    """C×H×W becomes C·H·W features."""
    return (product(x),)


def zeropad_shape(node: ZeroPad2d, x: tuple) -> tuple:
    """Explicit padding enlarges H and W; reflect needs each side's padding below the input size,
    circular at most the input size (checked where both are known)."""
    c, h, w = spatial(node, x)
    left, right, top, bottom = node.padding
    _check_mode(node, node.mode)
    for axis, size, pads in (("height", h, (top, bottom)), ("width", w, (left, right))):
        check_pad_fits(node, node.mode, axis, size, pads)
    return (c, h + top + bottom, w + left + right)


def _check_mode(node: Any, mode: str) -> None:
    if mode not in PAD_MODES:
        raise CnncostError(f"{node.name}: unknown padding mode {mode!r} (known: {', '.join(PAD_MODES)})")


def check_pad_fits(node: Any, mode: str, axis: str, size: Any, pads: tuple) -> None:
    """Raise where ``mode``'s padding of an axis of ``size`` is more than torch allows (known values only)."""
    margin = PAD_MODES[mode]
    if margin is None:
        return
    for pad in pads:
        if not is_number(pad):
            continue
        if pad < 0:
            raise CnncostError(f"{node.name}: negative padding {pad} (cropping) in {mode} mode is not supported")
        if is_number(size) and pad + margin > size:
            limit = "less than" if margin else "at most"
            raise CnncostError(f"{node.name}: {mode} padding {pad} of the {axis} must be {limit} the input "
                               f"{axis} {size}")


def pad_fit_min_input(mode: str, pads: tuple) -> Any:
    """Smallest input length along an axis that ``mode`` can pad by ``pads`` (left/top, right/bottom)."""
    margin = PAD_MODES[mode]
    return 1 if margin is None else maximum(1, *(pad + margin for pad in pads))


def zeropad_min_input(node: ZeroPad2d, need: tuple) -> tuple:
    """Padding lowers the input size a later layer needs; reflect and circular need an input at least
    as large as their padding (reflect: one more)."""
    left, right, top, bottom = node.padding
    h, w = need[0] - top - bottom, need[1] - left - right
    if PAD_MODES.get(node.mode) is None:
        return (h, w)
    return (maximum(h, pad_fit_min_input(node.mode, (top, bottom))),
            maximum(w, pad_fit_min_input(node.mode, (left, right))))


def channel_shuffle_shape(node: ChannelShuffle, x: tuple) -> tuple:
    """The shape is unchanged; the channels must divide by the groups."""
    c, _, _ = spatial(node, x)
    exact_div(c, node.groups, node.name, "channels / groups:")
    return x


def flatten_dims(name: str, start: int, end: int) -> Flatten:
    """A flatten of dims ``start``..``end``; only from dim 1 to the last keeps the batch as cnncost needs."""
    if (start, end) != (1, -1):
        raise Unsupported(f"flatten of dims {start} to {end}; only a flatten from dim 1 keeps the batch")
    return Flatten(name)


def _flatten_from_call(call, name: str) -> Flatten:
    a = bind(call, ("input", "start_dim", "end_dim"), {"start_dim": 0, "end_dim": -1})
    return flatten_dims(name, a["start_dim"], a["end_dim"])


def padding_node(name: str, pad: Any, mode: str, value: Any, what: str) -> ZeroPad2d:
    """The node of ``what`` padding by ``pad`` (torch's order: left, right[, top, bottom]) in ``mode``."""
    if mode not in PAD_MODES:
        raise Unsupported(f"{what} with mode={mode!r}")
    pad = tuple(pad)
    if len(pad) not in (2, 4) or not all(type(p) is int for p in pad):
        raise Unsupported(f"{what} of {pad!r}; only padding of the last two dimensions (2 or 4 whole numbers)")
    if len(pad) == 2 and mode != "constant":
        # torch pads a 4-D tensor in these modes by 4 or 6 values only (F.pad raises NotImplementedError)
        raise Unsupported(f"{what} of {pad!r} in {mode} mode, which torch refuses on an N×C×H×W tensor")
    if PAD_MODES[mode] is not None and min(pad) < 0:
        raise Unsupported(f"{what} cropping (negative padding {pad!r}) in {mode} mode")
    if mode != "constant" and value not in (None, 0):
        raise Unsupported(f"{what} with value={value!r} in {mode} mode")
    return ZeroPad2d(name, pad + (0, 0) * (len(pad) == 2), mode, 0.0 if value is None else float(value))


def _pad_from_call(call, name: str) -> ZeroPad2d:
    a = bind(call, ("input", "pad", "mode", "value"), {"mode": "constant", "value": None})
    return padding_node(name, a["pad"], a["mode"], a["value"], "F.pad")


def _pad_from_module(mode: str) -> Any:
    """Converter of torch's 2-d padding modules of ``mode`` (ConstantPad2d and ZeroPad2d carry a value)."""

    def convert(m: Any, name: str) -> ZeroPad2d:
        return padding_node(name, m.padding, mode, getattr(m, "value", None), type(m).__name__)

    return convert


def _shuffle_from_module(m: Any, name: str) -> ChannelShuffle:
    return ChannelShuffle(name, m.groups)


def _shuffle_from_call(call, name: str) -> ChannelShuffle:
    return ChannelShuffle(name, bind(call, ("input", "groups"), {})["groups"])


def _flatten_module(node: Flatten, x: tuple):
    from torch import nn

    return nn.Flatten()


def _zeropad_module(node: ZeroPad2d, x: tuple):
    """torch's module of the mode: nn.ZeroPad2d, nn.ConstantPad2d (another value), nn.ReflectionPad2d,
    nn.ReplicationPad2d or nn.CircularPad2d; each calls F.pad in its forward, as F.pad written directly does
    (torch/nn/modules/padding.py), so one binding serves both forms."""
    from torch import nn

    if node.mode == "constant":
        return nn.ZeroPad2d(node.padding) if node.value == 0 else nn.ConstantPad2d(node.padding, node.value)
    modules = {"reflect": nn.ReflectionPad2d, "replicate": nn.ReplicationPad2d, "circular": nn.CircularPad2d}
    return modules[node.mode](node.padding)


def _quad(value: Any) -> tuple:
    return value if isinstance(value, tuple) else (value,) * 4


def _zeropad_from_file(name: str, f: dict, rank: int) -> ZeroPad2d:
    return ZeroPad2d(name, _quad(f["padding"]))


_FILE_MODES = ("reflect", "replicate", "circular")  # the pad type's mode flags


def _pad_from_file(name: str, f: dict, rank: int) -> ZeroPad2d:
    """``type = "pad"``: zero padding, or one of ``reflect``/``replicate``/``circular = true``."""
    chosen = [mode for mode in _FILE_MODES if f[mode]]
    if len(chosen) > 1:
        raise CnncostError(f"{name}: a pad layer has one mode; {' and '.join(chosen)} are both set")
    return ZeroPad2d(name, _quad(f["padding"]), chosen[0] if chosen else "constant")


def _shuffle_module(node: ChannelShuffle, x: tuple):
    """nn.ChannelShuffle; for ``call="view"`` a module whose forward is the view/transpose idiom."""
    from torch import nn

    if node.call == "view":
        return _shuffle_view(node, x)
    return nn.ChannelShuffle(node.groups)


def _shuffle_call(node: ChannelShuffle, x: Any):
    """``torch.channel_shuffle(x, g)``, or with ``call="view"`` torchvision's idiom:
    x.view(b, g, c // g, h, w), torch.transpose(x, 1, 2).contiguous(), .view(b, -1, h, w)."""
    import torch

    if node.call == "view":
        b, c, h, w = x.size()
        x = x.view(b, node.groups, c // node.groups, h, w)
        return torch.transpose(x, 1, 2).contiguous().view(b, -1, h, w)
    if node.call == "torch":
        return torch.channel_shuffle(x, node.groups)
    raise CnncostError(f"{node.name}: a channel shuffle written as {node.call!r} is not a call")


_shuffle_view = call_module("ShuffleView", lambda node, x: _shuffle_call(node, x),
                            "The channel shuffle as ShuffleNetV2 writes it (view, transpose, contiguous, view).")


def pad_step(node: ZeroPad2d, site: Site) -> Effect:
    """Constant padding saves nothing; reflection and replication padding save their input (CPU's autocast
    runs them in float32). Circular padding was not measured."""
    if node.mode == "constant":
        return nothing(node, site)
    if node.mode == "circular":
        raise NotModelled(f"{node.name}: circular padding")
    return Effect((Saved("input"),), cast="fp32" if site.device == "cpu" else None)


KINDS = (
    Kind(Flatten, flatten_shape, no_counts, fvcore=uncounted("aten::flatten is in fvcore's _IGNORED_OPS"),
         ptflops=uncounted("nn.Flatten has no hook"),
         archfile=(ArchType("flatten", {}, lambda name, f, rank: Flatten(name), "flatten", lambda node, x: (None,)),),
         torch_module=_flatten_module, step=view,
         fx=FxForms(modules={"torch.nn.Flatten": (lambda m, name: flatten_dims(name, m.start_dim, m.end_dim), None)},
                    functions={"torch.flatten": _flatten_from_call}, methods={"flatten": _flatten_from_call})),
    Kind(ZeroPad2d, zeropad_shape, no_counts, min_input=zeropad_min_input,
         # torch traces every mode and form as aten::pad (the padding modules call F.pad,
         # torch/nn/modules/padding.py); aten::constant_pad_nd would be ignored (jit_analysis.py:38)
         # but is not what the tracer records.
         fvcore=uncounted(f"aten::pad has no fvcore handler {_FVCORE_UNSUPPORTED}"),
         ptflops=uncounted("no padding module is hooked (MODULES_MAPPING, pytorch_ops.py:271-321) and F.pad "
                           "is not patched (patch_functional, pytorch_engine.py:348-390)"),
         archfile=(ArchType("zeropad", {"padding": Field("quad", minimum=0)}, _zeropad_from_file, "pad"),
                   ArchType("pad", {"padding": Field("quad", minimum=0), **{mode: Field("bool", False)
                                                                             for mode in _FILE_MODES}},
                            _pad_from_file, "pad")),
         torch_module=_zeropad_module, step=pad_step,
         fx=FxForms(modules={"torch.nn.ZeroPad2d": (_pad_from_module("constant"), None),
                             "torch.nn.ConstantPad2d": (_pad_from_module("constant"), None),
                             "torch.nn.ReflectionPad2d": (_pad_from_module("reflect"), None),
                             "torch.nn.ReplicationPad2d": (_pad_from_module("replicate"), None),
                             "torch.nn.CircularPad2d": (_pad_from_module("circular"), None)},
                    functions={"torch.nn.functional.pad": _pad_from_call})),
    Kind(ChannelShuffle, channel_shuffle_shape, no_counts,
         # aten::channel_shuffle has no handle; the view idiom's aten::view/transpose/contiguous are in
         # _IGNORED_OPS (jit_analysis.py:39, 79, 84).
         fvcore=uncounted(f"aten::channel_shuffle has no fvcore handler {_FVCORE_UNSUPPORTED}; the view idiom's "
                          "aten::view, transpose, contiguous are ignored (jit_analysis.py:39, 79, 84)"),
         ptflops=by_call("ptflops", {
             "module": uncounted("nn.ChannelShuffle is not hooked (pytorch_ops.py:271-321)"),
             "subclass": uncounted("no hook, and torch.channel_shuffle is not patched"),
             "torch": uncounted("torch.channel_shuffle (= F.channel_shuffle) is not patched "
                                "(pytorch_engine.py:348-390)"),
             "view": uncounted("Tensor.view/transpose/contiguous and torch.transpose are not patched "
                               "(TENSOR_OPS_MAPPING, pytorch_ops.py:453-469)")}),
         archfile=(ArchType("channelshuffle", {"groups": Field("expr")},
                            lambda name, f, rank: ChannelShuffle(name, f["groups"]), "shuffle"),),
         torch_module=_shuffle_module, torch_call=_shuffle_call, step=nothing,
         fx=FxForms(modules={"torch.nn.ChannelShuffle": (_shuffle_from_module, None)},
                    functions={"torch.channel_shuffle": _shuffle_from_call})),
)
