"""googlenet: GoogLeNet (Inception v1) as torchvision builds it.

Stem (7×7/2 conv, pools, 1×1 and 3×3 convs) → nine inception blocks in three
stages separated by 3×3/2 (then 2×2/2) max-pools → global average pool →
dropout 0.2 → fc. Every conv is torchvision's BasicConv2d: conv without bias →
BatchNorm (eps 0.001) → ReLU. All max-pools use ``ceil_mode=True``.

Faithful to torchvision, not to the paper where they differ: the "5×5" branch
uses a 3×3 kernel (torchvision issue #906, kept so pretrained weights load),
and the input transform (``transform_input``) is off, as in a fresh model.
Node names are torchvision's module paths, so the state_dict keys match; the
functional ops (ReLU, flatten, the aux heads' pooling) get extra stateless names.
"""

from __future__ import annotations

from .. import layers as L
from .registry import Param, input_size_params, register

PARAMS = input_size_params(224) + (
    Param("classes", 1000, "output classes", meaning="output classes"),
    Param("in_channels", 3, "input channels"),
    Param("aux_logits", False, "auxiliary classifiers (training only)"),
)

# The stages in order. An inception row holds torchvision's Inception arguments
# (name, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj); a two-column row
# (name, kernel) is the stride-2 max-pool between stages.
BLOCKS = (
    ("inception3a", 64, 96, 128, 16, 32, 32),
    ("inception3b", 128, 128, 192, 32, 96, 64),
    ("maxpool3", 3),
    ("inception4a", 192, 96, 208, 16, 48, 64),
    ("inception4b", 160, 112, 224, 24, 64, 64),
    ("inception4c", 128, 128, 256, 24, 64, 64),
    ("inception4d", 112, 144, 288, 32, 64, 64),
    ("inception4e", 256, 160, 320, 32, 128, 128),
    ("maxpool4", 2),
    ("inception5a", 256, 160, 320, 32, 128, 128),
    ("inception5b", 384, 192, 384, 48, 128, 128),
)

# Auxiliary classifiers hang off the output of these blocks (training only).
AUX_AFTER = {"inception4a": "aux1", "inception4d": "aux2"}

# Names for the spatial sizes in formulas. Every layer that changes the size
# symbolically is listed (the aux heads' 4×4 pools give numbers): the formula
# namer numbers unlisted ones H1, H2, ..., which would clash with these.
SIZE_NAMES = {"conv1.conv": ("H1", "W1"), "maxpool1": ("P1", "Q1"), "maxpool2": ("P2", "Q2"),
              "maxpool3": ("P3", "Q3"), "maxpool4": ("P4", "Q4")}


def basic_conv(name: str, out_channels, kernel_size, stride=1, padding=0) -> L.Sequential:
    """torchvision's BasicConv2d: bias-free conv → BatchNorm(eps=1e-3) → ReLU."""
    return L.Sequential(name, (
        L.Conv2d(f"{name}.conv", out_channels, kernel_size, stride, padding, bias=False),
        L.BatchNorm2d(f"{name}.bn", eps=0.001),
        L.Activation(f"{name}.relu", "relu"),
    ))


def max_pool(name: str, kernel_size: int) -> L.MaxPool2d:
    """A stride-2 max-pool between stages (ceil_mode, as torchvision)."""
    return L.MaxPool2d(name, kernel_size, stride=2, ceil_mode=True)


def inception(name: str, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj) -> L.Concat:
    """One inception block: four parallel branches concatenated along channels."""
    return L.Concat(name, (
        (basic_conv(f"{name}.branch1", ch1x1, 1),),
        (basic_conv(f"{name}.branch2.0", ch3x3red, 1), basic_conv(f"{name}.branch2.1", ch3x3, 3, padding=1)),
        # torchvision's 3×3 where the paper has 5×5 (see module docstring).
        (basic_conv(f"{name}.branch3.0", ch5x5red, 1), basic_conv(f"{name}.branch3.1", ch5x5, 3, padding=1)),
        (L.MaxPool2d(f"{name}.branch4.0", 3, stride=1, padding=1, ceil_mode=True),
         basic_conv(f"{name}.branch4.1", pool_proj, 1)),
    ))


def aux_head(name: str, classes) -> L.Auxiliary:
    """InceptionAux: 4×4 adaptive pool → 1×1 conv 128 → fc 2048→1024 → ReLU → dropout 0.7 → fc."""
    return L.Auxiliary(name, (
        L.AdaptiveAvgPool2d(f"{name}.pool", (4, 4)),
        basic_conv(f"{name}.conv", 128, 1),
        L.Flatten(f"{name}.flatten"),
        L.Linear(f"{name}.fc1", 1024),
        L.Activation(f"{name}.relu", "relu"),
        L.Dropout(f"{name}.dropout", 0.7),
        L.Linear(f"{name}.fc2", classes),
    ))


def stages(classes, aux_logits: bool) -> tuple:
    """The inception stages from BLOCKS, with the aux heads inserted when asked."""
    nodes: list = []
    for row in BLOCKS:
        if len(row) == 2:
            nodes.append(max_pool(*row))
            continue
        nodes.append(inception(*row))
        if aux_logits and row[0] in AUX_AFTER:
            nodes.append(aux_head(AUX_AFTER[row[0]], classes))
    return tuple(nodes)


@register("googlenet", PARAMS, "GoogLeNet (Inception v1): stem → 9 inception blocks → avg-pool → fc",
          "Szegedy et al. 2014, \"Going Deeper with Convolutions\" (torchvision's variant)",
          torchvision="googlenet")
def googlenet(h, w, classes=1000, in_channels=3, aux_logits=False) -> L.Network:
    """Build torchvision's GoogLeNet for an input of in_channels×h×w."""
    stem = (
        basic_conv("conv1", 64, 7, stride=2, padding=3),
        max_pool("maxpool1", 3),
        basic_conv("conv2", 64, 1),
        basic_conv("conv3", 192, 3, padding=1),
        max_pool("maxpool2", 3),
    )
    head = (
        L.AdaptiveAvgPool2d("avgpool", (1, 1)),
        L.Flatten("flatten"),
        L.Dropout("dropout", 0.2),
        L.Linear("fc", classes),
    )
    return L.Network("googlenet", (in_channels, h, w), stem + stages(classes, aux_logits) + head, SIZE_NAMES,
                     top="avgpool")
