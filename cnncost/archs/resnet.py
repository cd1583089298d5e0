"""ResNet, ResNeXt and Wide ResNet as in torchvision, and the original ResNet v1 of He et al.

Architectures are data: a block type and the number of blocks in each of the
four stages. One builder lays them out in torchvision's module layout
(``conv1``, ``bn1``, ``layer1.0.conv1``, ``layer2.0.downsample.0``, ``fc``), so
the state_dict keys match torchvision's models exactly at the default
hyperparameters. Source: He et al., "Deep Residual Learning for Image
Recognition" (2015), Table 1.

* resnet18 … resnet152: torchvision's version 1.5, where a Bottleneck strides on its 3×3 conv.
* resnet50_v1, resnet101_v1, resnet152_v1: the paper's original, where a Bottleneck strides on its
  first 1×1 conv. Same module paths and shapes as resnetN (any resnetN checkpoint loads), but the
  3×3 of every stage's first block then runs at the halved size, so they cost fewer MACs.
* resnext50_32x4d, resnext101_32x8d, resnext101_64x4d (Xie et al. 2017) and wide_resnet50_2,
  wide_resnet101_2 (Zagoruyko & Komodakis 2016, as torchvision builds them): v1.5 Bottlenecks whose
  inner width is torchvision's ``int(planes * (width_per_group / 64.)) * groups`` and whose 3×3
  conv has ``groups`` groups. ``groups`` and ``width_per_group`` are design variables.
"""

from __future__ import annotations

from functools import partial
from typing import Callable

from .. import layers as L
from ..arith import is_number
from .registry import Param, input_size_params, register

# Blocks per stage (the paper's Table 1) and the block type of each depth.
DEPTHS = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}
# Output channels of a block relative to its stage's planes (64, 128, 256, 512).
EXPANSION = {"basic": 1, "bottleneck": 4}
# Which conv of a Bottleneck carries a stage's stride: the paper's v1 strides the first 1×1,
# torchvision's v1.5 the 3×3 (a BasicBlock always strides its first 3×3, conv1).
STRIDED = {"v1": "conv1", "v1.5": "conv2"}

# torchvision's grouped and widened Bottleneck networks: (depth, groups, width_per_group).
GROUPED = {
    "resnext50_32x4d": (50, 32, 4),
    "resnext101_32x8d": (101, 32, 8),
    "resnext101_64x4d": (101, 64, 4),
    "wide_resnet50_2": (50, 1, 128),
    "wide_resnet101_2": (101, 1, 128),
}
SOURCES = {
    "resnext": "Xie et al. 2017, \"Aggregated Residual Transformations for Deep Neural Networks\" "
               "(arXiv:1611.05431); torchvision.models.",
    "wide": "Zagoruyko & Komodakis 2016, \"Wide Residual Networks\" (arXiv:1605.07146), as torchvision builds "
            "it (ResNet-50/101 with bottlenecks twice as wide); torchvision.models.",
}

PARAMS = input_size_params(224) + (
    Param("classes", 1000, "output classes", meaning="output classes"),
    Param("in_channels", 3, "input channels"),
)


def grouped_params(groups: int, width_per_group: int) -> tuple:
    """PARAMS plus the two Bottleneck design variables, defaulting to one network's values."""
    return PARAMS + (
        Param("groups", groups, "groups of every Bottleneck's 3×3 conv (ResNeXt's cardinality)", symbolic=True,
              meaning="groups of the 3×3 convs"),
        Param("width_per_group", width_per_group, "channels per group in the first stage (64: plain ResNet)",
              symbolic=True, meaning="channels per group in stage 1"),
    )


def bottleneck_width(planes: int, groups, width_per_group):
    """Inner width of a Bottleneck of stage width ``planes``: torchvision's
    ``int(planes * (width_per_group / 64.)) * groups``, in the same float operations for numbers."""
    if is_number(width_per_group):
        return int(planes * (width_per_group / 64.0)) * groups
    # A symbol: planes is 64·2^i, so planes·width_per_group/64 is already whole and int() drops nothing.
    return planes // 64 * width_per_group * groups


def conv_bn(block: str, i: int, out, k: int, stride=1, groups=1) -> tuple:
    """``{block}.conv{i}`` (k×k, 'same'-style padding k//2, no bias: BN follows) and ``{block}.bn{i}``."""
    return (L.Conv2d(f"{block}.conv{i}", out, k, stride, k // 2, groups=groups, bias=False),
            L.BatchNorm2d(f"{block}.bn{i}"))


def basic_body(block: str, planes, stride, **_) -> tuple:
    """BasicBlock: 3×3 (strided) → BN → ReLU → 3×3 → BN."""
    return conv_bn(block, 1, planes, 3, stride) + (L.Activation(f"{block}.relu"),) + conv_bn(block, 2, planes, 3)


def bottleneck_body(block: str, planes, stride, groups=1, width_per_group=64, version="v1.5") -> tuple:
    """Bottleneck: 1×1 reduce → 3×3 (grouped) → 1×1 expand to 4·planes, BN after each.

    The stride sits on the 3×3 (v1.5) or on the first 1×1 (v1).
    """
    width = bottleneck_width(planes, groups, width_per_group)
    first, middle = (stride, 1) if version == "v1" else (1, stride)
    return (conv_bn(block, 1, width, 1, first) + (L.Activation(f"{block}.relu"),)
            + conv_bn(block, 2, width, 3, middle, groups) + (L.Activation(f"{block}.relu_1"),)
            + conv_bn(block, 3, planes * EXPANSION["bottleneck"], 1))


# only the bottleneck reads the shape keywords (groups, width_per_group, version); the basic body ignores them
BODIES: dict[str, Callable[..., tuple]] = {"basic": basic_body, "bottleneck": bottleneck_body}


def block(kind: str, name: str, in_ch: int, planes: int, stride: int, **shape) -> L.Residual:
    """One residual block; a 1×1 projection shortcut only where the shape changes.

    torchvision projects when the stride is not 1 or the channel count changes
    (so the first Bottleneck of layer1 projects 64 → 256 at stride 1). ``shape``:
    a Bottleneck's groups, width_per_group and version.
    """
    out_ch = planes * EXPANSION[kind]
    shortcut: tuple = ()
    if stride != 1 or in_ch != out_ch:
        shortcut = (L.Conv2d(f"{name}.downsample.0", out_ch, 1, stride, bias=False),
                    L.BatchNorm2d(f"{name}.downsample.1"))
    return L.Residual(name, BODIES[kind](name, planes, stride, **shape), shortcut,
                      (L.Activation(f"{name}.relu_out"),))


def stages(kind: str, counts: tuple, **shape) -> tuple:
    """layer1 … layer4: planes 64·2^i; every stage but the first halves the size in its first block."""
    nodes, in_ch = [], 64
    for i, count in enumerate(counts):
        planes, stage = 64 * 2**i, f"layer{i + 1}"
        blocks = []
        for j in range(count):
            blocks.append(block(kind, f"{stage}.{j}", in_ch, planes, 2 if i > 0 and j == 0 else 1, **shape))
            in_ch = planes * EXPANSION[kind]
        nodes.append(L.Sequential(stage, tuple(blocks)))
    return tuple(nodes)


def resnet(h, w, depth: int = 50, classes=1000, in_channels=3, name: str = "", **shape) -> L.Network:
    """Build ResNet-``depth`` (18, 34, 50, 101 or 152) for an in_channels×h×w input.

    ``shape`` (Bottleneck depths only): ``groups``, ``width_per_group`` (torchvision's defaults 1
    and 64) and ``version`` ("v1.5", torchvision's, or "v1", the paper's).
    """
    kind, counts = DEPTHS[depth]
    stem = (L.Conv2d("conv1", 64, 7, 2, 3, bias=False), L.BatchNorm2d("bn1"), L.Activation("relu"),
            L.MaxPool2d("maxpool", 3, 2, 1))
    head = (L.AdaptiveAvgPool2d("avgpool", (1, 1)), L.Flatten("flatten"), L.Linear("fc", classes))
    return L.Network(name or f"resnet{depth}", (in_channels, h, w), stem + stages(kind, counts, **shape) + head,
                     size_names(kind, shape.get("version", "v1.5")), top="avgpool")


def size_names(kind: str, version: str = "v1.5") -> dict:
    """H1, W1 … H5, W5 for the five size changes: conv1, maxpool, and each later stage's entry.

    A stage's strided conv and its downsample give the same size, so both get one name.
    """
    names = {"conv1": ("H1", "W1"), "maxpool": ("H2", "W2")}
    strided = "conv1" if kind == "basic" else STRIDED[version]
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


def _register_v1() -> None:
    """Register resnet50_v1 … resnet152_v1: the paper's Bottleneck, strided on its first 1×1.

    No torchvision claim: torchvision ships only v1.5 (its keys and shapes are these, its MACs are not).
    """
    for depth in (50, 101, 152):
        name = f"resnet{depth}_v1"
        register(name, PARAMS, f"ResNet-{depth} v1 (the paper's): Bottlenecks {DEPTHS[depth][1]} stride on "
                 "their first 1x1 conv, widths 64-512, global pool, fc",
                 "He et al. 2015 (arXiv:1512.03385), Table 1")(partial(resnet, depth=depth, name=name,
                                                                         version="v1"))


def _register_grouped() -> None:
    """Register torchvision's ResNeXt and Wide ResNet: Bottleneck depths with other groups and widths."""
    for name, (depth, groups, width_per_group) in GROUPED.items():
        family = "wide" if name.startswith("wide") else "resnext"
        what = (f"Wide ResNet-{depth}-2: Bottlenecks twice as wide" if family == "wide"
                else f"ResNeXt-{depth} ({groups}x{width_per_group}d): grouped 3x3 convs")
        register(name, grouped_params(groups, width_per_group),
                 f"{what}, blocks {DEPTHS[depth][1]}, global pool, fc", SOURCES[family] + name,
                 torchvision=name)(partial(resnet, depth=depth, name=name))


_register_resnets()
_register_v1()
_register_grouped()
