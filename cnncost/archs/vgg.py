"""VGG (configurations A, B, D, E, with and without BatchNorm) and AlexNet, as in torchvision.

Architectures are data: a VGG is a table of conv widths and "M" (2×2 max-pool),
built by one function into torchvision's module layout, so the state_dict keys
(``features.N``, ``classifier.N``) match torchvision's models exactly at the
default hyperparameters. Sources: Simonyan & Zisserman, "Very Deep
Convolutional Networks for Large-Scale Image Recognition" (2014); Krizhevsky,
"One weird trick for parallelizing convolutional neural networks" (2014), the
single-GPU AlexNet variant that torchvision implements.
"""

from __future__ import annotations

from functools import partial

from .. import layers as L
from .registry import Param, input_size_params, register

# Conv widths per configuration; "M" is a 2×2 stride-2 max-pool (the paper's Table 1).
VGG_CONFIGS = {
    11: (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),  # A
    13: (64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),  # B
    16: (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"),  # D
    19: (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
         512, 512, 512, 512, "M", 512, 512, 512, 512, "M"),  # E
}

# AlexNet's feature extractor: (out channels, kernel, stride, padding, max-pool after?).
ALEXNET_CONVS = ((64, 11, 4, 2, True), (192, 5, 1, 2, True), (384, 3, 1, 1, False),
                 (256, 3, 1, 1, False), (256, 3, 1, 1, True))

PARAMS = input_size_params(224) + (
    Param("classes", 1000, "output classes", meaning="output classes"),
    Param("in_channels", 3, "input channels"),
)


def vgg_features(config: tuple, bn: bool) -> tuple:
    """VGG's ``features``: each conv 3×3/pad 1 (+ BN) + ReLU, pools as the table says.

    Indices count every module, stateless ones included, because torchvision's
    ``features`` is an nn.Sequential whose keys are those positions.
    """
    nodes: list = []
    for item in config:
        i = len(nodes)
        if item == "M":
            nodes.append(L.MaxPool2d(f"features.{i}", 2, 2))
            continue
        nodes.append(L.Conv2d(f"features.{i}", item, 3, padding=1))
        if bn:
            nodes.append(L.BatchNorm2d(f"features.{i + 1}"))
        nodes.append(L.Activation(f"features.{len(nodes)}"))
    return tuple(nodes)


def classifier(in_dropout: bool, classes) -> tuple:
    """The 4096-4096-classes head with ReLU and Dropout(0.5), indexed like torchvision.

    VGG puts each dropout after its ReLU (Linear at 0, 3, 6); AlexNet puts it
    before each hidden Linear (Linear at 1, 4, 6).
    """
    hidden = (L.Dropout, L.Linear, L.Activation) if in_dropout else (L.Linear, L.Activation, L.Dropout)
    nodes: list = []
    for i, kind in enumerate(hidden * 2 + (L.Linear,)):
        name = f"classifier.{i}"
        if kind is L.Linear:
            nodes.append(L.Linear(name, 4096 if i < 6 else classes))
        else:
            nodes.append(L.Dropout(name, 0.5) if kind is L.Dropout else L.Activation(name))
    return tuple(nodes)


def head(pool: int, in_dropout: bool, classes) -> tuple:
    """Adaptive average pool to pool×pool (fixes the classifier's input), flatten, classifier."""
    return (L.AdaptiveAvgPool2d("avgpool", (pool, pool)), L.Flatten("flatten")) + classifier(in_dropout, classes)


def _pool_size_names(features: tuple) -> dict:
    """Names P1, Q1, ... for the size after each max-pool (the only size changes in VGG)."""
    pools = [n.name for n in features if isinstance(n, L.MaxPool2d)]
    return {name: (f"P{k}", f"Q{k}") for k, name in enumerate(pools, 1)}


def vgg(h, w, depth: int = 16, bn: bool = False, classes=1000, in_channels=3) -> L.Network:
    """Build VGG-``depth`` (11, 13, 16 or 19), optionally with BatchNorm, for in_channels×h×w input."""
    features = vgg_features(VGG_CONFIGS[depth], bn)
    name = f"vgg{depth}" + ("_bn" if bn else "")
    return L.Network(name, (in_channels, h, w), features + head(7, False, classes),
                     _pool_size_names(features), top="avgpool")


def _register_vggs() -> None:
    """Register vgg11 … vgg19_bn: one builder, the variants differ only in data."""
    for depth in VGG_CONFIGS:
        for bn in (False, True):
            name = f"vgg{depth}" + ("_bn" if bn else "")
            kind = "with BatchNorm after each conv" if bn else "no BatchNorm"
            register(name, PARAMS, f"VGG-{depth} ({kind}): 3×3 convs, 5 max-pools, 4096-4096 classifier",
                     "Simonyan & Zisserman 2014 (arXiv:1409.1556); torchvision.models." + name,
                     torchvision=name)(partial(vgg, depth=depth, bn=bn))


_register_vggs()


@register("alexnet", PARAMS, "AlexNet (single-GPU variant): 5 convs, 3 max-pools, 4096-4096 classifier",
          "Krizhevsky 2014 (arXiv:1404.5997); torchvision.models.alexnet", torchvision="alexnet")
def alexnet(h, w, classes=1000, in_channels=3) -> L.Network:
    """Build torchvision's AlexNet for an in_channels×h×w input."""
    nodes: list = []
    for out, k, stride, pad, pool in ALEXNET_CONVS:
        nodes += [L.Conv2d(f"features.{len(nodes)}", out, k, stride, pad),
                  L.Activation(f"features.{len(nodes) + 1}")]
        if pool:  # overlapping pooling: 3×3 windows, stride 2
            nodes.append(L.MaxPool2d(f"features.{len(nodes)}", 3, 2))
    return L.Network("alexnet", (in_channels, h, w), tuple(nodes) + head(6, True, classes), top="avgpool")
