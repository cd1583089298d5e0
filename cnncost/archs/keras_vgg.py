"""keras_vgg16, keras_vgg19: keras.applications' VGG16 and VGG19, layer for layer.

Five blocks of 3×3 'same' convs with biases and ReLU (Keras folds the ReLU into each
Conv2D; here it is its own node, ``block1_conv1_relu``), each block closed by a 2×2/2
max-pool (``block1_pool``). The top is Keras', not torchvision's: no adaptive pool and no
dropout — ``flatten`` → ``fc1`` (4096, ReLU) → ``fc2`` (4096, ReLU) → ``predictions`` (softmax).
So the top's parameters depend on the input size (Keras builds it only at 224×224); the
registry's ``include_top`` option takes it off, as Keras' ``include_top=False, pooling=None``.

Node names are Keras' layer names; the layout is channels-first (PyTorch's). Flattening a
C×H×W map instead of Keras' H×W×C orders fc1's inputs differently but changes no count.
Source: Simonyan & Zisserman 2014 (arXiv:1409.1556), configurations D and E.
"""

from __future__ import annotations

from functools import partial

from .. import layers as L
from .registry import Param, input_size_params, register

# Convs per block (blocks 1-5) and each block's width.
BLOCKS = {16: (2, 2, 3, 3, 3), 19: (2, 2, 4, 4, 4)}
WIDTHS = (64, 128, 256, 512, 512)

PARAMS = input_size_params(224) + (
    Param("classes", 1000, "output classes", meaning="output classes"),
    Param("in_channels", 3, "input channels"),
)


def features(depth: int) -> tuple:
    """block1 … block5: ``block{i}_conv{j}`` (3×3, padding 1 = Keras 'same' at stride 1) + ReLU, then the pool."""
    nodes = []
    for i, (count, width) in enumerate(zip(BLOCKS[depth], WIDTHS), 1):
        for j in range(1, count + 1):
            conv = f"block{i}_conv{j}"
            nodes += [L.Conv2d(conv, width, 3, 1, 1), L.Activation(f"{conv}_relu")]
        nodes.append(L.MaxPool2d(f"block{i}_pool", 2, 2))
    return tuple(nodes)


def top(classes) -> tuple:
    """Keras' VGG top: flatten → fc1 → fc2 (4096 each, ReLU) → predictions (softmax)."""
    return (L.Flatten("flatten"), L.Linear("fc1", 4096), L.Activation("fc1_relu"), L.Linear("fc2", 4096),
            L.Activation("fc2_relu"), L.Linear("predictions", classes), L.Activation("predictions_softmax", "softmax"))


def keras_vgg(h, w, depth: int = 16, classes=1000, in_channels=3) -> L.Network:
    """Build keras.applications' VGG``depth`` (16 or 19) for an in_channels×h×w input."""
    pools = {f"block{i}_pool": (f"P{i}", f"Q{i}") for i in range(1, 6)}  # the only size changes
    return L.Network(f"keras_vgg{depth}", (in_channels, h, w), features(depth) + top(classes), pools,
                     top="flatten")


def _register() -> None:
    """Register keras_vgg16 and keras_vgg19."""
    for depth, counts in BLOCKS.items():
        register(f"keras_vgg{depth}", PARAMS,
                 f"Keras VGG{depth}: 3×3 convs {counts} per block, 5 max-pools, flatten, 4096-4096 dense",
                 f"Simonyan & Zisserman 2014 (arXiv:1409.1556); keras.applications.VGG{depth}")(
            partial(keras_vgg, depth=depth))


_register()
