"""Counting rules: one pair of small pure functions per leaf layer type.

``shape(node, x)`` returns the output shape for input shape ``x``;
``counts(node, x, y)`` returns the layer's quantities given input and output
shapes (two steps so the engine can name intermediate sizes in between).
``min_input(node, x, need)`` inverts the spatial arithmetic for validity
conditions. The quantities are defined in ``cnncost.conventions``.

Adding a layer type is one rule and one line in ``RULES``.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

from . import layers as L
from .arith import exact_div, is_number, product
from .errors import CnncostError
from .sizes import window_min_input, window_output

Shape = tuple


class Counts(NamedTuple):
    """Per-layer quantities (ints or sympy expressions); see conventions.QUANTITIES."""

    params: Any = 0
    buffers: Any = 0
    macs: Any = 0
    mults: Any = 0
    adds: Any = 0


class Rule(NamedTuple):
    """How the engine interprets one leaf layer type."""

    shape: Callable[[Any, Shape], Shape]
    counts: Callable[[Any, Shape, Shape], Counts]
    # (node, needed output (h, w)) -> needed input (h, w); None: size-preserving
    min_input: Callable[[Any, tuple], tuple] | None = None
    free: bool = False  # True: deliberately costs nothing (activations, dropout)


def _spatial(node: Any, x: Shape) -> tuple:
    if len(x) != 3:
        raise CnncostError(f"{node.name}: expects a C×H×W input, got {len(x)} dimension(s)")
    return x


def _accumulate(macs: Any, outputs: Any, bias: bool) -> Counts:
    """mults = macs; adds = (terms − 1) per output, plus one per output for a bias."""
    adds = macs - outputs + (outputs if bias else 0)
    return Counts(macs=macs, mults=macs, adds=adds)


# --- convolution ---------------------------------------------------------

def conv_padding(node: L.Conv2d) -> tuple:
    """Total padding per axis ((top+bottom), (left+right)) and left/top part."""
    kh, kw = L.pair(node.kernel_size)
    dh, dw = L.pair(node.dilation)
    if node.padding == "valid":
        return (0, 0), (0, 0)
    if node.padding == "same":
        if L.pair(node.stride) != (1, 1):
            raise CnncostError(f"{node.name}: padding='same' needs stride 1 (as in PyTorch)")
        total = (dh * (kh - 1), dw * (kw - 1))
        # PyTorch puts the extra pixel of an even kernel on the bottom/right.
        return total, (total[0] // 2, total[1] // 2)
    ph, pw = L.pair(node.padding)
    return (2 * ph, 2 * pw), (ph, pw)


def conv_shape(node: L.Conv2d, x: Shape) -> Shape:
    """Output C×H×W of a convolution (channels must divide by the groups)."""
    cin, h, w = _spatial(node, x)
    exact_div(cin, node.groups, node.name, "input channels / groups:")
    exact_div(node.out_channels, node.groups, node.name, "output channels / groups:")
    (th, tw), (lh, lw) = conv_padding(node)
    (kh, kw), (sh, sw), (dh, dw) = L.pair(node.kernel_size), L.pair(node.stride), L.pair(node.dilation)
    return (node.out_channels, window_output(h, kh, sh, th, dh, pad_left=lh),
            window_output(w, kw, sw, tw, dw, pad_left=lw))


def conv_counts(node: L.Conv2d, x: Shape, y: Shape) -> Counts:
    """Weights + bias; MACs = outputs·(Cin/g)·kh·kw; adds per CONVENTIONS."""
    kh, kw = L.pair(node.kernel_size)
    cin_per_group = exact_div(x[0], node.groups, node.name)
    weights = node.out_channels * cin_per_group * kh * kw
    bias = node.out_channels if node.bias else 0
    outputs = product(y)
    c = _accumulate(outputs * cin_per_group * kh * kw, outputs, node.bias)
    return Counts(params=weights + bias, macs=c.macs, mults=c.mults, adds=c.adds)


def conv_min_input(node: L.Conv2d, need: tuple) -> tuple:
    """Smallest input (h, w) for which the convolution gives at least ``need``."""
    (th, tw), _ = conv_padding(node)
    (kh, kw), (sh, sw), (dh, dw) = L.pair(node.kernel_size), L.pair(node.stride), L.pair(node.dilation)
    return (window_min_input(need[0], kh, sh, th, dh), window_min_input(need[1], kw, sw, tw, dw))


# --- pooling ---------------------------------------------------------------

def _pool_geometry(node: Any) -> tuple:
    k = L.pair(node.kernel_size)
    s = L.pair(node.stride if node.stride is not None else node.kernel_size)
    p = L.pair(node.padding)
    d = L.pair(getattr(node, "dilation", 1))
    return k, s, p, d


def pool_shape(node: Any, x: Shape) -> Shape:
    """Output of max/avg pooling (PyTorch floor or ceil_mode arithmetic)."""
    c, h, w = _spatial(node, x)
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = _pool_geometry(node)
    for pad, k, d in ((ph, kh, dh), (pw, kw, dw)):
        # PyTorch: "pad should be at most half of effective kernel size".
        if is_number(pad) and is_number(k) and 2 * pad > d * (k - 1) + 1:
            raise CnncostError(f"{node.name}: padding {pad} is more than half the kernel size {k}")
    return (c, window_output(h, kh, sh, 2 * ph, dh, node.ceil_mode, ph),
            window_output(w, kw, sw, 2 * pw, dw, node.ceil_mode, pw))


def pool_min_input(node: Any, need: tuple) -> tuple:
    """Smallest input (h, w) for which the pooling gives at least ``need``."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = _pool_geometry(node)
    return (window_min_input(need[0], kh, sh, 2 * ph, dh, node.ceil_mode),
            window_min_input(need[1], kw, sw, 2 * pw, dw, node.ceil_mode))


def adaptive_pool_shape(node: L.AdaptiveAvgPool2d, x: Shape) -> Shape:
    """Adaptive pooling: the fixed output size, channels unchanged."""
    c, _, _ = _spatial(node, x)
    oh, ow = L.pair(node.output_size)
    return (c, oh, ow)


def adaptive_pool_min_input(node: Any, need: tuple) -> tuple:
    """Any non-empty input works."""
    return (1, 1)  # any non-empty input gives the fixed output size


# --- dense, normalisation, reshaping ---------------------------------------

def linear_shape(node: L.Linear, x: Shape) -> Shape:
    """Output features of a Linear layer (needs a flat input)."""
    if len(x) != 1:
        raise CnncostError(f"{node.name}: Linear expects flat features, got a {len(x)}-D input (add a Flatten)")
    return (node.out_features,)


def linear_counts(node: L.Linear, x: Shape, y: Shape) -> Counts:
    """in·out weights + out biases; MACs = in·out."""
    fin, fout = x[0], node.out_features
    c = _accumulate(fin * fout, fout, node.bias)
    return Counts(params=fin * fout + (fout if node.bias else 0), macs=c.macs, mults=c.mults, adds=c.adds)


def batchnorm_counts(node: Any, x: Shape, y: Shape) -> Counts:
    """2C parameters (affine) and 2C running statistics."""
    channels = x[0]
    return Counts(params=2 * channels if node.affine else 0,
                  buffers=2 * channels if node.track_running_stats else 0)


def batchnorm1d_shape(node: L.BatchNorm1d, x: Shape) -> Shape:
    """BatchNorm1d keeps its flat input shape."""
    if len(x) != 1:
        raise CnncostError(f"{node.name}: BatchNorm1d expects flat features")
    return x


def flatten_shape(node: L.Flatten, x: Shape) -> Shape:
    """C×H×W becomes C·H·W features."""
    return (product(x),)


def zeropad_shape(node: L.ZeroPad2d, x: Shape) -> Shape:
    """Explicit padding enlarges H and W."""
    c, h, w = _spatial(node, x)
    left, right, top, bottom = node.padding
    return (c, h + top + bottom, w + left + right)


def zeropad_min_input(node: L.ZeroPad2d, need: tuple) -> tuple:
    """Padding lowers the input size a later layer needs."""
    left, right, top, bottom = node.padding
    return (need[0] - top - bottom, need[1] - left - right)


def identity_shape(node: Any, x: Shape) -> Shape:
    """Elementwise layers keep their input shape."""
    return x


def no_counts(node: Any, x: Shape, y: Shape) -> Counts:
    """No parameters and no arithmetic in these conventions."""
    return Counts()


RULES: dict[type, Rule] = {
    L.Conv2d: Rule(conv_shape, conv_counts, conv_min_input),
    L.Linear: Rule(linear_shape, linear_counts),
    L.MaxPool2d: Rule(pool_shape, no_counts, pool_min_input),
    L.AvgPool2d: Rule(pool_shape, no_counts, pool_min_input),
    L.AdaptiveAvgPool2d: Rule(adaptive_pool_shape, no_counts, adaptive_pool_min_input),
    L.BatchNorm2d: Rule(lambda n, x: _spatial(n, x), batchnorm_counts),
    L.BatchNorm1d: Rule(batchnorm1d_shape, batchnorm_counts),
    L.Flatten: Rule(flatten_shape, no_counts),
    L.ZeroPad2d: Rule(zeropad_shape, no_counts, zeropad_min_input),
    L.Activation: Rule(identity_shape, no_counts, free=True),
    L.Dropout: Rule(identity_shape, no_counts, free=True),
}


def rule_for(node: Any) -> Rule:
    """The rule for a leaf node; an unknown layer type is an error, never a zero."""
    try:
        return RULES[type(node)]
    except KeyError:
        raise CnncostError(f"{getattr(node, 'name', node)}: no counting rule for layer type "
                           f"{type(node).__name__}") from None
