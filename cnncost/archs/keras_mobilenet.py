"""keras_mobilenet, keras_mobilenet_v2: keras.applications' MobileNet (v1) and MobileNetV2, layer for layer.

MobileNet: a 3×3/2 conv (``conv1``) and 13 depthwise-separable blocks (``conv_dw_i`` 3×3
depthwise, ``conv_pw_i`` 1×1), no biases, each conv followed by BatchNorm (Keras' default
epsilon 1e-3) and ReLU6. A strided depthwise conv is 'valid' after a ZeroPadding2D that pads
one row below and one column right (``conv_pad_i``). Keras' top is a global average pool kept
as C×1×1, dropout (1e-3), a 1×1 conv with bias (``conv_preds``), a reshape to the classes
(``reshape_2``, here a flatten) and the softmax (``predictions``). Widths are int(c · alpha);
the depthwise convs have depth_multiplier outputs per input channel.

MobileNetV2: ``Conv1`` (3×3/2) → 17 inverted residual blocks (``block_i_expand`` 1×1,
``_depthwise`` 3×3, ``_project`` 1×1; block 0, ``expanded_conv_``, has no expansion) →
``Conv_1`` (1×1 to 1280) → ``out_relu``; BatchNorm epsilon 1e-3; channel counts rounded with
``_make_divisible`` exactly as Keras does (cnncost.archs.rounding). A strided block pads with
Keras' ``correct_pad``: one row/column after, and one before only when the size is odd, so the
padded size here is the size Keras prints. Top: global average pool → ``predictions``.

Keras' 'same' 3×3 conv at stride 2 (the two stems) pads asymmetrically where torch pads 1 on
each side; the output size, and so every count, is the same. Node names are Keras' layer
names (an unnamed layer gets a fresh session's name, ``global_average_pooling2d``; an activation
Keras folds into a layer its name plus the function). The registry's ``include_top`` option
takes the top off, as Keras' ``include_top=False, pooling=None``.
"""

from __future__ import annotations

from .. import layers as L
from .registry import Param, input_size_params, register
from .rounding import make_divisible

EPS = 1e-3  # Keras' BatchNormalization default, and MobileNetV2's explicit epsilon
ALPHA = Param("alpha", 1.0, "width multiplier (Keras' alpha)", span=(0.1, 4.0))
COMMON = input_size_params(224) + (
    Param("classes", 1000, "output classes", meaning="output classes"),
    Param("in_channels", 3, "input channels"),
)

# MobileNet's separable blocks: (pointwise filters, stride), blocks 1-13.
V1_BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
             (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))
# MobileNetV2's blocks 0-16: (filters, stride, expansion).
V2_BLOCKS = ((16, 1, 1), (24, 2, 6), (24, 1, 6), (32, 2, 6), (32, 1, 6), (32, 1, 6),
             (64, 2, 6), (64, 1, 6), (64, 1, 6), (64, 1, 6), (96, 1, 6), (96, 1, 6), (96, 1, 6),
             (160, 2, 6), (160, 1, 6), (160, 1, 6), (320, 1, 6))


def conv_bn_relu6(name: str, out, kernel: int, stride=1, padding=0, groups=1, bn: str = "", relu: str = "") -> tuple:
    """A bias-free conv, its BatchNorm and ReLU6, named as Keras names them."""
    return (L.Conv2d(name, out, kernel, stride, padding, groups=groups, bias=False),
            L.BatchNorm2d(bn or f"{name}_bn", eps=EPS), L.Activation(relu or f"{name}_relu", "relu6"))


def v1_block(i: int, in_channels: int, filters: int, stride: int, depth_multiplier) -> tuple:
    """Keras' _depthwise_conv_block: [pad] → depthwise 3×3 → BN → ReLU6 → pointwise 1×1 → BN → ReLU6."""
    pad = (L.ZeroPad2d(f"conv_pad_{i}", (0, 1, 0, 1)),) if stride > 1 else ()
    depthwise = conv_bn_relu6(f"conv_dw_{i}", in_channels * depth_multiplier, 3, stride, 1 if stride == 1 else 0,
                              groups=in_channels)
    return pad + depthwise + conv_bn_relu6(f"conv_pw_{i}", filters, 1)


@register("keras_mobilenet", COMMON + (
    ALPHA, Param("depth_multiplier", 1, "depthwise outputs per input channel (Keras' depth_multiplier)"),
    Param("dropout", 1e-3, "dropout rate of the top (no cost)")),
    "Keras MobileNet: 3×3/2 conv, 13 depthwise-separable blocks, avg-pool, dropout, 1×1 conv classifier",
    "Howard et al. 2017 (arXiv:1704.04861); keras.applications.MobileNet")
def keras_mobilenet(h, w, classes=1000, in_channels=3, alpha=1.0, depth_multiplier=1, dropout=1e-3) -> L.Network:
    """Build keras.applications' MobileNet (v1) for an in_channels×h×w input."""
    channels = int(32 * alpha)
    nodes = list(conv_bn_relu6("conv1", channels, 3, 2, 1))
    for i, (filters, stride) in enumerate(V1_BLOCKS, 1):
        nodes += v1_block(i, channels, int(filters * alpha), stride, depth_multiplier)
        channels = int(filters * alpha)
    head = (L.GlobalPool("global_average_pooling2d", keepdim=True), L.Dropout("dropout", dropout),
            L.Conv2d("conv_preds", classes, 1), L.Flatten("reshape_2"), L.Activation("predictions", "softmax"))
    return L.Network("keras_mobilenet", (in_channels, h, w), tuple(nodes) + head, top="global_average_pooling2d")


def downsampled(size, times: int):
    """A size after ``times`` stride-2 'same' convs: ceil(size / 2^times) (ceil of ceil is one ceil),
    for ints and sympy expressions alike."""
    return -(-size // 2**times)


def v2_block(i: int, in_channels: int, filters: int, stride: int, expansion: int, size: tuple):
    """Keras' _inverted_res_block: [1×1 expand] → [correct_pad] → 3×3 depthwise → 1×1 project → BN;
    the input is added back when the block keeps the shape. ``size`` is the input's (H, W)."""
    prefix = f"block_{i}_" if i else "expanded_conv_"
    body = conv_bn_relu6(f"{prefix}expand", expansion * in_channels, 1, bn=f"{prefix}expand_BN") if i else ()
    hidden = expansion * in_channels if i else in_channels
    if stride == 2:  # correct_pad: (size % 2, 1) rows and columns, before and after
        body += (L.ZeroPad2d(f"{prefix}pad", (size[1] % 2, 1, size[0] % 2, 1)),)
    body += conv_bn_relu6(f"{prefix}depthwise", hidden, 3, stride, 1 if stride == 1 else 0, groups=hidden,
                          bn=f"{prefix}depthwise_BN")
    body += (L.Conv2d(f"{prefix}project", filters, 1, bias=False), L.BatchNorm2d(f"{prefix}project_BN", eps=EPS))
    if in_channels == filters and stride == 1:
        return L.Residual(f"{prefix}add", body)
    return L.Sequential(prefix.rstrip("_"), body)


@register("keras_mobilenet_v2", COMMON + (ALPHA,),
          "Keras MobileNetV2: 3×3/2 conv, 17 inverted residual blocks, 1×1 conv 1280, avg-pool, dense",
          "Sandler et al. 2018 (arXiv:1801.04381); keras.applications.MobileNetV2")
def keras_mobilenet_v2(h, w, classes=1000, in_channels=3, alpha=1.0) -> L.Network:
    """Build keras.applications' MobileNetV2 for an in_channels×h×w input."""
    channels = make_divisible(32 * alpha, 8)
    nodes = list(conv_bn_relu6("Conv1", channels, 3, 2, 1, bn="bn_Conv1"))
    strides = 1  # stride-2 layers so far: the stem
    for i, (filters, stride, expansion) in enumerate(V2_BLOCKS):
        out = make_divisible(int(filters * alpha), 8)
        size = (downsampled(h, strides), downsampled(w, strides))
        nodes.append(v2_block(i, channels, out, stride, expansion, size))
        channels, strides = out, strides + (stride == 2)
    last = make_divisible(1280 * alpha, 8) if alpha > 1.0 else 1280  # alpha widens the last conv, never narrows it
    nodes += conv_bn_relu6("Conv_1", last, 1, relu="out_relu")
    head = (L.GlobalPool("global_average_pooling2d"), L.Linear("predictions", classes),
            L.Activation("predictions_softmax", "softmax"))
    return L.Network("keras_mobilenet_v2", (in_channels, h, w), tuple(nodes) + head, top="global_average_pooling2d")
