"""ResNet-18/34/50/101/152 as in torchvision (v1.5: a Bottleneck strides on its 3×3 conv).

Architectures are data: a block type and the number of blocks in each of the
four stages. One builder lays them out in torchvision's module layout
(``conv1``, ``bn1``, ``layer1.0.conv1``, ``layer2.0.downsample.0``, ``fc``), so
the state_dict keys match torchvision's models exactly at the default
hyperparameters. Source: He et al., "Deep Residual Learning for Image
Recognition" (2015), Table 1.
"""

from __future__ import annotations

from functools import partial

from .. import layers as L
from .registry import Param, input_size_params, register

# Blocks per stage (the paper's Table 1) and the block type of each depth.
DEPTHS = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}
# Output channels of a block relative to its stage's width (64, 128, 256, 512).
EXPANSION = {"basic": 1, "bottleneck": 4}

PARAMS = input_size_params(224) + (
    Param("classes", 1000, "output classes", meaning="output classes"),
    Param("in_channels", 3, "input channels"),
)


def conv_bn(block: str, i: int, out, k: int, stride=1) -> tuple:
    """``{block}.conv{i}`` (k×k, 'same'-style padding k//2, no bias: BN follows) and ``{block}.bn{i}``."""
    return (L.Conv2d(f"{block}.conv{i}", out, k, stride, k // 2, bias=False), L.BatchNorm2d(f"{block}.bn{i}"))


def basic_body(block: str, width, stride) -> tuple:
    """BasicBlock: 3×3 (strided) → BN → ReLU → 3×3 → BN."""
    return conv_bn(block, 1, width, 3, stride) + (L.Activation(f"{block}.relu"),) + conv_bn(block, 2, width, 3)


def bottleneck_body(block: str, width, stride) -> tuple:
    """Bottleneck: 1×1 reduce → 3×3 (strided, v1.5) → 1×1 expand to 4·width, BN after each."""
    return (conv_bn(block, 1, width, 1) + (L.Activation(f"{block}.relu"),)
            + conv_bn(block, 2, width, 3, stride) + (L.Activation(f"{block}.relu_1"),)
            + conv_bn(block, 3, width * EXPANSION["bottleneck"], 1))


BODIES = {"basic": basic_body, "bottleneck": bottleneck_body}


def block(kind: str, name: str, in_ch: int, width: int, stride: int) -> L.Residual:
    """One residual block; a 1×1 projection shortcut only where the shape changes.

    torchvision projects when the stride is not 1 or the channel count changes
    (so the first Bottleneck of layer1 projects 64 → 256 at stride 1).
    """
    out_ch = width * EXPANSION[kind]
    shortcut = ()
    if stride != 1 or in_ch != out_ch:
        shortcut = (L.Conv2d(f"{name}.downsample.0", out_ch, 1, stride, bias=False),
                    L.BatchNorm2d(f"{name}.downsample.1"))
    return L.Residual(name, BODIES[kind](name, width, stride), shortcut, (L.Activation(f"{name}.relu_out"),))


def stages(kind: str, counts: tuple) -> tuple:
    """layer1 … layer4: widths 64·2^i; every stage but the first halves the size in its first block."""
    nodes, in_ch = [], 64
    for i, count in enumerate(counts):
        width, stage = 64 * 2**i, f"layer{i + 1}"
        blocks = []
        for j in range(count):
            blocks.append(block(kind, f"{stage}.{j}", in_ch, width, 2 if i > 0 and j == 0 else 1))
            in_ch = width * EXPANSION[kind]
        nodes.append(L.Sequential(stage, tuple(blocks)))
    return tuple(nodes)


def resnet(h, w, depth: int = 50, classes=1000, in_channels=3) -> L.Network:
    """Build ResNet-``depth`` (18, 34, 50, 101 or 152) for an in_channels×h×w input."""
    kind, counts = DEPTHS[depth]
    stem = (L.Conv2d("conv1", 64, 7, 2, 3, bias=False), L.BatchNorm2d("bn1"), L.Activation("relu"),
            L.MaxPool2d("maxpool", 3, 2, 1))
    head = (L.AdaptiveAvgPool2d("avgpool", (1, 1)), L.Flatten("flatten"), L.Linear("fc", classes))
    return L.Network(f"resnet{depth}", (in_channels, h, w), stem + stages(kind, counts) + head,
                     size_names(kind))


def size_names(kind: str) -> dict:
    """H1, W1 … H5, W5 for the five size changes: conv1, maxpool, and each later stage's entry.

    A stage's strided conv and its downsample give the same size, so both get one name.
    """
    names = {"conv1": ("H1", "W1"), "maxpool": ("H2", "W2")}
    strided = "conv1" if kind == "basic" else "conv2"  # v1.5: Bottleneck strides on its 3×3
    for i in (2, 3, 4):
        names[f"layer{i}.0.{strided}"] = names[f"layer{i}.0.downsample.0"] = (f"H{i + 1}", f"W{i + 1}")
    return names


def _register_resnets() -> None:
    """Register resnet18 … resnet152: one builder, the depths differ only in data."""
    for depth, (kind, counts) in DEPTHS.items():
        name = f"resnet{depth}"
        register(name, PARAMS, f"ResNet-{depth}: {kind} blocks {counts}, widths 64-512, global pool, fc",
                 "He et al. 2015 (arXiv:1512.03385); torchvision.models." + name,
                 torchvision=name)(partial(resnet, depth=depth))


_register_resnets()
