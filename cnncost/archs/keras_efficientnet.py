"""keras_efficientnet_b0 … keras_efficientnet_b7: keras.applications' EfficientNet B0-B7.

The same MBConv network as torchvision's EfficientNet, written as Keras writes it:

- The input preprocessing is part of the model: ``Rescaling(1/255)`` → ``Normalization`` (per-channel mean,
  variance and sample count, non-trainable weights Keras counts: 7 on RGB; cnncost.kinds.preprocess) →
  ``Rescaling(1/√std)`` per channel (added for the ImageNet weights; a constant, on RGB inputs only).
- Keras' SE block squeezes to ``max(1, int(filters_in · 0.25))`` channels with biased 1×1 convs (swish,
  then sigmoid), as torchvision's; depthwise and pointwise convs are bias-free; every BatchNorm has
  gamma and beta (eps 1e-3).
- Stride-2 depthwise convs and the stem pad as TensorFlow's "same" (``ZeroPadding2D(correct_pad)`` then a
  "valid" conv): here symmetric k//2 padding, the same output size and counts (keras_b explains).
- The per-block ``Dropout(noise_shape=(None, 1, 1, 1))`` before each residual add is stochastic depth: it
  holds nothing and is the identity at inference, so it is left out. The SE block's ``Reshape`` (C → 1×1×C)
  is folded into the squeeze (a mean that keeps H and W as 1×1).

Channels are ``round_filters`` (make_divisible of channels · width, divisor 8) and block counts
``ceil(repeats · depth)``, as Keras computes them; ``width_coefficient`` and ``depth_coefficient`` are
numeric design variables. Source: keras-team/keras, keras/src/applications/efficientnet.py; Tan & Le 2019.
"""

from __future__ import annotations

from functools import partial

from .. import layers as L
from ..kinds.preprocess import Normalization
from .keras_b import batch_norm, classifier_top, keras_params
from .registry import Param, input_size_params, register
from .rounding import make_divisible, round_repeats

# Keras' DEFAULT_BLOCKS_ARGS, one row per stage:
# (kernel, repeats, filters_in, filters_out, expand_ratio, stride); every stage has se_ratio 0.25.
BLOCKS = (
    (3, 1, 32, 16, 1, 1),
    (3, 2, 16, 24, 6, 2),
    (5, 2, 24, 40, 6, 2),
    (3, 3, 40, 80, 6, 2),
    (5, 3, 80, 112, 6, 1),
    (5, 4, 112, 192, 6, 2),
    (3, 1, 192, 320, 6, 1),
)
SE_RATIO = 0.25
DEPTH_DIVISOR = 8
IMAGENET_STDDEV_RGB = (0.229, 0.224, 0.225)

# name -> (width_coefficient, depth_coefficient, default input size, dropout rate), as keras.applications.
VARIANTS = {
    "b0": (1.0, 1.0, 224, 0.2),
    "b1": (1.0, 1.1, 240, 0.2),
    "b2": (1.1, 1.2, 260, 0.3),
    "b3": (1.2, 1.4, 300, 0.3),
    "b4": (1.4, 1.8, 380, 0.4),
    "b5": (1.6, 2.2, 456, 0.4),
    "b6": (1.8, 2.6, 528, 0.5),
    "b7": (2.0, 3.1, 600, 0.5),
}


def params(width: float, depth: float, size: int) -> tuple:
    """The declarations of one variant: its input size and coefficients as defaults."""
    return input_size_params(size) + keras_params() + (
        Param("width_coefficient", width, "channel multiplier (round_filters)", span=(0.1, 4.0)),
        Param("depth_coefficient", depth, "block-count multiplier (ceil of repeats × this)", span=(0.1, 4.0)),
    )


def preprocessing(in_channels) -> tuple:
    """Rescaling(1/255) → Normalization → (RGB: the ImageNet weights' per-channel Rescaling)."""
    nodes: tuple = (L.Scale("rescaling", "mul", value=1.0 / 255.0), Normalization("normalization"))
    if in_channels == len(IMAGENET_STDDEV_RGB):  # Keras' ImageNet weights need RGB
        nodes += (L.Scale("rescaling_1", "mul", (in_channels, 1, 1), learned=False),)
    return nodes


def conv_bn_act(name: str, out, kernel: int, stride=1, groups=1, act: str = "activation") -> tuple:
    """``{name}conv`` (bias-free, "same") → ``{name}bn`` → swish ``{name}{act}``; names as Keras' block."""
    return (L.Conv2d(f"{name}conv", out, kernel, stride, kernel // 2, groups=groups, bias=False),
            batch_norm(f"{name}bn"), L.Activation(f"{name}{act}", "silu"))


def squeeze_excite(prefix: str, filters, squeezed) -> L.Residual:
    """``x · sigmoid(conv(swish(conv(mean(x)))))``: se_squeeze → se_reduce → se_expand → se_excite."""
    body = (L.GlobalPool(f"{prefix}se_squeeze", "mean", keepdim=True),
            L.Conv2d(f"{prefix}se_reduce", squeezed, 1), L.Activation(f"{prefix}se_reduce_activation", "silu"),
            L.Conv2d(f"{prefix}se_expand", filters, 1), L.Activation(f"{prefix}se_expand_activation", "sigmoid"))
    return L.Residual(f"{prefix}se_excite", body, (), op="mul")


def block(prefix: str, filters_in, filters_out, kernel: int, stride: int, expand: int):
    """One MBConv block (Keras' ``block``): [expand 1×1] → depthwise k×k → SE → project 1×1 → BN [+ input]."""
    filters = filters_in * expand
    body: tuple = ()
    if expand != 1:
        body += (L.Conv2d(f"{prefix}expand_conv", filters, 1, bias=False), batch_norm(f"{prefix}expand_bn"),
                 L.Activation(f"{prefix}expand_activation", "silu"))
    body += (L.Conv2d(f"{prefix}dwconv", filters, kernel, stride, kernel // 2, groups=filters, bias=False),
             batch_norm(f"{prefix}bn"), L.Activation(f"{prefix}activation", "silu"))
    body += (squeeze_excite(prefix, filters, max(1, int(filters_in * SE_RATIO))),
             L.Conv2d(f"{prefix}project_conv", filters_out, 1, bias=False), batch_norm(f"{prefix}project_bn"))
    if stride == 1 and filters_in == filters_out:  # id_skip is True in every stage
        return L.Residual(f"{prefix}add", body)
    return L.Sequential(prefix.rstrip("_"), body)


def blocks(width: float, depth: float) -> tuple:
    """block1a … block7x: each stage's first block strides and changes the width; names as Keras'."""
    nodes = []
    for i, (kernel, repeats, f_in, f_out, expand, stride) in enumerate(BLOCKS):
        f_in, f_out = make_divisible(f_in * width, DEPTH_DIVISOR), make_divisible(f_out * width, DEPTH_DIVISOR)
        for j in range(round_repeats(repeats, depth)):
            first = j == 0
            nodes.append(block(f"block{i + 1}{chr(j + 97)}_", f_in if first else f_out, f_out, kernel,
                               stride if first else 1, expand))
    return tuple(nodes)


def size_names() -> dict:
    """H1 after the stem, H2 … H5 after each strided stage's first depthwise conv (every variant alike)."""
    names = {"stem_conv": ("H1", "W1")}
    strided = [i + 1 for i, row in enumerate(BLOCKS) if row[5] == 2]
    names.update({f"block{i}a_dwconv": (f"H{n}", f"W{n}") for n, i in enumerate(strided, start=2)})
    return names


def keras_efficientnet(h, w, variant: str = "b0", classes=1000, in_channels=3,
                       width_coefficient=1.0, depth_coefficient=1.0) -> L.Network:
    """Build keras.applications.EfficientNet``variant`` for an in_channels×h×w input."""
    width, depth = width_coefficient, depth_coefficient
    stem = (L.Conv2d("stem_conv", make_divisible(32 * width, DEPTH_DIVISOR), 3, 2, 1, bias=False),
            batch_norm("stem_bn"), L.Activation("stem_activation", "silu"))
    head = (L.Conv2d("top_conv", make_divisible(1280 * width, DEPTH_DIVISOR), 1, bias=False), batch_norm("top_bn"),
            L.Activation("top_activation", "silu"))
    top = classifier_top(classes, VARIANTS[variant][3])
    return L.Network(f"keras_efficientnet_{variant}", (in_channels, h, w),
                     preprocessing(in_channels) + stem + blocks(width, depth) + head + top, size_names(),
                     top="avg_pool")


def _register() -> None:
    """Register keras_efficientnet_b0 … b7: one builder, the variants differ only in data."""
    for variant, (width, depth, size, dropout) in VARIANTS.items():
        name = f"keras_efficientnet_{variant}"
        register(name, params(width, depth, size),
                 f"Keras EfficientNet{variant.upper()}: preprocessing → stem → MBConv stages (width {width}, "
                 f"depth {depth}) → 1×1 conv → avg-pool → dropout {dropout} → dense",
                 "Tan & Le 2019 (arXiv:1905.11946); keras.applications.EfficientNet" + variant.upper())(
                     partial(keras_efficientnet, variant=variant))


_register()
