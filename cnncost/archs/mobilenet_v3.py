"""mobilenet_v3_large and mobilenet_v3_small: MobileNetV3 as torchvision builds it.

Hardswish 3×3/2 stem → a table of inverted residual blocks (optional 1×1 expansion, k×k depthwise,
optional squeeze-excitation, linear 1×1 projection) → 1×1 conv to 6× the last block's channels
(Hardswish) → global average pool → Linear → Hardswish → Dropout → Linear. Every conv is bias-free
and followed by BatchNorm (eps 0.001); the squeeze-excitation convs carry biases, its gate is a hard
sigmoid and its squeeze width is ``make_divisible(expanded // 4, 8)``.

The width multiplier scales every channel count of the table and the classifier's hidden width,
each rounded with torchvision's ``_make_divisible`` (``rounding.make_divisible``) from the same
float product, so a block's expansion is skipped, and its input added back, exactly where
torchvision's are. ``reduced_tail`` halves the last stage (torchvision's option for detection
backbones); torchvision's ``dilated`` option is not offered (off, as in the classifiers).

Node names are torchvision's module paths (``features.4.block.2.fc1``); the residual and gate
merges are named after their module (``features.5``, ``features.5.block.2``), the flatten gets an
extra stateless name.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

from .. import layers as L
from .registry import Param, input_size_params, register
from .rounding import make_divisible

EPS = 0.001  # torchvision's norm_layer for MobileNetV3: BatchNorm2d(eps=0.001, momentum=0.01)


class Block(NamedTuple):
    """One row of torchvision's bneck table, before the width multiplier."""

    in_channels: int
    kernel: int
    expanded: int
    out_channels: int
    se: bool  # squeeze-excitation after the depthwise conv
    hardswish: bool  # Hardswish ("HS") rather than ReLU ("RE")
    stride: int
    # Which counts reduced_tail halves: none (""), the output only ("out": the last stage's first
    # block, whose input and expansion stay), or all three ("all": the rest of the last stage).
    tail: str = ""


def _table(rows: tuple) -> tuple:
    return tuple(Block(*row) for row in rows)


# The paper's Tables 1 and 2 as torchvision writes them (in, kernel, expanded, out, SE, HS, stride, tail).
LARGE = _table((
    (16, 3, 16, 16, False, False, 1), (16, 3, 64, 24, False, False, 2), (24, 3, 72, 24, False, False, 1),
    (24, 5, 72, 40, True, False, 2), (40, 5, 120, 40, True, False, 1), (40, 5, 120, 40, True, False, 1),
    (40, 3, 240, 80, False, True, 2), (80, 3, 200, 80, False, True, 1), (80, 3, 184, 80, False, True, 1),
    (80, 3, 184, 80, False, True, 1), (80, 3, 480, 112, True, True, 1), (112, 3, 672, 112, True, True, 1),
    (112, 5, 672, 160, True, True, 2, "out"), (160, 5, 960, 160, True, True, 1, "all"),
    (160, 5, 960, 160, True, True, 1, "all"),
))
SMALL = _table((
    (16, 3, 16, 16, True, False, 2), (16, 3, 72, 24, False, False, 2), (24, 3, 88, 24, False, False, 1),
    (24, 5, 96, 40, True, True, 2), (40, 5, 240, 40, True, True, 1), (40, 5, 240, 40, True, True, 1),
    (40, 5, 120, 48, True, True, 1), (48, 5, 144, 48, True, True, 1), (48, 5, 288, 96, True, True, 2, "out"),
    (96, 5, 576, 96, True, True, 1, "all"), (96, 5, 576, 96, True, True, 1, "all"),
))
# The classifier's hidden width (before the width multiplier; halved by reduced_tail).
LAST_CHANNEL = {"mobilenet_v3_large": 1280, "mobilenet_v3_small": 1024}
TABLES = {"mobilenet_v3_large": LARGE, "mobilenet_v3_small": SMALL}

PARAMS = input_size_params(224) + (
    Param("classes", 1000, "output classes", meaning="output classes"),
    Param("in_channels", 3, "input channels"),
    Param("width_mult", 1.0, "width multiplier: every channel count × this, rounded to a multiple of 8",
          span=(0.1, 4.0)),
    Param("reduced_tail", False, "halve the channels of the last stage (torchvision's detection-backbone option)"),
    Param("dropout", 0.2, "dropout rate in the classifier (costs nothing)"),
)


def conv_bn_act(name: str, out_channels: int, kernel_size: int, stride: int = 1, groups: int = 1,
                activation: str | None = None) -> tuple:
    """torchvision's Conv2dNormActivation: conv (padding (k−1)/2, no bias) → BN → activation, at name.0-2."""
    nodes = (L.Conv2d(f"{name}.0", out_channels, kernel_size, stride, (kernel_size - 1) // 2, groups=groups,
                      bias=False),
             L.BatchNorm2d(f"{name}.1", eps=EPS))
    return nodes + ((L.Activation(f"{name}.2", activation),) if activation else ())


def squeeze_excitation(name: str, channels: int) -> L.Residual:
    """torchvision's SqueezeExcitation with a hard-sigmoid gate: x · hardsigmoid(fc2(relu(fc1(pool(x)))))."""
    squeeze = make_divisible(channels // 4, 8)
    gate = (L.AdaptiveAvgPool2d(f"{name}.avgpool", 1), L.Conv2d(f"{name}.fc1", squeeze, 1),
            L.Activation(f"{name}.activation", "relu"), L.Conv2d(f"{name}.fc2", channels, 1),
            L.Activation(f"{name}.scale_activation", "hardsigmoid"))
    return L.Residual(name, gate, op="mul")  # scale * input: the gate's output broadcast over H×W


def inverted_residual(name: str, cfg: Block) -> L.Sequential | L.Residual:
    """One block, its channels already scaled: [1×1 expand] → k×k depthwise → [SE] → 1×1 project.

    As in torchvision, the expansion exists only when it changes the channel count, and the input
    is added back only at stride 1 with equal input and output channels.
    """
    activation = "hardswish" if cfg.hardswish else "relu"
    stages: list = []
    if cfg.expanded != cfg.in_channels:
        stages.append(conv_bn_act(f"{name}.block.0", cfg.expanded, 1, activation=activation))
    stages.append(conv_bn_act(f"{name}.block.{len(stages)}", cfg.expanded, cfg.kernel, cfg.stride,
                              groups=cfg.expanded, activation=activation))
    if cfg.se:
        stages.append((squeeze_excitation(f"{name}.block.{len(stages)}", cfg.expanded),))
    stages.append(conv_bn_act(f"{name}.block.{len(stages)}", cfg.out_channels, 1))
    body = tuple(node for stage in stages for node in stage)
    if cfg.stride == 1 and cfg.in_channels == cfg.out_channels:
        return L.Residual(name, body)  # torchvision's result += input
    return L.Sequential(name, body)


def scaled(rows: tuple, width_mult: float, reduced_tail: bool) -> tuple:
    """The table with torchvision's channel arithmetic applied: the tail halved (integer division)
    first, then each count × width_mult rounded by make_divisible(·, 8)."""
    out = []
    for row in rows:
        halve = reduced_tail and row.tail != ""
        whole = 2 if halve and row.tail == "all" else 1  # input and expansion
        out.append(row._replace(in_channels=_adjust(row.in_channels // whole, width_mult),
                                expanded=_adjust(row.expanded // whole, width_mult),
                                out_channels=_adjust(row.out_channels // (2 if halve else 1), width_mult)))
    return tuple(out)


def _adjust(channels: int, width_mult: float) -> int:
    """torchvision's InvertedResidualConfig.adjust_channels: ``_make_divisible(channels * width_mult, 8)``."""
    return make_divisible(channels * width_mult, 8)


def mobilenet_v3(h, w, arch: str, classes=1000, in_channels=3, width_mult=1.0, reduced_tail=False,
                 dropout=0.2) -> L.Network:
    """Build torchvision's ``arch`` (mobilenet_v3_large or mobilenet_v3_small) for an in_channels×h×w input."""
    rows = scaled(TABLES[arch], width_mult, reduced_tail)
    nodes: list = [L.Sequential("features.0", conv_bn_act("features.0", rows[0].in_channels, 3, 2,
                                                      activation="hardswish"))]
    strided = ["features.0.0"]
    for cfg in rows:
        name = f"features.{len(nodes)}"
        nodes.append(inverted_residual(name, cfg))
        if cfg.stride == 2:  # the depthwise conv strides; it is block.0 when the block has no expansion
            strided.append(f"{name}.block.{int(cfg.expanded != cfg.in_channels)}.0")
    last = f"features.{len(nodes)}"
    nodes.append(L.Sequential(last, conv_bn_act(last, 6 * rows[-1].out_channels, 1, activation="hardswish")))
    hidden = _adjust(LAST_CHANNEL[arch] // (2 if reduced_tail else 1), width_mult)
    head = (
        L.AdaptiveAvgPool2d("avgpool", 1),
        L.Flatten("flatten"),
        L.Linear("classifier.0", hidden),
        L.Activation("classifier.1", "hardswish"),
        L.Dropout("classifier.2", dropout),
        L.Linear("classifier.3", classes),
    )
    # H1 … H5 for the five strided layers: named here, the squeeze-excitation pools (1×1 outputs)
    # would otherwise use up automatic numbers and leave gaps (H1, H2, H3, H7, H10).
    size_names = {layer: (f"H{i}", f"W{i}") for i, layer in enumerate(strided, 1)}
    return L.Network(arch, (in_channels, h, w), tuple(nodes) + head, size_names, top="avgpool")


SOURCE = "Howard et al. 2019, \"Searching for MobileNetV3\" (arXiv:1905.02244); torchvision.models."
WHAT = {
    "mobilenet_v3_large": "MobileNetV3-Large: hardswish conv → 15 inverted residual blocks (SE in 8) → "
                          "1×1 conv 960 → avg-pool → fc 1280 → fc",
    "mobilenet_v3_small": "MobileNetV3-Small: hardswish conv → 11 inverted residual blocks (SE in 9) → "
                          "1×1 conv 576 → avg-pool → fc 1024 → fc",
}


def _register_mobilenet_v3() -> None:
    """Register mobilenet_v3_large and mobilenet_v3_small: one builder, two tables."""
    for arch, what in WHAT.items():
        register(arch, PARAMS, what, SOURCE + arch, torchvision=arch)(partial(mobilenet_v3, arch=arch))


_register_mobilenet_v3()
