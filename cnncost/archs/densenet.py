"""DenseNet-121, 161, 169 and 201 as torchvision builds them (Huang et al. 2017, DenseNet-BC).

7×7/2 conv → BN → ReLU → 3×3/2 max-pool, then four dense blocks joined by transitions,
a final BatchNorm (``features.norm5``), ReLU, global average pool and one linear layer.

A dense layer is BN → ReLU → 1×1 conv to ``bn_size · growth_rate`` channels → BN → ReLU →
3×3 conv to ``growth_rate`` channels, and its output is concatenated to everything before it.
torchvision keeps a list of the earlier feature maps and concatenates the whole list at every
layer; concatenating is associative, so the description writes each layer as one
``Concat(identity, layer)``: the same tensor, and neither form has any arithmetic.
A transition is BN → ReLU → 1×1 conv to ⌊C/2⌋ channels → 2×2/2 average pool.

Design variables: the growth rate ``k``, the stem's channel count ``c0`` (torchvision's
``num_init_features``) and the bottleneck factor ``b`` (``bn_size``) are symbols in the closed
forms (a transition's ⌊C/2⌋ stays a floor where C can be odd); the four block lengths are
structure (how many layers), so they are plain integers. Node names are torchvision's module
paths; the functional ReLU, pool and flatten of ``DenseNet.forward`` are named ``relu``,
``adaptive_avg_pool2d`` and ``flatten``. torchvision's ``drop_rate`` (dropout after each dense
layer, called only when the rate is above 0) is 0 in every torchvision model, so there is none.

torchvision's published checkpoints predate the ``norm1``/``conv1`` names and spell them
``norm.1``/``conv.1``; :func:`legacy_key` renames them, as torchvision's own loader does.
"""

from __future__ import annotations

import re
from functools import partial

from .. import layers as L
from .registry import Param, input_size_params, register

# torchvision's configurations: growth rate, layers per dense block, stem channels (bn_size is 4 in all).
CONFIGS = {
    121: (32, (6, 12, 24, 16), 64),
    161: (48, (6, 12, 36, 24), 96),
    169: (32, (6, 12, 32, 32), 64),
    201: (32, (6, 12, 48, 32), 64),
}
BN_SIZE = 4


def params(growth_rate: int, blocks: tuple, init_features: int) -> tuple:
    """The declarations of one DenseNet, with its configuration as the defaults (the symbols are the
    paper's k for the growth rate; c0 for conv0's channels, b for the bottleneck factor)."""
    return input_size_params(224) + (
        Param("k", growth_rate, "growth rate: channels each dense layer adds", symbolic=True,
              meaning="growth rate (channels each dense layer adds)"),
        Param("c0", init_features, "channels of the stem convolution (conv0)", symbolic=True,
              meaning="channels of the stem convolution"),
        Param("b", BN_SIZE, "bottleneck factor: a dense layer's 1×1 conv has b·k channels (bn_size)",
              symbolic=True, meaning="bottleneck factor of the dense layers' 1×1 convolution"),
    ) + tuple(Param(f"block{i + 1}", count, f"dense layers in dense block {i + 1}")
              for i, count in enumerate(blocks)) + (
        Param("classes", 1000, "output classes", meaning="output classes"),
        Param("in_channels", 3, "input channels"),
    )


def dense_layer(name: str, growth_rate, bn_size) -> L.Concat:
    """The layer's input beside its ``growth_rate`` new channels (BN-ReLU-1×1 conv, BN-ReLU-3×3 conv)."""
    body = (
        L.BatchNorm2d(f"{name}.norm1"), L.Activation(f"{name}.relu1"),
        L.Conv2d(f"{name}.conv1", bn_size * growth_rate, 1, bias=False),
        L.BatchNorm2d(f"{name}.norm2"), L.Activation(f"{name}.relu2"),
        L.Conv2d(f"{name}.conv2", growth_rate, 3, padding=1, bias=False),
    )
    return L.Concat(name, ((), body))


def transition(name: str, out_channels) -> L.Sequential:
    """BN → ReLU → 1×1 conv to ``out_channels`` → 2×2/2 average pool."""
    return L.Sequential(name, (
        L.BatchNorm2d(f"{name}.norm"), L.Activation(f"{name}.relu"),
        L.Conv2d(f"{name}.conv", out_channels, 1, bias=False), L.AvgPool2d(f"{name}.pool", 2, 2),
    ))


def features(growth_rate, blocks: tuple, init_features, bn_size) -> tuple:
    """The stem, the dense blocks and transitions, and norm5 (torchvision's ``features``)."""
    nodes = [L.Conv2d("features.conv0", init_features, 7, 2, 3, bias=False), L.BatchNorm2d("features.norm0"),
             L.Activation("features.relu0"), L.MaxPool2d("features.pool0", 3, 2, 1)]
    channels = init_features
    for i, count in enumerate(blocks):
        block = f"features.denseblock{i + 1}"
        nodes.append(L.Sequential(block, tuple(dense_layer(f"{block}.denselayer{j + 1}", growth_rate, bn_size)
                                               for j in range(count))))
        channels = channels + count * growth_rate
        if i != len(blocks) - 1:
            channels = channels // 2  # torchvision's num_features // 2: a floor where C is odd
            nodes.append(transition(f"features.transition{i + 1}", channels))
    nodes.append(L.BatchNorm2d("features.norm5"))
    return tuple(nodes)


def densenet(h, w, depth: int = 121, k=32, c0=64, b=BN_SIZE, block1=6, block2=12, block3=24, block4=16,
             classes=1000, in_channels=3) -> L.Network:
    """Build DenseNet-``depth`` for an in_channels×h×w input: growth rate ``k``, ``c0`` stem channels,
    bottleneck factor ``b`` (the registered defaults are torchvision's configuration)."""
    blocks = (block1, block2, block3, block4)
    # DenseNet.forward: F.relu, F.adaptive_avg_pool2d, torch.flatten, then the classifier.
    top = (L.Activation("relu", call="function"), L.AdaptiveAvgPool2d("adaptive_avg_pool2d", 1, call="function"),
           L.Flatten("flatten"), L.Linear("classifier", classes))
    return L.Network(f"densenet{depth}", (in_channels, h, w),
                     features(k, blocks, c0, b) + top, top="adaptive_avg_pool2d")


# In torchvision's published DenseNet files a dense layer's modules are ``norm.1``, ``relu.1``,
# ``conv.1`` (and .2): the old name, a dot, the index. Every tensor under them is renamed (also a
# num_batches_tracked, which files saved before torch 0.4.1 lack and later ones may have).
_LEGACY = re.compile(r"(\.denselayer\d+\.(?:norm|relu|conv))\.([12])\.")


def legacy_key(key: str) -> str:
    """A published checkpoint's key in today's spelling: ``...denselayer1.norm.1.weight`` becomes
    ``...denselayer1.norm1.weight``; every other key is returned unchanged."""
    return _LEGACY.sub(r"\1\2.", key)


def _register_densenets() -> None:
    """Register densenet121 … densenet201: one builder, the configurations differ only in data."""
    for depth, (growth_rate, blocks, init_features) in CONFIGS.items():
        name = f"densenet{depth}"
        register(name, params(growth_rate, blocks, init_features),
                 f"DenseNet-{depth}: growth rate {growth_rate}, dense blocks {blocks}, stem {init_features} "
                 "channels, transitions halving the channels, global pool, fc",
                 "Huang et al. 2017, \"Densely Connected Convolutional Networks\" (arXiv:1608.06993); "
                 "torchvision.models." + name,
                 torchvision=name, legacy_key=legacy_key)(partial(densenet, depth=depth))


_register_densenets()
