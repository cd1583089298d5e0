"""Convolution: ``Conv2d``, everything cnncost knows about it in one place."""

from __future__ import annotations

from typing import Any, NamedTuple

from ..arith import exact_div, maximum, product
from ..errors import CnncostError
from ..sizes import window_min_input, window_output
from ..tool_conventions import by_call, uncounted
from .base import (always, ArchType, Counts, Field, FxForms, Kind, Unsupported, accumulate, collapse_pair, pair,
                   spatial, weight_and_bias)
from .saving import Effect, NotModelled, Saved, Site, low_precision_weights
from .reshape import check_pad_fits, pad_fit_min_input


class Conv2d(NamedTuple):
    """2-D convolution; ``in_channels`` is inferred from the input shape."""

    name: str
    out_channels: Any  # filters
    kernel_size: Any  # k or (kh, kw)
    stride: Any = 1  # s or (sh, sw)
    padding: Any = 0  # int, pair, "same" (stride 1 only) or "valid"
    dilation: Any = 1  # d or (dh, dw)
    groups: Any = 1  # channel groups; Cin and Cout must both divide by it
    bias: bool = True  # one bias per output channel
    # zeros, or the F.pad mode nn.Conv2d pads with first: reflect, replicate, circular
    padding_mode: str = "zeros"
    call: str = "module"  # written as: module, or subclass (a user's subclass of nn.Conv2d)


# nn.Conv2d with another padding_mode runs F.pad(x, padding, mode) and then F.conv2d with padding 0
# (torch/nn/modules/conv.py:546-562): the output, the weights and every count are those of zero padding;
# only the input sizes torch accepts change (reflect: padding < input size; circular: <= input size).
PADDING_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate", "circular": "circular"}


def conv_padding(node: Conv2d) -> tuple:
    """Total padding per axis ((top+bottom), (left+right)) and left/top part."""
    kh, kw = pair(node.kernel_size)
    dh, dw = pair(node.dilation)
    if node.padding == "valid":
        return (0, 0), (0, 0)
    if node.padding == "same":
        if pair(node.stride) != (1, 1):
            raise CnncostError(f"{node.name}: padding='same' needs stride 1 (as in PyTorch)")
        total = (dh * (kh - 1), dw * (kw - 1))
        # PyTorch puts the extra pixel of an even kernel on the bottom/right.
        return total, (total[0] // 2, total[1] // 2)
    ph, pw = pair(node.padding)
    return (2 * ph, 2 * pw), (ph, pw)


def _pad_mode(node: Conv2d) -> str:
    """The F.pad mode of the conv's padding_mode; unknown modes raise."""
    if node.padding_mode not in PADDING_MODES:
        raise CnncostError(f"{node.name}: unknown padding_mode {node.padding_mode!r} "
                           f"(known: {', '.join(PADDING_MODES)})")
    return PADDING_MODES[node.padding_mode]


def _sides(total: tuple, left: tuple) -> tuple:
    """((top, bottom), (left, right)) from the totals and the top/left parts."""
    return (left[0], total[0] - left[0]), (left[1], total[1] - left[1])


def conv_shape(node: Conv2d, x: tuple) -> tuple:
    """Output C×H×W of a convolution (channels must divide by the groups; reflect or circular
    padding must fit the input, as torch's F.pad checks)."""
    cin, h, w = spatial(node, x)
    exact_div(cin, node.groups, node.name, "input channels / groups:")
    exact_div(node.out_channels, node.groups, node.name, "output channels / groups:")
    (th, tw), (lh, lw) = conv_padding(node)
    vertical, horizontal = _sides((th, tw), (lh, lw))
    mode = _pad_mode(node)
    check_pad_fits(node, mode, "height", h, vertical)
    check_pad_fits(node, mode, "width", w, horizontal)
    (kh, kw), (sh, sw), (dh, dw) = pair(node.kernel_size), pair(node.stride), pair(node.dilation)
    return (node.out_channels, window_output(h, kh, sh, th, dh, pad_left=lh),
            window_output(w, kw, sw, tw, dw, pad_left=lw))


def conv_counts(node: Conv2d, x: tuple, y: tuple) -> Counts:
    """Weights + bias; MACs = outputs·(Cin/g)·kh·kw; adds per CONVENTIONS."""
    kh, kw = pair(node.kernel_size)
    cin_per_group = exact_div(x[0], node.groups, node.name)
    weights = node.out_channels * cin_per_group * kh * kw
    bias = node.out_channels if node.bias else 0
    outputs = product(y)
    c = accumulate(outputs * cin_per_group * kh * kw, outputs, node.bias)
    return Counts(params=weights + bias, macs=c.macs, mults=c.mults, adds=c.adds)


def conv_min_input(node: Conv2d, need: tuple) -> tuple:
    """Smallest input (h, w) for which the convolution gives at least ``need`` (and, with reflect or
    circular padding, which torch can pad: reflect needs each side's padding below the input size)."""
    (th, tw), left = conv_padding(node)
    (kh, kw), (sh, sw), (dh, dw) = pair(node.kernel_size), pair(node.stride), pair(node.dilation)
    h, w = window_min_input(need[0], kh, sh, th, dh), window_min_input(need[1], kw, sw, tw, dw)
    mode = _pad_mode(node)
    if mode in ("constant", "replicate"):
        return (h, w)
    vertical, horizontal = _sides((th, tw), left)
    return (maximum(h, pad_fit_min_input(mode, vertical)), maximum(w, pad_fit_min_input(mode, horizontal)))


def conv_macs(node: Conv2d, x: tuple, y: tuple) -> Any:
    """fvcore (aten::_convolution): output elements × Cin/g × kh × kw, bias ignored (jit_handles.py:127-171);
    aten::_convolution_mode (padding="same"/"valid") counted alike, via the harness's handler. Another
    padding_mode traces aten::pad (no handle, 0: flop_count.py:26-44, jit_analysis.py:577-581) and then
    aten::_convolution with padding 0 on the padded input, whose output is the same (conv.py:546-562)."""
    kh, kw = pair(node.kernel_size)
    return product(y) * exact_div(x[0], node.groups, node.name, "input channels / groups:") * kh * kw


def ptflops_conv(node: Conv2d, x: tuple, y: tuple) -> Any:
    """conv_flops_counter_hook: kh·kw·Cin·(Cout/g) per output position, + output elements for a bias
    (pytorch_ops.py:60-92). It reads the output's dims, never the padding (:80-81), and F.pad, which
    another padding_mode runs first, is not patched (pytorch_engine.py:348-390): every mode counts alike."""
    kh, kw = pair(node.kernel_size)
    per_position = kh * kw * x[0] * exact_div(node.out_channels, node.groups, node.name,
                                              "output channels / groups:")
    return per_position * y[1] * y[2] + (product(y) if node.bias else 0)


def conv_step(node: Conv2d, site: Site) -> Effect:
    """aten::convolution saves its input and its weight whichever of them needs a gradient
    (derivatives.yaml: convolution_backward reads both); the weight is a parameter (model state), except
    under autocast, which runs the conv in lower precision on cast copies of both (a copy of a tensor of
    another dtype is a new storage). Another padding_mode pads first (F.pad): not modelled."""
    if node.padding_mode != "zeros":
        raise NotModelled(f"{node.name}: a convolution with padding_mode={node.padding_mode!r}")
    weights = node.out_channels * exact_div(site.x.shape[0], node.groups, node.name) * product(pair(node.kernel_size))
    (th, tw), (lh, lw) = conv_padding(node)
    if node.padding == "same" and (th != 2 * lh or tw != 2 * lw):
        # An even kernel pads unevenly: _convolution_mode pads a copy of the input by the odd pixel (in the dtype
        # the conv computes in) and convolves that with the symmetric rest, so the padded copy is what is saved.
        cin, h, w = site.x.shape
        padded = Saved("new", cin * (h + th - 2 * lh) * (w + tw - 2 * lw), site.autocast or site.x.dtype)
        return Effect((padded,) + low_precision_weights(site, weights), cast="low")
    return Effect((Saved("input"),) + low_precision_weights(site, weights), cast="low")


def _torch_conv(node: Conv2d, x: tuple) -> Any:
    from torch import nn

    # padding_mode is a plain str here; nn.Conv2d itself rejects one outside its four modes
    return nn.Conv2d(x[0], node.out_channels, node.kernel_size, node.stride, node.padding, node.dilation,
                     node.groups, node.bias, node.padding_mode)  # type: ignore[arg-type]


def _from_module(m: Any, name: str) -> Conv2d:
    if m.padding_mode not in PADDING_MODES:
        raise Unsupported(f"Conv2d with padding_mode={m.padding_mode!r}")
    padding = m.padding if isinstance(m.padding, str) else collapse_pair(m.padding)
    return Conv2d(name, m.out_channels, collapse_pair(m.kernel_size), collapse_pair(m.stride), padding,
                  collapse_pair(m.dilation), m.groups, m.bias is not None, m.padding_mode)


def _from_file(name: str, f: dict, rank: int) -> Conv2d:
    return Conv2d(name, f["out"], f["kernel"], f["stride"], f["padding"], f["dilation"], f["groups"], f["bias"])


KINDS = (
    Kind(Conv2d, conv_shape, conv_counts, stateful=always, fvcore=conv_macs,
         ptflops=by_call("ptflops", {"module": ptflops_conv,
                                     "subclass": uncounted("no hook (exact-type check), and F.conv2d is not "
                                                           "patched")}),
         min_input=conv_min_input,
         archfile=(ArchType("conv", {"out": Field("expr"), "kernel": Field("pair"), "stride": Field("pair", 1),
                                     "padding": Field("padding", 0, 0), "dilation": Field("pair", 1),
                                     "groups": Field("expr", 1), "bias": Field("bool", True)},
                            _from_file, "conv"),),
         torch_module=_torch_conv, step=conv_step, state=weight_and_bias,
         fx=FxForms(modules={"torch.nn.Conv2d": (_from_module, "in_channels")})),
)
