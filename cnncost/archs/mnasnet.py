"""mnasnet0_5, mnasnet0_75, mnasnet1_0, mnasnet1_3: MNASNet-B1 as torchvision builds it (no SE).

Stem: 3×3/2 conv → depthwise 3×3 → linear 1×1 (BN after each, ReLU after the first two); six stacks
of inverted residual blocks (1×1 expansion by 3 or 6, 3×3 or 5×5 depthwise, linear 1×1 projection,
BN after each); 1×1 conv to 1280 → ReLU; mean over H and W; dropout; fc. Every conv is bias-free,
every BatchNorm eps 1e-5 (its momentum, TensorFlow's decay, changes nothing counted).

The depth multiplier ``alpha`` scales the eight stage widths, each rounded by torchvision's
``_round_to_multiple_of(width * alpha, 8)`` — the same rule as ``rounding.make_divisible`` — from
the same float product. This is torchvision's version 2 layout, whose stem widths scale with alpha
too (its version 1 kept the stem at 32 and 16); the published mnasnet0_5 and mnasnet1_0 checkpoints
already have the version 2 shapes, so no key or shape is rewritten when they load.

Node names are torchvision's module paths (``layers.9.2.layers.3``): ``layers`` is one flat
nn.Sequential whose stacks are nested Sequentials of blocks. Residual merges are named after their
block; the functional mean gets the extra stateless name ``mean``.
"""

from __future__ import annotations

from functools import partial

from .. import layers as L
from .registry import Param, input_size_params, register
from .rounding import make_divisible

# torchvision's _get_depths: stem conv, stem projection, then each stack's output width.
DEPTHS = (32, 16, 24, 40, 80, 96, 192, 320)
# The six stacks: (kernel, stride of the first block, expansion factor, blocks).
STACKS = ((3, 2, 3, 3), (5, 2, 3, 3), (5, 2, 6, 3), (3, 1, 6, 2), (5, 2, 6, 4), (3, 1, 6, 1))
LAST_CHANNELS = 1280  # the final 1×1 conv: fixed, whatever alpha


def params(alpha: float) -> tuple:
    """The declarations of one member: its published alpha is the default."""
    return input_size_params(224) + (
        Param("classes", 1000, "output classes", meaning="output classes"),
        Param("in_channels", 3, "input channels"),
        Param("alpha", alpha, "depth multiplier: the stage widths × this, rounded to a multiple of 8",
              span=(0.1, 4.0)),
        Param("dropout", 0.2, "dropout rate before the classifier (costs nothing)"),
    )


def depths(alpha: float) -> tuple:
    """torchvision's ``_get_depths``: each width × alpha, rounded to a multiple of 8 (never 10% down)."""
    return tuple(make_divisible(depth * alpha, 8) for depth in DEPTHS)


def conv_bn(name: str, index: int, out_channels: int, kernel_size: int, stride: int = 1, groups: int = 1,
            relu: bool = True) -> tuple:
    """``{name}.{index}`` conv (padding k//2, no bias), BN at index + 1, ReLU at index + 2 if ``relu``."""
    nodes = (L.Conv2d(f"{name}.{index}", out_channels, kernel_size, stride, kernel_size // 2, groups=groups,
                      bias=False),
             L.BatchNorm2d(f"{name}.{index + 1}"))
    return nodes + ((L.Activation(f"{name}.{index + 2}"),) if relu else ())


def inverted_residual(name: str, in_channels: int, out_channels: int, kernel: int, stride: int,
                      expansion: int) -> L.Sequential | L.Residual:
    """1×1 expand → k×k depthwise → 1×1 linear projection, at ``{name}.layers.0-7``; the input added
    back when the block keeps the shape (stride 1 and equal channels), as torchvision does."""
    mid = in_channels * expansion
    body = (conv_bn(f"{name}.layers", 0, mid, 1) + conv_bn(f"{name}.layers", 3, mid, kernel, stride, groups=mid)
            + conv_bn(f"{name}.layers", 6, out_channels, 1, relu=False))
    if stride == 1 and in_channels == out_channels:
        return L.Residual(name, body)
    return L.Sequential(name, body)


def stacks(widths: tuple) -> tuple:
    """layers.8 … layers.13: ``repeats`` blocks each; only the first changes width and strides."""
    nodes, channels = [], widths[1]
    for i, ((kernel, stride, expansion, repeats), out) in enumerate(zip(STACKS, widths[2:])):
        stack = f"layers.{8 + i}"
        blocks = []
        for j in range(repeats):
            blocks.append(inverted_residual(f"{stack}.{j}", channels, out, kernel, stride if j == 0 else 1,
                                            expansion))
            channels = out
        nodes.append(L.Sequential(stack, tuple(blocks)))
    return tuple(nodes)


def mnasnet(h, w, name: str, alpha: float, classes=1000, in_channels=3, dropout=0.2) -> L.Network:
    """Build torchvision's MNASNet with depth multiplier ``alpha`` for an in_channels×h×w input."""
    widths = depths(alpha)
    stem = (conv_bn("layers", 0, widths[0], 3, 2) + conv_bn("layers", 3, widths[0], 3, groups=widths[0])
            + conv_bn("layers", 6, widths[1], 1, relu=False))
    last = conv_bn("layers", 14, LAST_CHANNELS, 1)
    head = (L.GlobalPool("mean", "mean"),  # torchvision's x.mean([2, 3])
            L.Dropout("classifier.0", dropout), L.Linear("classifier.1", classes))
    return L.Network(name, (in_channels, h, w), stem + stacks(widths) + last + head, top="mean")


SOURCE = "Tan et al. 2019, \"MnasNet: Platform-Aware Neural Architecture Search for Mobile\" (arXiv:1807.11626); "
ALPHAS = {"mnasnet0_5": 0.5, "mnasnet0_75": 0.75, "mnasnet1_0": 1.0, "mnasnet1_3": 1.3}


def _register_mnasnets() -> None:
    """Register the four published depth multipliers: one builder, alpha the default of each."""
    for name, alpha in ALPHAS.items():
        register(name, params(alpha),
                 f"MNASNet-B1 ×{alpha}: conv → depthwise-separable conv → 16 inverted residual blocks → "
                 "1×1 conv 1280 → mean → fc",
                 SOURCE + "torchvision.models." + name, torchvision=name)(partial(mnasnet, name=name))


_register_mnasnets()
