"""ShuffleNet V2 ×0.5, ×1.0, ×1.5 and ×2.0 as torchvision builds them (Ma et al. 2018).

3×3/2 conv → BN → ReLU → 3×3/2 max-pool, three stages of units, a 1×1 conv (``conv5``),
a global mean over H and W and one linear layer. A stage's first unit halves the size: both
of its branches read the whole input (branch 1: 3×3/2 depthwise conv → BN → 1×1 conv → BN →
ReLU; branch 2: 1×1 conv → BN → ReLU → 3×3/2 depthwise → BN → 1×1 → BN → ReLU). Every other
unit splits the channels in two (``x.chunk(2, dim=1)``), passes the first half unchanged and
runs branch 2 on the second. Each unit ends by concatenating its two halves and shuffling the
channels across them (torchvision's view–transpose–view ``channel_shuffle``, no arithmetic).

The four widths differ only in their channel table. A stage's output is two branches of equal
width, so the design variables are the branch widths ``b2``, ``b3``, ``b4`` (half of
torchvision's stage channels: 58, 116, 232 for ×1.0), with ``c1`` (stem) and ``c5`` (conv5)
channels; all are symbols in the closed forms. Every value is a valid network: torchvision's
odd stage channel counts are the ones it rejects. The units per stage (4, 8, 4) are structure.
Node names are torchvision's module paths; the split, concatenation and shuffle get the
names the fx importer gives torchvision's own module (``chunk``, ``chunk_1``, ``cat``,
``channel_shuffle``) and the global mean ``mean``.
"""

from __future__ import annotations

from functools import partial

from .. import layers as L
from .registry import Param, input_size_params, register

# torchvision's stages_out_channels per width: stem, stages 2-4, conv5.
WIDTHS = {
    "x0_5": (24, 48, 96, 192, 1024),
    "x1_0": (24, 116, 232, 464, 1024),
    "x1_5": (24, 176, 352, 704, 1024),
    "x2_0": (24, 244, 488, 976, 2048),
}
REPEATS = (4, 8, 4)  # units in stages 2, 3 and 4 (every width)


def params(channels: tuple) -> tuple:
    """The declarations of one width, with its channel table as the defaults."""
    stem, *stages, last = channels
    return input_size_params(224) + (
        Param("c1", stem, "channels of the stem convolution (conv1)", symbolic=True,
              meaning="channels of the stem convolution"),
    ) + tuple(Param(f"b{i}", c // 2, f"branch width of stage {i} (the stage has 2·b{i} channels)", symbolic=True,
                    meaning=f"branch width of stage {i} (half its channels)") for i, c in enumerate(stages, 2)) + (
        Param("c5", last, "channels of the last 1×1 convolution (conv5)", symbolic=True,
              meaning="channels of the last 1×1 convolution"),
    ) + tuple(Param(f"repeats{i}", n, f"units in stage {i}") for i, n in enumerate(REPEATS, 2)) + (
        Param("classes", 1000, "output classes", meaning="output classes"),
        Param("in_channels", 3, "input channels"),
    )


def depthwise_bn(name: str, i: int, channels, stride) -> tuple:
    """3×3 depthwise conv (padding 1, no bias) at ``name.i`` and its BatchNorm at ``name.{i+1}``."""
    return (L.Conv2d(f"{name}.{i}", channels, 3, stride, 1, groups=channels, bias=False),
            L.BatchNorm2d(f"{name}.{i + 1}"))


def pointwise_bn_relu(name: str, i: int, channels) -> tuple:
    """1×1 conv (no bias) → BN → ReLU at ``name.i`` … ``name.{i+2}``."""
    return (L.Conv2d(f"{name}.{i}", channels, 1, bias=False), L.BatchNorm2d(f"{name}.{i + 1}"),
            L.Activation(f"{name}.{i + 2}"))


def branch2(name: str, width, stride) -> tuple:
    """1×1 → BN → ReLU → 3×3 depthwise (strided) → BN → 1×1 → BN → ReLU, all ``width`` channels wide."""
    return (pointwise_bn_relu(f"{name}.branch2", 0, width) + depthwise_bn(f"{name}.branch2", 3, width, stride)
            + pointwise_bn_relu(f"{name}.branch2", 5, width))


def unit(name: str, in_channels, width, stride: int) -> L.Sequential:
    """One InvertedResidual: two halves of ``width`` channels concatenated, then shuffled."""
    if stride > 1:
        branches = (depthwise_bn(f"{name}.branch1", 0, in_channels, stride)
                    + pointwise_bn_relu(f"{name}.branch1", 2, width),
                    branch2(name, width, stride))
    else:
        branches = ((L.ChannelSlice(f"{name}.chunk", 2, 0),),
                    (L.ChannelSlice(f"{name}.chunk_1", 2, 1),) + branch2(name, width, stride))
    return L.Sequential(name, (L.Concat(f"{name}.cat", branches),
                               L.ChannelShuffle(f"{name}.channel_shuffle", 2, call="view")))


def stages(c1, widths: tuple, repeats: tuple) -> tuple:
    """stage2 … stage4: a strided unit, then ``repeats − 1`` splitting units."""
    nodes, channels = [], c1
    for i, (width, count) in enumerate(zip(widths, repeats), 2):
        units = [unit(f"stage{i}.0", channels, width, 2)]
        units += [unit(f"stage{i}.{j}", 2 * width, width, 1) for j in range(1, count)]
        nodes.append(L.Sequential(f"stage{i}", tuple(units)))
        channels = 2 * width
    return tuple(nodes)


def shufflenet_v2(h, w, width: str = "x1_0", c1=24, b2=58, b3=116, b4=232, c5=1024, repeats2=4, repeats3=8,
                  repeats4=4, classes=1000, in_channels=3) -> L.Network:
    """Build ShuffleNet V2 at ``width`` (its registered channel table) for an in_channels×h×w input."""
    stem = (L.Sequential("conv1", (L.Conv2d("conv1.0", c1, 3, 2, 1, bias=False), L.BatchNorm2d("conv1.1"),
                                   L.Activation("conv1.2"))),
            L.MaxPool2d("maxpool", 3, 2, 1))
    conv5 = (L.Sequential("conv5", pointwise_bn_relu("conv5", 0, c5)),)
    top = (L.GlobalPool("mean"), L.Linear("fc", classes))  # x.mean([2, 3]), then fc
    return L.Network(f"shufflenet_v2_{width}", (in_channels, h, w),
                     stem + stages(c1, (b2, b3, b4), (repeats2, repeats3, repeats4)) + conv5 + top,
                     size_names(), top="mean")


def size_names() -> dict:
    """H1, H2 after conv1 and the max-pool; H3 … H5 for stages 2-4, whose first unit's two
    branches stride alike (so both strided depthwise convs get the stage's one name)."""
    names = {"conv1.0": ("H1", "W1"), "maxpool": ("H2", "W2")}
    for i in (2, 3, 4):
        names[f"stage{i}.0.branch1.0"] = names[f"stage{i}.0.branch2.3"] = (f"H{i + 1}", f"W{i + 1}")
    return names


def width_label(width: str) -> str:
    """A width's name as the paper writes it: x1_5 -> ×1.5."""
    return width.replace("_", ".").replace("x", "×")


def _register_shufflenets() -> None:
    """Register the four widths: one builder, the channel tables differ."""
    for width, channels in WIDTHS.items():
        name = f"shufflenet_v2_{width}"
        register(name, params(channels),
                 f"ShuffleNet V2 {width_label(width)}: conv {channels[0]} → stages of {REPEATS} units "
                 f"({', '.join(map(str, channels[1:4]))} channels) → 1×1 conv {channels[4]} → mean → fc",
                 "Ma et al. 2018, \"ShuffleNet V2: Practical Guidelines for Efficient CNN Architecture Design\" "
                 "(arXiv:1807.11164); torchvision.models." + name,
                 torchvision=name)(partial(shufflenet_v2, width=width))


_register_shufflenets()
