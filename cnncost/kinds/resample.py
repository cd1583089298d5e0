"""Layers that change the spatial resolution by resampling: ``Upsample`` (nn.Upsample, F.interpolate),
``ConvTranspose2d``, ``PixelShuffle`` and ``PixelUnshuffle``, everything about each in one place.

Upsampling (modes nearest, bilinear, bicubic, nearest-exact, area) takes whole scale factors only.
torch's output size for a scale ``s`` is ⌊size·s⌋, which an integer scale keeps exact (size·s) in
closed forms; for a non-integer scale ptflops counts C·H·W·s² (pytorch_ops.py:376-380), a fraction
that only the network total truncates (pytorch_engine.py:93), so no per-layer count reproduces it:
such scales are refused.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ..arith import ceildiv, exact_div, is_number, maximum, product
from ..errors import CnncostError
from ..tool_conventions import by_call, input_elements, output_elements, uncounted
from .base import (ArchType, Counts, Field, FxForms, Kind, Unsupported, always, bind, collapse_pair, no_counts, pair,
                   spatial)
from .base import weight_and_bias
from .saving import Effect, Saved, Site, low_precision_weights, nothing

_F = "torch.nn.functional."


class Upsample(NamedTuple):
    """Nearest or bilinear upsampling to a fixed ``size`` or by a whole ``scale`` (exactly one of them)."""

    name: str
    size: Any = None  # o or (oh, ow): the output size
    scale: Any = None  # s or (sh, sw): positive whole scale factors; output = input·s
    mode: str = "nearest"  # one of MODES: nearest, bilinear, bicubic, nearest-exact, area
    align_corners: bool = False  # bilinear and bicubic only (the others keep False)
    # written as: module, subclass (UpsamplingNearest2d/UpsamplingBilinear2d), function (F.interpolate) or
    # upsample (the deprecated F.upsample, which ptflops counts twice)
    call: str = "module"


class ConvTranspose2d(NamedTuple):
    """2-D transposed convolution; ``in_channels`` is inferred from the input shape."""

    name: str
    out_channels: Any
    kernel_size: Any  # k or (kh, kw)
    stride: Any = 1
    padding: Any = 0  # int or pair (torch accepts no strings here)
    output_padding: Any = 0  # extra rows/columns on the bottom/right; < max(stride, dilation) per axis
    dilation: Any = 1
    groups: Any = 1
    bias: bool = True
    call: str = "module"  # written as: module, or subclass (a user's subclass of nn.ConvTranspose2d)


class PixelShuffle(NamedTuple):
    """C×H×W → C/r²×rH×rW (sub-pixel convolution's rearrangement); moves elements only."""

    name: str
    factor: Any  # r


class PixelUnshuffle(NamedTuple):
    """C×H×W → C·r²×H/r×W/r, the inverse of PixelShuffle; H and W must divide by r."""

    name: str
    factor: Any  # r


# --- Upsample ------------------------------------------------------------------------

def upsample_shape(node: Upsample, x: tuple) -> tuple:
    """The fixed size, or the input times the whole scale factors; channels unchanged."""
    c, h, w = spatial(node, x)
    if node.mode not in MODES:
        raise CnncostError(f"{node.name}: upsampling mode {node.mode!r} is not supported (known: "
                           f"{', '.join(MODES)})")
    if node.align_corners and node.mode not in ALIGNED:
        raise CnncostError(f"{node.name}: align_corners applies to {' and '.join(ALIGNED)} upsampling only "
                           "(as in PyTorch)")
    if (node.size is None) == (node.scale is None):
        raise CnncostError(f"{node.name}: give exactly one of size and scale (as in PyTorch)")
    if node.size is not None:
        oh, ow = pair(node.size)
        return (c, oh, ow)
    sh, sw = pair(node.scale)
    for s in (sh, sw):
        if not (is_number(s) or hasattr(s, "free_symbols")) or (is_number(s) and s < 1):
            raise CnncostError(f"{node.name}: scale {s!r} must be a whole number ≥ 1")
    return (c, h * sh, w * sw)


def upsample_min_input(node: Upsample, need: tuple) -> tuple:
    """A fixed size fits any input; a scale s needs ⌈need/s⌉."""
    if node.size is not None:
        return (1, 1)
    sh, sw = pair(node.scale)
    return (ceildiv(need[0], sh), ceildiv(need[1], sw))


_NO_HANDLER = "fvcore has no handler for aten::{} (unsupported op, counted 0)"

# What fvcore counts per mode: the aten op F.interpolate runs for it (fvcore/nn/flop_count.py:40-42, handlers
# elementwise_flop_counter, jit_handles.py:261-281). "area" is F.adaptive_avg_pool2d to the output size.
FVCORE_BY_MODE = {
    "nearest": output_elements(1, "aten::upsample_nearest2d = elementwise_flop_counter(0, 1)"),
    "bilinear": output_elements(4, "aten::upsample_bilinear2d = elementwise_flop_counter(0, 4), any align_corners"),
    "bicubic": uncounted(_NO_HANDLER.format("upsample_bicubic2d")),
    "nearest-exact": uncounted(_NO_HANDLER.format("_upsample_nearest_exact2d")),
    "area": input_elements(1, "aten::adaptive_avg_pool2d = elementwise_flop_counter(1, 0)"),
}
MODES = tuple(FVCORE_BY_MODE)
ALIGNED = ("bilinear", "bicubic")  # the modes torch accepts align_corners for


def fvcore_upsample(node: Upsample, x: tuple, y: tuple) -> Any:
    """By mode: nearest 1 ×, bilinear 4 × output elements; bicubic, nearest-exact 0; area input elements."""
    return FVCORE_BY_MODE[node.mode](node, x, y)


# nn.Upsample.forward calls F.interpolate, which ptflops patches (pytorch_engine.py:386-387); its hook
# (_interpolate_functional_flops_hook, pytorch_ops.py:351-382) counts prod(size)·N·C (:362-368), or input
# elements·s² (:376-380; a whole s) — the output elements either way. F.upsample is patched too
# (pytorch_engine.py:384-385) and calls the patched F.interpolate: counted twice.
_PTFLOPS_BY_CALL = by_call("ptflops", {
    "module": output_elements(2, "upsample_flops_counter_hook (pytorch_ops.py:21-27, mapped at :308) and the "
                                 "patched F.interpolate in nn.Upsample.forward both count the output"),
    "subclass": output_elements(1, "no hook (exact-type check, pytorch_engine.py:311-314), e.g. "
                                   "UpsamplingNearest2d; the patched F.interpolate inside counts"),
    "function": output_elements(1, "patched F.interpolate counts once"),
    "upsample": output_elements(2, "patched F.upsample and the patched F.interpolate it calls both count"),
})


def ptflops_upsample(node: Upsample, x: tuple, y: tuple) -> Any:
    """Output elements by call form (above); mode "area" adds the input elements: F.interpolate calls the
    patched F.adaptive_avg_pool2d (pytorch_engine.py:370-371, _numel_functional_flops_hook)."""
    return _PTFLOPS_BY_CALL(node, x, y) + (product(x) if node.mode == "area" else 0)


def _whole_scale(value: Any) -> Any:
    """A scale factor as whole numbers (2.0 -> 2), or Unsupported for a fractional one."""
    if isinstance(value, (tuple, list)):
        return collapse_pair(tuple(_whole_scale(v) for v in value))
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 1 or value != int(value):
        raise Unsupported(f"upsampling by scale_factor={value!r}: only whole scale factors ≥ 1 are counted "
                          "exactly (ptflops counts C·H·W·s², a fraction, for others)")
    return int(value)


def upsample_node(name: str, size: Any, scale: Any, mode: str, align_corners: Any, antialias: bool = False,
                  call: str = "module") -> Upsample:
    """The node of an nn.Upsample or an F.interpolate call; options cnncost cannot count raise Unsupported."""
    if mode not in MODES:
        raise Unsupported(f"upsampling with mode={mode!r} (known: {', '.join(MODES)})")
    if antialias:
        raise Unsupported("F.interpolate with antialias=True")
    if size is not None and scale is not None:
        raise Unsupported("upsampling with both size and scale_factor")
    if size is None and scale is None:
        raise Unsupported("upsampling with neither size nor scale_factor")
    if size is not None:
        if any(not isinstance(s, int) or isinstance(s, bool) for s in pair(tuple(size) if isinstance(
                size, (list, tuple)) else size)):
            raise Unsupported(f"upsampling to size={size!r}: only a fixed size of whole numbers (a size taken "
                              "from another tensor, as in FPN or U-Net, is not a layer hyperparameter)")
        size = collapse_pair(size)
    else:
        scale = _whole_scale(scale)
    return Upsample(name, size, scale, mode, bool(align_corners) if mode in ALIGNED else False, call)


def _upsample_from_module(m: Any, name: str) -> Upsample:
    return upsample_node(name, m.size, m.scale_factor, m.mode, m.align_corners)


def _upsample_from_call(call: Any, name: str) -> Upsample:
    # recompute_scale_factor changes only the interpolation weights for a whole scale: the output size
    # ⌊size·s⌋ and every tool's count stay the same, so it is accepted.
    a = bind(call, ("input", "size", "scale_factor", "mode", "align_corners", "recompute_scale_factor", "antialias"),
             {"size": None, "scale_factor": None, "mode": "nearest", "align_corners": None, "antialias": False})
    if isinstance(a["scale_factor"], list):  # nn.Upsample makes a list a tuple; F.interpolate passes it on
        raise Unsupported("F.interpolate with scale_factor given as a list (ptflops fails on it: its hook "
                          "computes list ** 2, pytorch_ops.py:380); a tuple is counted")
    return upsample_node(name, a["size"], a["scale_factor"], a["mode"], a["align_corners"], a["antialias"],
                         "function")


def _align(node: Upsample) -> Any:
    return node.align_corners if node.mode in ALIGNED else None


def _upsample_module(node: Upsample, x: tuple) -> Any:
    from torch import nn

    return nn.Upsample(node.size, node.scale, node.mode, _align(node))


def _upsample_call(node: Upsample, x: Any) -> Any:
    """F.interpolate, or the deprecated F.upsample for ``call="upsample"`` (ptflops counts it twice)."""
    import torch.nn.functional as F

    # Each written as a lookup on F at the call (the importer reads the line to tell it from a bound name).
    if node.call == "upsample":
        return F.upsample(x, size=node.size, scale_factor=node.scale, mode=node.mode, align_corners=_align(node))
    return F.interpolate(x, size=node.size, scale_factor=node.scale, mode=node.mode, align_corners=_align(node))


def _upsample_from_file(name: str, f: dict, rank: int) -> Upsample:
    mode = "bilinear" if f["bilinear"] else "nearest"
    return Upsample(name, f["size"], f["scale"], mode, f["align_corners"])


# --- ConvTranspose2d -------------------------------------------------------------------

def _transposed_geometry(node: ConvTranspose2d) -> tuple:
    return (pair(node.kernel_size), pair(node.stride), pair(node.padding), pair(node.output_padding),
            pair(node.dilation))


def convtranspose_shape(node: ConvTranspose2d, x: tuple) -> tuple:
    """Output per axis: (in − 1)·s − 2p + d·(k − 1) + output_padding + 1."""
    cin, h, w = spatial(node, x)
    exact_div(cin, node.groups, node.name, "input channels / groups:")
    exact_div(node.out_channels, node.groups, node.name, "output channels / groups:")
    k, s, p, op, d = _transposed_geometry(node)
    for axis in (0, 1):
        if is_number(op[axis]) and is_number(s[axis]) and is_number(d[axis]) and \
                op[axis] >= max(s[axis], d[axis]):
            raise CnncostError(f"{node.name}: output_padding {op[axis]} must be smaller than the stride "
                               f"{s[axis]} or the dilation {d[axis]} (as in PyTorch)")
    size = tuple((n - 1) * s[a] - 2 * p[a] + d[a] * (k[a] - 1) + op[a] + 1 for a, n in enumerate((h, w)))
    return (node.out_channels, *size)


def _transposed_macs(node: ConvTranspose2d, x: tuple) -> Any:
    """Cin·(Cout/g)·kh·kw per INPUT position: every input element times every weight it meets."""
    kh, kw = pair(node.kernel_size)
    per_group = exact_div(node.out_channels, node.groups, node.name, "output channels / groups:")
    return product(x) * per_group * kh * kw


def convtranspose_counts(node: ConvTranspose2d, x: tuple, y: tuple) -> Counts:
    """Weights Cin·(Cout/g)·kh·kw + bias; MACs = input elements·(Cout/g)·kh·kw (torch's FlopCounterMode / 2,
    conv_flop_count with transposed=True: the input's spatial size); mults = MACs.

    adds: a transposed convolution scatters: each of its MACs products is added into an output
    accumulator that starts at zero, then the bias is added once per output. So adds = MACs (+ output
    elements for a bias). This differs from Conv2d's "(terms − 1) per output": the number of terms
    landing on each output of a transposed convolution varies with stride, kernel and cropping
    (some outputs get none, some products fall into the cropped border), and every product counted in
    MACs — including those cropped away, which all three tools count — is one addition here. Conv2d's
    formula, MACs − outputs, would even go negative here (kernel 1, stride 2, one input channel:
    MACs = Cout·H·W < Cout·(2H−1)·(2W−1) outputs).
    """
    kh, kw = pair(node.kernel_size)
    per_group = exact_div(node.out_channels, node.groups, node.name, "output channels / groups:")
    weights = x[0] * per_group * kh * kw
    bias = node.out_channels if node.bias else 0
    macs = _transposed_macs(node, x)
    return Counts(params=weights + bias, macs=macs, mults=macs, adds=macs + (product(y) if node.bias else 0))


def convtranspose_min_input(node: ConvTranspose2d, need: tuple) -> tuple:
    """Smallest input (h, w) ≥ 1 whose output is at least ``need``: 1 + ⌈(need − 1 − d(k−1) − op + 2p)/s⌉."""
    k, s, p, op, d = _transposed_geometry(node)
    return tuple(maximum(1, 1 + ceildiv(need[a] - 1 - d[a] * (k[a] - 1) - op[a] + 2 * p[a], s[a]))
                 for a in (0, 1))


def fvcore_convtranspose(node: ConvTranspose2d, x: tuple, y: tuple) -> Any:
    """aten::_convolution with transposed=True: prod(w_shape)·prod(x_shape[2:])·N, w = Cin×Cout/g×kh×kw,
    bias ignored (fvcore/nn/jit_handles.py:127-171)."""
    return _transposed_macs(node, x)


def ptflops_convtranspose(node: ConvTranspose2d, x: tuple, y: tuple) -> Any:
    """conv_flops_counter_hook with transpose=True (pytorch_ops.py:60-92, mapped at :311): kh·kw·Cin·(Cout/g)
    per INPUT position, + output elements for a bias."""
    return _transposed_macs(node, x) + (product(y) if node.bias else 0)


def _convtranspose_module(node: ConvTranspose2d, x: tuple) -> Any:
    from torch import nn

    return nn.ConvTranspose2d(x[0], node.out_channels, node.kernel_size, node.stride, node.padding,
                              node.output_padding, node.groups, node.bias, node.dilation)


def _convtranspose_from_module(m: Any, name: str) -> ConvTranspose2d:
    if m.padding_mode != "zeros":
        raise Unsupported(f"ConvTranspose2d with padding_mode={m.padding_mode!r}")
    return ConvTranspose2d(name, m.out_channels, collapse_pair(m.kernel_size), collapse_pair(m.stride),
                           collapse_pair(m.padding), collapse_pair(m.output_padding), collapse_pair(m.dilation),
                           m.groups, m.bias is not None)


def _convtranspose_from_file(name: str, f: dict, rank: int) -> ConvTranspose2d:
    return ConvTranspose2d(name, f["out"], f["kernel"], f["stride"], f["padding"], f["output_padding"],
                           f["dilation"], f["groups"], f["bias"])


# --- PixelShuffle / PixelUnshuffle -----------------------------------------------------

def pixelshuffle_shape(node: PixelShuffle, x: tuple) -> tuple:
    """C/r² × rH × rW; C must divide by r²."""
    c, h, w = spatial(node, x)
    r = node.factor
    return (exact_div(c, r * r, node.name, "channels / factor²:"), h * r, w * r)


def pixelshuffle_min_input(node: PixelShuffle, need: tuple) -> tuple:
    """⌈need/r⌉ per axis."""
    return (ceildiv(need[0], node.factor), ceildiv(need[1], node.factor))


def pixelunshuffle_shape(node: PixelUnshuffle, x: tuple) -> tuple:
    """C·r² × H/r × W/r; H and W must divide by r."""
    c, h, w = spatial(node, x)
    r = node.factor
    return (c * r * r, exact_div(h, r, node.name, "height / factor:"), exact_div(w, r, node.name, "width / factor:"))


def pixelunshuffle_min_input(node: PixelUnshuffle, need: tuple) -> tuple:
    """need·r per axis (H and W must also divide by r)."""
    return (need[0] * node.factor, need[1] * node.factor)


def _shuffle_module(node: Any, x: tuple) -> Any:
    from torch import nn

    return (nn.PixelShuffle if type(node) is PixelShuffle else nn.PixelUnshuffle)(node.factor)


def _factor(call: Any, argument: str) -> Any:
    return bind(call, ("input", argument), {})[argument]


def upsample_step(node: Upsample, site: Site) -> Effect:
    """Interpolation saves nothing but sizes; mode "area" is adaptive average pooling, which saves its input
    (unless the output is 1×1: a mean)."""
    if node.mode == "area" and tuple(site.y[1:]) != (1, 1):
        return Effect((Saved("input"),))
    return Effect()


def convtranspose_step(node: ConvTranspose2d, site: Site) -> Effect:
    """Like a convolution: the input and the weight, the weight copied to lower precision under autocast."""
    weights = site.x.shape[0] * exact_div(node.out_channels, node.groups, node.name) * product(pair(node.kernel_size))
    return Effect((Saved("input"),) + low_precision_weights(site, weights), cast="low")


_SHUFFLE_FVCORE = "fvcore has no handler for aten::{} (unsupported op, counted 0)"
_SHUFFLE_PTFLOPS = "nn.{} has no hook and F.{} is not patched"

KINDS = (
    Kind(Upsample, upsample_shape, no_counts, fvcore=fvcore_upsample, ptflops=ptflops_upsample,
         min_input=upsample_min_input,
         archfile=(ArchType("upsample", {"scale": Field("pair", None), "size": Field("pair", None),
                                         "bilinear": Field("bool", False), "align_corners": Field("bool", False)},
                            _upsample_from_file, "up"),),
         torch_module=_upsample_module, torch_call=_upsample_call, step=upsample_step,
         # UpsamplingNearest2d/UpsamplingBilinear2d are nn.Upsample subclasses keeping its forward: the importer
         # maps them to nn.Upsample as "subclass", which is how ptflops counts them (no hook of their own).
         fx=FxForms(modules={"torch.nn.Upsample": (_upsample_from_module, None)},
                    functions={_F + "interpolate": _upsample_from_call})),
    Kind(ConvTranspose2d, convtranspose_shape, convtranspose_counts, stateful=always, fvcore=fvcore_convtranspose,
         ptflops=by_call("ptflops", {"module": ptflops_convtranspose,
                                     "subclass": uncounted("no hook (exact-type check), and F.conv_transpose2d is "
                                                           "not patched")}),
         min_input=convtranspose_min_input,
         archfile=(ArchType("convtranspose", {"out": Field("expr"), "kernel": Field("pair"),
                                              "stride": Field("pair", 1), "padding": Field("pair", 0, 0),
                                              "output_padding": Field("pair", 0, 0), "dilation": Field("pair", 1),
                                              "groups": Field("expr", 1), "bias": Field("bool", True)},
                            _convtranspose_from_file, "deconv"),),
         torch_module=_convtranspose_module, step=convtranspose_step, state=weight_and_bias,
         fx=FxForms(modules={"torch.nn.ConvTranspose2d": (_convtranspose_from_module, "in_channels")})),
    Kind(PixelShuffle, pixelshuffle_shape, no_counts, min_input=pixelshuffle_min_input,
         fvcore=uncounted(_SHUFFLE_FVCORE.format("pixel_shuffle")),
         ptflops=uncounted(_SHUFFLE_PTFLOPS.format("PixelShuffle", "pixel_shuffle")),
         archfile=(ArchType("pixelshuffle", {"factor": Field("expr")},
                            lambda name, f, rank: PixelShuffle(name, f["factor"]), "shuffle"),),
         torch_module=_shuffle_module, step=nothing,
         fx=FxForms(modules={"torch.nn.PixelShuffle": (lambda m, name: PixelShuffle(name, m.upscale_factor), None)},
                    functions={_F + "pixel_shuffle": lambda call, name: PixelShuffle(
                        name, _factor(call, "upscale_factor"))})),
    Kind(PixelUnshuffle, pixelunshuffle_shape, no_counts, min_input=pixelunshuffle_min_input,
         fvcore=uncounted(_SHUFFLE_FVCORE.format("pixel_unshuffle")),
         ptflops=uncounted(_SHUFFLE_PTFLOPS.format("PixelUnshuffle", "pixel_unshuffle")),
         archfile=(ArchType("pixelunshuffle", {"factor": Field("expr")},
                            lambda name, f, rank: PixelUnshuffle(name, f["factor"]), "unshuffle"),),
         torch_module=_shuffle_module, step=nothing,
         fx=FxForms(modules={"torch.nn.PixelUnshuffle": (lambda m, name: PixelUnshuffle(name, m.downscale_factor),
                                                         None)},
                    functions={_F + "pixel_unshuffle": lambda call, name: PixelUnshuffle(
                        name, _factor(call, "downscale_factor"))})),
)
