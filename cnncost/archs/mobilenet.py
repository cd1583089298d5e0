"""mobilenet_v2: MobileNetV2 as torchvision builds it (width multiplier 1.0).

3×3/2 conv 32 → 17 inverted residual blocks from the (t, c, n, s) table →
1×1 conv 1280 → global average pool → dropout 0.2 → fc. Every conv is
followed by BatchNorm (eps 1e-5) and, except the linear bottleneck projection,
ReLU6. Node names are torchvision's module paths (``features.3.conv.1.0``);
the functional pool and flatten get extra stateless names.
"""

from __future__ import annotations

from .. import layers as L
from .registry import Param, input_size_params, register

PARAMS = input_size_params(224) + (
    Param("classes", 1000, "output classes", meaning="output classes"),
    Param("in_channels", 3, "input channels"),
)

# torchvision's inverted_residual_setting, one row per stage:
# t = expansion factor, c = output channels, n = blocks, s = stride of the first block.
SETTING = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
FIRST_CHANNELS = 32  # stem conv
LAST_CHANNELS = 1280  # final 1×1 conv


def conv_bn_relu6(name: str, out_channels, kernel_size: int, stride=1, groups=1) -> tuple:
    """torchvision's Conv2dNormActivation: conv (padding (k−1)/2, no bias) → BN → ReLU6, at name.0-2."""
    return (
        L.Conv2d(f"{name}.0", out_channels, kernel_size, stride, (kernel_size - 1) // 2, groups=groups, bias=False),
        L.BatchNorm2d(f"{name}.1"),
        L.Activation(f"{name}.2", "relu6"),
    )


def inverted_residual(name: str, in_channels: int, out_channels: int, stride: int, t: int):
    """1×1 expand (skipped when t = 1) → 3×3 depthwise → 1×1 linear projection → BN.

    The input is added back only when the block keeps the shape (stride 1 and
    in == out channels), as in torchvision; the identity shortcut is ``()``.
    """
    hidden = in_channels * t
    body: tuple = ()
    if t != 1:
        body += conv_bn_relu6(f"{name}.conv.0", hidden, 1)
    i = len(body) // 3  # index of the depthwise stage inside .conv
    body += conv_bn_relu6(f"{name}.conv.{i}", hidden, 3, stride, groups=hidden)
    body += (L.Conv2d(f"{name}.conv.{i + 1}", out_channels, 1, bias=False), L.BatchNorm2d(f"{name}.conv.{i + 2}"))
    if stride == 1 and in_channels == out_channels:
        return L.Residual(name, body)
    return L.Sequential(name, body)


def features() -> tuple:
    """features.0 … features.18: stem, the SETTING blocks, final 1×1 conv."""
    nodes = [L.Sequential("features.0", conv_bn_relu6("features.0", FIRST_CHANNELS, 3, stride=2))]
    channels = FIRST_CHANNELS
    for t, c, n, s in SETTING:
        for j in range(n):
            # Only a stage's first block strides (and changes the channel count).
            nodes.append(inverted_residual(f"features.{len(nodes)}", channels, c, s if j == 0 else 1, t))
            channels = c
    nodes.append(L.Sequential(f"features.{len(nodes)}", conv_bn_relu6(f"features.{len(nodes)}", LAST_CHANNELS, 1)))
    return tuple(nodes)


@register("mobilenet_v2", PARAMS, "MobileNetV2: conv → 17 inverted residual blocks → 1×1 conv → avg-pool → fc",
          "Sandler et al. 2018, \"MobileNetV2: Inverted Residuals and Linear Bottlenecks\" (torchvision)",
          torchvision="mobilenet_v2")
def mobilenet_v2(h, w, classes=1000, in_channels=3) -> L.Network:
    """Build torchvision's MobileNetV2 (width 1.0) for an input of in_channels×h×w."""
    head = (
        L.AdaptiveAvgPool2d("avgpool", (1, 1)),
        L.Flatten("flatten"),
        L.Dropout("classifier.0", 0.2),
        L.Linear("classifier.1", classes),
    )
    return L.Network("mobilenet_v2", (in_channels, h, w), features() + head, top="avgpool")
