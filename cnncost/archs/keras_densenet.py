"""keras_densenet121, 169, 201: keras.applications' DenseNets, layer for layer.

The structure is torchvision's DenseNet-BC (growth rate 32, 4·32-wide bottlenecks,
transitions halving the channels with int(C · 0.5) and a 2×2/2 average pool), written as
Keras writes it: the stem's paddings are ZeroPadding2D layers in front of the 7×7/2 conv
and the 3×3/2 max-pool (unnamed in Keras, so a fresh session's ``zero_padding2d`` and
``zero_padding2d_1``), BatchNorm epsilon is 1.001e-5 (numerical only), and the top is
``avg_pool`` (global average pool) → ``predictions`` (dense, softmax). Each dense layer
``conv{s}_block{b}`` concatenates its input with its 32 new channels (``_concat``).

Node names are Keras' layer names; the layout is channels-first (PyTorch's), which changes
no count. Keras' "Total params" is the ``keras`` convention: parameters plus the BatchNorm
moving mean and variance. The registry's ``include_top`` option takes the top off, as
Keras' ``include_top=False, pooling=None``. Source: Huang et al. 2017 (arXiv:1608.06993).
"""

from __future__ import annotations

from functools import partial

from .. import layers as L
from .registry import Param, input_size_params, register

EPS = 1.001e-5
GROWTH = 32  # Keras hard-codes the growth rate
REDUCTION = 0.5  # transition compression
STEM = 64
# Dense layers in each of the four dense blocks (conv2 … conv5).
BLOCKS = {121: (6, 12, 24, 16), 169: (6, 12, 32, 32), 201: (6, 12, 48, 32)}

PARAMS = input_size_params(224) + (
    Param("classes", 1000, "output classes", meaning="output classes"),
    Param("in_channels", 3, "input channels"),
)


def bn(name: str) -> L.BatchNorm2d:
    """Keras BatchNormalization over channels (scale and center: 2C parameters, 2C moving stats)."""
    return L.BatchNorm2d(name, eps=EPS)


def dense_layer(name: str) -> L.Concat:
    """Keras' conv_block: BN → ReLU → 1×1 conv (4·growth) → BN → ReLU → 3×3 'same' conv (growth),
    concatenated after the block's input."""
    new = (bn(f"{name}_0_bn"), L.Activation(f"{name}_0_relu"), L.Conv2d(f"{name}_1_conv", 4 * GROWTH, 1, bias=False),
           bn(f"{name}_1_bn"), L.Activation(f"{name}_1_relu"), L.Conv2d(f"{name}_2_conv", GROWTH, 3, 1, 1, bias=False))
    return L.Concat(f"{name}_concat", ((), new))


def transition(name: str, channels: int) -> tuple:
    """Keras' transition_block: BN → ReLU → 1×1 conv to int(channels · 0.5) → 2×2/2 average pool."""
    return (bn(f"{name}_bn"), L.Activation(f"{name}_relu"),
            L.Conv2d(f"{name}_conv", int(channels * REDUCTION), 1, bias=False), L.AvgPool2d(f"{name}_pool", 2, 2))


def features(counts: tuple) -> tuple:
    """Stem, dense blocks conv2 … conv5 with transitions pool2 … pool4 between them, final BN → ReLU."""
    nodes = [L.ZeroPad2d("zero_padding2d", (3, 3, 3, 3)), L.Conv2d("conv1_conv", STEM, 7, 2, bias=False),
             bn("conv1_bn"), L.Activation("conv1_relu"), L.ZeroPad2d("zero_padding2d_1", (1, 1, 1, 1)),
             L.MaxPool2d("pool1", 3, 2)]
    channels = STEM
    for i, count in enumerate(counts):
        nodes += [dense_layer(f"conv{i + 2}_block{j}") for j in range(1, count + 1)]
        channels += count * GROWTH
        if i < len(counts) - 1:
            nodes += transition(f"pool{i + 2}", channels)
            channels = int(channels * REDUCTION)
    return tuple(nodes) + (bn("bn"), L.Activation("relu"))


def keras_densenet(h, w, depth: int = 121, classes=1000, in_channels=3) -> L.Network:
    """Build keras.applications' DenseNet``depth`` (121, 169 or 201) for an in_channels×h×w input."""
    head = (L.GlobalPool("avg_pool"), L.Linear("predictions", classes), L.Activation("predictions_softmax", "softmax"))
    return L.Network(f"keras_densenet{depth}", (in_channels, h, w), features(BLOCKS[depth]) + head, top="avg_pool")


def _register() -> None:
    """Register the three Keras DenseNets."""
    for depth, counts in BLOCKS.items():
        register(f"keras_densenet{depth}", PARAMS,
                 f"Keras DenseNet{depth}: dense blocks {counts}, growth 32, transitions ×0.5, avg-pool, dense",
                 f"Huang et al. 2017 (arXiv:1608.06993); keras.applications.DenseNet{depth}")(
            partial(keras_densenet, depth=depth))


_register()
