"""EfficientNet B0–B7 and EfficientNetV2 S, M, L as torchvision builds them.

A stem (3×3/2 conv → BN → SiLU), stages of MBConv blocks (1×1 expansion, depthwise k×k
conv, squeeze-excitation, linear 1×1 projection) — V2 starts with FusedMBConv stages, whose
expansion and depthwise convs are one k×k conv — then a 1×1 conv, global average pool,
dropout and a fully connected layer. Every conv outside the squeeze-excitations is bias-free
and followed by BatchNorm; the activations are SiLU (the gate's is a sigmoid). A block adds
its input back only when it keeps the shape.

B0–B7 are one table scaled by two multipliers (Tan & Le 2019, compound scaling): channel
counts are ``make_divisible(c · width_mult, 8)`` and block counts ``⌈n · depth_mult⌉``, in
torchvision's float operations (``rounding``). Both are float parameters, so a formula
keeps only H and W symbolic; ``cnncost sweep`` varies the multipliers numerically.

Node names are torchvision's module paths (``features.2.1.block.2.fc1``); the functional
flatten gets the extra name ``flatten``. A squeeze-excitation is the gate
``x · sigmoid(fc2(silu(fc1(avgpool(x)))))``: a Residual with op mul and the identity as its
shortcut, as the ``--module`` importer turns torchvision's SqueezeExcitation into nodes.
torchvision's StochasticDepth before each residual add is left out: it holds no state and
is the identity at inference, so it changes no count. BatchNorm's momentum (0.01 in
torchvision's B5–B7) is not recorded either: it changes training only, no count or key.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

from .. import layers as L
from .registry import Param, input_size_params, register
from .rounding import make_divisible, round_repeats


class Stage(NamedTuple):
    """One row of torchvision's stage table (its MBConvConfig / FusedMBConvConfig)."""

    fused: bool  # FusedMBConv (V2's early stages) rather than MBConv
    expand_ratio: int  # hidden channels = input channels × expand_ratio (rounded to 8)
    kernel: int  # k of the depthwise (MBConv) or fused (FusedMBConv) conv
    stride: int  # stride of the stage's first block
    in_channels: int
    out_channels: int
    blocks: int


def _mb(*row) -> Stage:
    return Stage(False, *row)


def _fused(*row) -> Stage:
    return Stage(True, *row)


# The B0 table every B network scales (torchvision's bneck_conf rows).
B_STAGES = (
    _mb(1, 3, 1, 32, 16, 1),
    _mb(6, 3, 2, 16, 24, 2),
    _mb(6, 5, 2, 24, 40, 2),
    _mb(6, 3, 2, 40, 80, 3),
    _mb(6, 5, 1, 80, 112, 3),
    _mb(6, 5, 2, 112, 192, 4),
    _mb(6, 3, 1, 192, 320, 1),
)


class BVariant(NamedTuple):
    """What tells B0 … B7 apart: the two multipliers, dropout, crop and BatchNorm eps."""

    width_mult: float
    depth_mult: float
    dropout: float
    crop: int  # torchvision's evaluation crop (the manifest's crop_size)
    eps: float  # B5–B7 use TensorFlow's BatchNorm eps, as their ported weights need


B_VARIANTS = {
    "efficientnet_b0": BVariant(1.0, 1.0, 0.2, 224, 1e-5),
    "efficientnet_b1": BVariant(1.0, 1.1, 0.2, 240, 1e-5),
    "efficientnet_b2": BVariant(1.1, 1.2, 0.3, 288, 1e-5),
    "efficientnet_b3": BVariant(1.2, 1.4, 0.3, 300, 1e-5),
    "efficientnet_b4": BVariant(1.4, 1.8, 0.4, 380, 1e-5),
    "efficientnet_b5": BVariant(1.6, 2.2, 0.4, 456, 1e-3),
    "efficientnet_b6": BVariant(1.8, 2.6, 0.5, 528, 1e-3),
    "efficientnet_b7": BVariant(2.0, 3.1, 0.5, 600, 1e-3),
}


class V2Variant(NamedTuple):
    """An EfficientNetV2: its stage table (no multipliers), dropout and crop."""

    stages: tuple
    dropout: float
    crop: int


V2_VARIANTS = {
    "efficientnet_v2_s": V2Variant((
        _fused(1, 3, 1, 24, 24, 2),
        _fused(4, 3, 2, 24, 48, 4),
        _fused(4, 3, 2, 48, 64, 4),
        _mb(4, 3, 2, 64, 128, 6),
        _mb(6, 3, 1, 128, 160, 9),
        _mb(6, 3, 2, 160, 256, 15),
    ), 0.2, 384),
    "efficientnet_v2_m": V2Variant((
        _fused(1, 3, 1, 24, 24, 3),
        _fused(4, 3, 2, 24, 48, 5),
        _fused(4, 3, 2, 48, 80, 5),
        _mb(4, 3, 2, 80, 160, 7),
        _mb(6, 3, 1, 160, 176, 14),
        _mb(6, 3, 2, 176, 304, 18),
        _mb(6, 3, 1, 304, 512, 5),
    ), 0.3, 480),
    "efficientnet_v2_l": V2Variant((
        _fused(1, 3, 1, 32, 32, 4),
        _fused(4, 3, 2, 32, 64, 7),
        _fused(4, 3, 2, 64, 96, 7),
        _mb(4, 3, 2, 96, 192, 10),
        _mb(6, 3, 1, 192, 224, 19),
        _mb(6, 3, 2, 224, 384, 25),
        _mb(6, 3, 1, 384, 640, 7),
    ), 0.4, 480),
}
V2_LAST_CHANNELS = 1280  # V2's final 1×1 conv (B networks use 4 × the last stage's channels)
V2_EPS = 1e-3

WIDTH_SPAN = (0.1, 4.0)  # allowed width multipliers: B7 is 2.0; below 0.1 every count is make_divisible's floor 8
DEPTH_SPAN = (0.1, 4.0)  # allowed depth multipliers: B7 is 3.1; any positive value keeps ≥ 1 block per stage


CLASSES_AND_CHANNELS = (
    Param("classes", 1000, "output classes", meaning="output classes"),
    Param("in_channels", 3, "input channels"),
)


def _dropout(rate: float) -> tuple:
    return (Param("dropout", rate, "dropout rate before the classifier (costs nothing)"),)


def b_params(variant: BVariant) -> tuple:
    """The declarations of one B network: input size, classes, channels, the two multipliers, dropout."""
    return input_size_params(variant.crop) + CLASSES_AND_CHANNELS + (
        Param("width_mult", variant.width_mult, "width multiplier: channels make_divisible(c · width_mult, 8)",
              span=WIDTH_SPAN),
        Param("depth_mult", variant.depth_mult, "depth multiplier: blocks per stage ⌈n · depth_mult⌉",
              span=DEPTH_SPAN),
    ) + _dropout(variant.dropout)


def scaled(stages: tuple, width_mult: float, depth_mult: float) -> tuple:
    """MBConvConfig's scaling of a table: both channel counts of each row rounded to 8, blocks rounded up."""
    return tuple(row._replace(in_channels=make_divisible(row.in_channels * width_mult, 8),
                              out_channels=make_divisible(row.out_channels * width_mult, 8),
                              blocks=round_repeats(row.blocks, depth_mult)) for row in stages)


def conv_bn_act(name: str, out_channels, kernel_size: int, eps: float, stride=1, groups=1,
                activation: bool = True) -> tuple:
    """torchvision's Conv2dNormActivation: conv (padding (k−1)/2, no bias) → BN → SiLU, at name.0-2."""
    nodes = (L.Conv2d(f"{name}.0", out_channels, kernel_size, stride, (kernel_size - 1) // 2, groups=groups,
                      bias=False),
             L.BatchNorm2d(f"{name}.1", eps=eps))
    return nodes + (L.Activation(f"{name}.2", "silu"),) if activation else nodes


def squeeze_excitation(name: str, channels: int, squeeze: int) -> L.Residual:
    """x · sigmoid(fc2(silu(fc1(avgpool(x))))): 1×1 convs with bias down to ``squeeze`` and back."""
    gate = (L.AdaptiveAvgPool2d(f"{name}.avgpool", 1),
            L.Conv2d(f"{name}.fc1", squeeze, 1),
            L.Activation(f"{name}.activation", "silu"),
            L.Conv2d(f"{name}.fc2", channels, 1),
            L.Activation(f"{name}.scale_activation", "sigmoid"))
    return L.Residual(name, gate, (), op="mul")


def mbconv(name: str, row: Stage, in_channels: int, stride: int, eps: float) -> tuple:
    """MBConv's ``block``: 1×1 expand (left out when it would keep the width) → depthwise k×k →
    squeeze-excitation to a quarter of the block's input channels → 1×1 linear projection."""
    hidden = make_divisible(in_channels * row.expand_ratio, 8)
    nodes: tuple = ()
    if hidden != in_channels:
        nodes += (L.Sequential(f"{name}.0", conv_bn_act(f"{name}.0", hidden, 1, eps)),)
    i = len(nodes)
    nodes += (L.Sequential(f"{name}.{i}", conv_bn_act(f"{name}.{i}", hidden, row.kernel, eps, stride, hidden)),
              squeeze_excitation(f"{name}.{i + 1}", hidden, max(1, in_channels // 4)),
              L.Sequential(f"{name}.{i + 2}", conv_bn_act(f"{name}.{i + 2}", row.out_channels, 1, eps,
                                                          activation=False)))
    return nodes


def fused_mbconv(name: str, row: Stage, in_channels: int, stride: int, eps: float) -> tuple:
    """FusedMBConv's ``block``: k×k expand → 1×1 linear projection, or one k×k conv (with SiLU)
    when the expansion keeps the width."""
    hidden = make_divisible(in_channels * row.expand_ratio, 8)
    if hidden == in_channels:
        return (L.Sequential(f"{name}.0", conv_bn_act(f"{name}.0", row.out_channels, row.kernel, eps, stride)),)
    return (L.Sequential(f"{name}.0", conv_bn_act(f"{name}.0", hidden, row.kernel, eps, stride)),
            L.Sequential(f"{name}.1", conv_bn_act(f"{name}.1", row.out_channels, 1, eps, activation=False)))


def block(name: str, row: Stage, in_channels: int, stride: int, eps: float):
    """One block at ``name`` (its layers under ``name.block``); the input is added back when
    stride is 1 and the width is kept (``result += input``)."""
    body = (fused_mbconv if row.fused else mbconv)(f"{name}.block", row, in_channels, stride, eps)
    if stride == 1 and in_channels == row.out_channels:
        return L.Residual(name, body)
    return L.Sequential(name, body)


def features(stages: tuple, last_channels: int, eps: float) -> tuple:
    """features.0 (stem) … features.N (final 1×1 conv); each stage one Sequential of blocks."""
    nodes = [L.Sequential("features.0", conv_bn_act("features.0", stages[0].in_channels, 3, eps, stride=2))]
    for row in stages:
        stage = f"features.{len(nodes)}"
        # Only a stage's first block takes the row's input width and stride (torchvision's copy of the config).
        blocks = tuple(block(f"{stage}.{j}", row, row.in_channels if j == 0 else row.out_channels,
                             row.stride if j == 0 else 1, eps) for j in range(row.blocks))
        nodes.append(L.Sequential(stage, blocks))
    last = f"features.{len(nodes)}"
    nodes.append(L.Sequential(last, conv_bn_act(last, last_channels, 1, eps)))
    return tuple(nodes)


def size_names(layers: tuple) -> dict:
    """H1, W1 … for the stride-2 convs in order (stem, then each striding stage's first block);
    the squeeze-excitation pools' 1×1 outputs are numbers, not names."""
    strided = [leaf.name for leaf in L.leaves(layers) if isinstance(leaf, L.Conv2d) and leaf.stride == 2]
    return {name: (f"H{i}", f"W{i}") for i, name in enumerate(strided, 1)}


def head(dropout: float, classes) -> tuple:
    """Global average pool → flatten → dropout → fully connected."""
    return (L.AdaptiveAvgPool2d("avgpool", 1), L.Flatten("flatten"), L.Dropout("classifier.0", dropout),
            L.Linear("classifier.1", classes))


def efficientnet_b(h, w, name: str, width_mult: float, depth_mult: float, dropout: float, classes=1000,
                   in_channels=3) -> L.Network:
    """An EfficientNet of the B family: B0's table scaled by ``width_mult`` and ``depth_mult``."""
    stages = scaled(B_STAGES, width_mult, depth_mult)
    layers = features(stages, 4 * stages[-1].out_channels, B_VARIANTS[name].eps) + head(dropout, classes)
    return L.Network(name, (in_channels, h, w), layers, size_names(layers), top="avgpool")


def efficientnet_v2(h, w, name: str, dropout: float, classes=1000, in_channels=3) -> L.Network:
    """An EfficientNetV2 (S, M or L) from its own table (torchvision scales none of them)."""
    layers = features(V2_VARIANTS[name].stages, V2_LAST_CHANNELS, V2_EPS) + head(dropout, classes)
    return L.Network(name, (in_channels, h, w), layers, size_names(layers), top="avgpool")


def _register_all() -> None:
    """Register efficientnet_b0 … b7 and efficientnet_v2_s, _m, _l."""
    for name, variant in B_VARIANTS.items():
        register(name, b_params(variant),
                 f"EfficientNet-{name[-2:].upper()}: B0's MBConv table at width ×{variant.width_mult}, "
                 f"depth ×{variant.depth_mult}, SiLU, squeeze-excitation, avg-pool, fc",
                 "Tan & Le 2019, \"EfficientNet: Rethinking Model Scaling for CNNs\" (torchvision)",
                 torchvision=name)(partial(efficientnet_b, name=name))
    for name, v2_variant in V2_VARIANTS.items():
        register(name,
                 input_size_params(v2_variant.crop) + CLASSES_AND_CHANNELS + _dropout(v2_variant.dropout),
                 f"EfficientNetV2-{name[-1].upper()}: FusedMBConv then MBConv stages, 1×1 conv 1280, avg-pool, fc",
                 "Tan & Le 2021, \"EfficientNetV2: Smaller Models and Faster Training\" (torchvision)",
                 torchvision=name)(partial(efficientnet_v2, name=name))


_register_all()
