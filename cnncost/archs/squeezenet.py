"""SqueezeNet 1.0 and 1.1 as torchvision builds them (Iandola et al. 2016).

A Fire module squeezes with a 1×1 conv, then expands with a 1×1 and a 3×3 conv side by
side, their outputs concatenated; every conv has a bias and is followed by ReLU. Eight Fire
modules sit between 3×3/2 max-pools that round up (``ceil_mode=True``); the classifier is
dropout → 1×1 conv to the classes → ReLU → global average pool → flatten, so SqueezeNet
has no linear layer.

The eight Fire modules follow the paper's metaparameters: module i (0 … 7) squeezes to
``s · (⌊i/2⌋ + 1)`` channels and expands to ``e · (⌊i/2⌋ + 1)`` channels in each branch
(s = 16 and e = 64 in both versions: squeezes 16, 16, 32, 32, 48, 48, 64, 64). The design
variables ``s``, ``e`` and the stem's channels ``c1`` (the paper's conv1) are symbols in
the closed forms. Version 1.1 has a 3×3 stem of 64 channels instead of 7×7 of 96, and pools
earlier (after Fire modules 2 and 4 rather than 3 and 7), which cuts its MACs by 2.3×.

Node names are torchvision's module paths (``features.3.expand3x3``, ``classifier.1``);
each Fire module's concatenation is named ``cat`` inside it, and the final
``torch.flatten`` is ``flatten``.
"""

from __future__ import annotations

from functools import partial

from .. import layers as L
from .registry import Param, input_size_params, register

# Per version: stem (kernel size, default channels) and where the two later max-pools sit in
# ``features`` — as the number of Fire modules before each.
VERSIONS = {
    "1_0": ((7, 96), (3, 7)),
    "1_1": ((3, 64), (2, 4)),
}
SQUEEZE, EXPAND = 16, 64  # the first Fire module's squeeze and per-branch expand channels
FIRES = 8


def params(stem_channels: int) -> tuple:
    """The declarations of one SqueezeNet version, with its stem width as the default."""
    return input_size_params(224) + (
        Param("c1", stem_channels, "channels of the stem convolution (conv1)", symbolic=True,
              meaning="channels of the stem convolution"),
        Param("s", SQUEEZE, "squeeze channels of the first Fire module (Fire module i: s·(⌊i/2⌋ + 1))",
              symbolic=True, meaning="squeeze channels of the first Fire module"),
        Param("e", EXPAND, "channels of each expand branch of the first Fire module (Fire module i: e·(⌊i/2⌋ + 1))",
              symbolic=True, meaning="channels of each expand branch of the first Fire module"),
        Param("classes", 1000, "output classes", meaning="output classes"),
        Param("in_channels", 3, "input channels"),
    )


def fire(name: str, squeeze, expand) -> L.Sequential:
    """1×1 squeeze → ReLU, then [1×1 expand → ReLU] and [3×3 expand → ReLU] concatenated."""
    return L.Sequential(name, (
        L.Conv2d(f"{name}.squeeze", squeeze, 1), L.Activation(f"{name}.squeeze_activation"),
        L.Concat(f"{name}.cat", (
            (L.Conv2d(f"{name}.expand1x1", expand, 1), L.Activation(f"{name}.expand1x1_activation")),
            (L.Conv2d(f"{name}.expand3x3", expand, 3, padding=1), L.Activation(f"{name}.expand3x3_activation")),
        )),
    ))


def features(version: str, stem_channels, squeeze, expand) -> tuple:
    """torchvision's ``features``: stem conv → ReLU → pool, Fire modules with two more pools among them."""
    (kernel, _), pools_after = VERSIONS[version]
    nodes = [L.Conv2d("features.0", stem_channels, kernel, 2), L.Activation("features.1"),
             L.MaxPool2d("features.2", 3, 2, ceil_mode=True)]
    for i in range(FIRES):
        scale = i // 2 + 1
        nodes.append(fire(f"features.{len(nodes)}", squeeze * scale, expand * scale))
        if i + 1 in pools_after:
            nodes.append(L.MaxPool2d(f"features.{len(nodes)}", 3, 2, ceil_mode=True))
    return tuple(nodes)


def squeezenet(h, w, version: str = "1_0", c1=96, s=SQUEEZE, e=EXPAND, classes=1000, in_channels=3) -> L.Network:
    """Build SqueezeNet ``version`` ("1_0" or "1_1") for an in_channels×h×w input."""
    top = (L.Dropout("classifier.0", 0.5), L.Conv2d("classifier.1", classes, 1), L.Activation("classifier.2"),
           L.AdaptiveAvgPool2d("classifier.3", (1, 1)), L.Flatten("flatten"))
    return L.Network(f"squeezenet{version}", (in_channels, h, w),
                     features(version, c1, s, e) + top, top="classifier.0")


def _register_squeezenets() -> None:
    """Register squeezenet1_0 and squeezenet1_1."""
    for version, ((kernel, stem_channels), pools_after) in VERSIONS.items():
        name = f"squeezenet{version}"
        register(name, params(stem_channels),
                 f"SqueezeNet {version.replace('_', '.')}: {kernel}×{kernel}/2 conv {stem_channels} → 8 Fire modules "
                 f"(max-pools after Fire {pools_after[0]} and {pools_after[1]}) → 1×1 conv classifier → avg-pool",
                 "Iandola et al. 2016, \"SqueezeNet: AlexNet-level accuracy with 50x fewer parameters\" "
                 "(arXiv:1602.07360); torchvision.models." + name,
                 torchvision=name)(partial(squeezenet, version=version))


_register_squeezenets()
