"""keras_resnet50 … keras_resnet152v2: keras.applications' ResNet and ResNetV2, layer for layer.

Keras' ResNet (v1, ``keras.applications.resnet``) differs from torchvision's in ways that
change the counts: every convolution has a bias (BatchNorm follows it all the same), the
7×7/2 stem conv and the 3×3/2 max-pool are preceded by explicit ZeroPadding2D layers
(``conv1_pad``, 3 on each side; ``pool1_pad``, 1), and a bottleneck strides on its first 1×1
conv (v1, not v1.5). BatchNorm's epsilon is 1.001e-5 (numerical only).

ResNetV2 (``keras.applications.resnet_v2``) is pre-activation: each block begins with
BatchNorm → ReLU (``_preact_bn``, ``_preact_relu``), whose output feeds both the body and, in a
stack's first block, the 1×1 projection shortcut (``_0_conv``); the other blocks add their
input unchanged, or through a 1×1/2 max-pool in the block that strides — the *last* block of
each stack but the fifth. The body's 1×1 and 3×3 convs have no bias, its last 1×1 conv has
one and no BatchNorm; the 3×3's padding is an explicit ZeroPadding2D (``_2_pad``). The stem
has no BatchNorm; ``post_bn`` → ``post_relu`` close the features.

Node names are Keras' layer names (``conv2_block1_1_conv``); an activation Keras folds into a
layer gets the layer's name plus its function (``predictions_softmax``), and a layer Keras
names by a global counter gets the name a fresh session gives it (``max_pooling2d``). The top
is ``avg_pool`` (global average pool) → ``predictions`` (dense) → softmax; the registry's
``include_top`` option takes it off, as Keras' ``include_top=False, pooling=None``. The
layout is channels-first (PyTorch's), which changes no count. Keras' "Total params" is the
``keras`` convention: parameters plus the BatchNorm moving mean and variance.
"""

from __future__ import annotations

from functools import partial

from .. import layers as L
from .registry import Param, input_size_params, register

EPS = 1.001e-5  # keras.applications' ResNet BatchNorm epsilon
# Blocks per stack (conv2 … conv5) of each depth, the same for v1 and v2.
DEPTHS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}
WIDTHS = (64, 128, 256, 512)  # bottleneck width of each stack; blocks output 4× that
EXPANSION = 4

PARAMS = input_size_params(224) + (
    Param("classes", 1000, "output classes", meaning="output classes"),
    Param("in_channels", 3, "input channels"),
)


def bn(name: str) -> L.BatchNorm2d:
    """Keras BatchNormalization over channels (scale and center: 2C parameters, 2C moving stats)."""
    return L.BatchNorm2d(name, eps=EPS)


def stem(preact: bool) -> tuple:
    """ZeroPadding2D(3) → 7×7/2 conv with bias [→ BN → ReLU: v1 only] → ZeroPadding2D(1) → 3×3/2 max-pool."""
    nodes: tuple = (L.ZeroPad2d("conv1_pad", (3, 3, 3, 3)), L.Conv2d("conv1_conv", 64, 7, 2))
    if not preact:
        nodes += (bn("conv1_bn"), L.Activation("conv1_relu"))
    return nodes + (L.ZeroPad2d("pool1_pad", (1, 1, 1, 1)), L.MaxPool2d("pool1_pool", 3, 2))


def block_v1(name: str, width: int, stride: int, projection: bool) -> L.Residual:
    """Keras' residual_block_v1: 1×1 (strided) → 3×3 'same' → 1×1 to 4·width, bias and BN on each;
    a strided 1×1 conv + BN shortcut in a stack's first block; ReLU after the add (``_out``)."""
    body = (L.Conv2d(f"{name}_1_conv", width, 1, stride), bn(f"{name}_1_bn"), L.Activation(f"{name}_1_relu"),
            L.Conv2d(f"{name}_2_conv", width, 3, 1, 1), bn(f"{name}_2_bn"), L.Activation(f"{name}_2_relu"),
            L.Conv2d(f"{name}_3_conv", EXPANSION * width, 1), bn(f"{name}_3_bn"))
    shortcut = (L.Conv2d(f"{name}_0_conv", EXPANSION * width, 1, stride), bn(f"{name}_0_bn")) if projection else ()
    return L.Residual(f"{name}_add", body, shortcut, (L.Activation(f"{name}_out"),))


def block_v2(name: str, width: int, stride: int, projection: bool, pool_name: str):
    """Keras' residual_block_v2: BN → ReLU (pre-activation), then 1×1 → pad → 3×3 (strided) → 1×1
    (bias on the last only, BN + ReLU after the first two). The shortcut is a 1×1 conv of the
    pre-activation (``projection``), or the block's input itself: max-pooled 1×1/``stride`` when
    the block strides."""
    preact = (bn(f"{name}_preact_bn"), L.Activation(f"{name}_preact_relu"))
    body = (L.Conv2d(f"{name}_1_conv", width, 1, bias=False), bn(f"{name}_1_bn"), L.Activation(f"{name}_1_relu"),
            L.ZeroPad2d(f"{name}_2_pad", (1, 1, 1, 1)),
            L.Conv2d(f"{name}_2_conv", width, 3, stride, bias=False), bn(f"{name}_2_bn"),
            L.Activation(f"{name}_2_relu"), L.Conv2d(f"{name}_3_conv", EXPANSION * width, 1))
    if projection:  # the shortcut starts after the pre-activation, so both paths share it
        shortcut: tuple = (L.Conv2d(f"{name}_0_conv", EXPANSION * width, 1, stride),)
        return L.Sequential(name, preact + (L.Residual(f"{name}_out", body, shortcut),))
    shortcut = (L.MaxPool2d(pool_name, 1, stride),) if stride > 1 else ()
    return L.Residual(f"{name}_out", preact + body, shortcut)


def stacks_v1(counts: tuple) -> tuple:
    """conv2 … conv5 of ResNet v1: the first block of each projects, and strides 2 except in conv2."""
    nodes = []
    for i, (width, count) in enumerate(zip(WIDTHS, counts)):
        for j in range(1, count + 1):
            nodes.append(block_v1(f"conv{i + 2}_block{j}", width, 2 if i > 0 and j == 1 else 1, j == 1))
    return tuple(nodes)


def stacks_v2(counts: tuple) -> tuple:
    """conv2 … conv5 of ResNetV2: the first block of each projects, the last strides 2 (not conv5's)."""
    nodes, pools = [], 0
    for i, (width, count) in enumerate(zip(WIDTHS, counts)):
        for j in range(1, count + 1):
            stride = 2 if j == count and i < 3 else 1
            # Keras leaves the shortcut pools unnamed: a fresh session numbers them in order.
            pool_name = "max_pooling2d" + (f"_{pools}" if pools else "")
            pools += stride > 1
            nodes.append(block_v2(f"conv{i + 2}_block{j}", width, stride, j == 1, pool_name))
    return tuple(nodes)


def top(classes) -> tuple:
    """Keras' ResNet top: global average pool ``avg_pool`` → dense ``predictions`` with softmax."""
    return (L.GlobalPool("avg_pool"), L.Linear("predictions", classes), L.Activation("predictions_softmax", "softmax"))


def keras_resnet(h, w, depth: int = 50, v2: bool = False, classes=1000, in_channels=3) -> L.Network:
    """Build keras.applications' ResNet``depth`` (v1) or ResNet``depth``V2 for an in_channels×h×w input."""
    counts = DEPTHS[depth]
    features = stem(v2) + (stacks_v2(counts) + (bn("post_bn"), L.Activation("post_relu")) if v2
                           else stacks_v1(counts))
    return L.Network(network_name(depth, v2), (in_channels, h, w), features + top(classes), top="avg_pool")


def network_name(depth: int, v2: bool) -> str:
    """keras_resnet50, keras_resnet50v2, ..."""
    return f"keras_resnet{depth}" + ("v2" if v2 else "")


def _register() -> None:
    """Register the six Keras ResNets: one builder, the depths and versions differ only in data."""
    for depth, counts in DEPTHS.items():
        for v2 in (False, True):
            kind = ("pre-activation bottlenecks (v2), stride on each stack's last block" if v2
                    else "bottlenecks with biases (v1), stride on the first 1×1")
            module = "resnet_v2" if v2 else "resnet"
            register(network_name(depth, v2), PARAMS,
                     f"Keras ResNet{depth}{'V2' if v2 else ''}: {kind}, blocks {counts}, avg-pool, dense",
                     ("He et al. 2016 (arXiv:1603.05027)" if v2 else "He et al. 2015 (arXiv:1512.03385)")
                     + f"; keras.applications.{module}.ResNet{depth}{'V2' if v2 else ''}")(
                partial(keras_resnet, depth=depth, v2=v2))


_register()
