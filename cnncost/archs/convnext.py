"""ConvNeXt tiny, small, base and large as torchvision builds them.

A 4×4/4 patchify convolution and a LayerNorm2d, four stages of ConvNeXt blocks joined by a
LayerNorm2d and a 2×2/2 convolution, then global average pool, LayerNorm2d, flatten and a
fully connected layer. A block is a 7×7 depthwise convolution, a switch to channels-last
(torchvision's ``Permute`` module), LayerNorm over the last dim, Linear to 4× the channels,
GELU, Linear back, the switch to channels-first, a learned per-channel layer scale and the
residual add. The widths double from stage to stage (C, 2C, 4C, 8C), so the design variables
are the first stage's width C and the four stage depths. Every LayerNorm has eps 1e-6.

The block is written as ``zoo.fx_import`` converts torchvision's module
(tests/data/torchvision_nets/convnext.py): permutes called as ``torch.permute``, an
``nn.LayerNorm`` and ``nn.Linear``s on the channels-last tensor, the layer scale a held
parameter of shape C×1×1 multiplied in, the input added with ``+=``. The LayerNorm2d of the
stem, the downsampling layers and the head is one LayerNorm node over the channels (the
subclass form: a LayerNorm2d, which ptflops does not hook). StochasticDepth is left out: it is
stateless and the identity at inference, so it costs nothing and holds no weights.

Node names are torchvision's module paths (``features.1.0.block.3``, ``features.2.1``,
``classifier.2``); a block's layer scale is saved under its own path (``features.i.j.layer_scale``)
as torchvision's bare parameter is, so torchvision's state_dict is the zoo's key for key.
Source: Liu et al., "A ConvNet for the 2020s" (2022), torchvision.models.
"""

from __future__ import annotations

from functools import partial

from .. import layers as L
from .registry import Param, input_size_params, register

# (C, blocks per stage) of each torchvision model; stage widths are C, 2C, 4C, 8C.
VARIANTS = {
    "tiny": (96, (3, 3, 9, 3)),
    "small": (96, (3, 3, 27, 3)),
    "base": (128, (3, 3, 27, 3)),
    "large": (192, (3, 3, 27, 3)),
}
EPS = 1e-6  # every LayerNorm, the blocks' and the LayerNorm2d's
EXPANSION = 4  # the blocks' inverted bottleneck: Linear C → 4C → C
STAGES = len(next(iter(VARIANTS.values()))[1])


def _params(width: int, depths: tuple) -> tuple:
    """The declarations of one variant: input size, C, the four depths, classes, input channels."""
    return input_size_params(224) + (
        Param("width", width, "channels of the first stage (then 2C, 4C, 8C)", symbolic=True,
              meaning="channels of the first stage"),
    ) + tuple(Param(f"depth{i + 1}", d, f"blocks in stage {i + 1}") for i, d in enumerate(depths)) + (
        Param("classes", 1000, "output classes", meaning="output classes"),
        Param("in_channels", 3, "input channels"),
    )


def layer_norm_2d(name: str, channels) -> L.LayerNorm:
    """torchvision's LayerNorm2d: each position's channels normalised (eps 1e-6), with weight and bias."""
    return L.LayerNorm(name, (channels,), eps=EPS, over_channels=True, call="subclass")


def cn_block(name: str, channels) -> L.Residual:
    """One CNBlock: ``x + layer_scale · block(x)`` (block = dw 7×7, channels-last MLP, back)."""
    body = (
        L.Conv2d(f"{name}.block.0", channels, 7, padding=3, groups=channels),
        L.Permute(f"{name}.block.1", (1, 2, 0), call="torch"),  # C×H×W → H×W×C
        L.LayerNorm(f"{name}.block.2", (channels,), eps=EPS),
        L.Linear(f"{name}.block.3", EXPANSION * channels),
        L.Activation(f"{name}.block.4", "gelu"),
        L.Linear(f"{name}.block.5", channels),
        L.Permute(f"{name}.block.6", (2, 0, 1), call="torch"),  # H×W×C → C×H×W
        L.Scale(f"{name}.layer_scale", "mul", (channels, 1, 1)),
    )
    return L.Residual(name, body)


def features(width, depths: tuple) -> tuple:
    """features.0 (stem) … features.7: each stage's blocks at odd indices, downsampling between them."""
    nodes = [L.Sequential("features.0", (L.Conv2d("features.0.0", width, 4, 4), layer_norm_2d("features.0.1", width)))]
    for i, depth in enumerate(depths):
        channels = width * 2**i
        stage = f"features.{len(nodes)}"
        nodes.append(L.Sequential(stage, tuple(cn_block(f"{stage}.{j}", channels) for j in range(depth))))
        if i + 1 < len(depths):
            down = f"features.{len(nodes)}"
            nodes.append(L.Sequential(down, (layer_norm_2d(f"{down}.0", channels),
                                             L.Conv2d(f"{down}.1", 2 * channels, 2, 2))))
    return tuple(nodes)


def size_names() -> dict:
    """H1, W1 after the stem (H/4), H2 … H4 after each downsampling conv."""
    names = {"features.0.0": ("H1", "W1")}
    names.update({f"features.{2 * i}.1": (f"H{i + 1}", f"W{i + 1}") for i in range(1, STAGES)})
    return names


def convnext(h, w, variant: str, width, classes=1000, in_channels=3, **depths) -> L.Network:
    """Build torchvision's ConvNeXt of the given stage width C and depths (``depth1`` … ``depth4``)."""
    counts = tuple(depths[f"depth{i + 1}"] for i in range(STAGES))
    head = (
        L.AdaptiveAvgPool2d("avgpool", 1),
        layer_norm_2d("classifier.0", width * 2 ** (STAGES - 1)),
        L.Flatten("classifier.1"),
        L.Linear("classifier.2", classes),
    )
    return L.Network(f"convnext_{variant}", (in_channels, h, w), features(width, counts) + head, size_names(),
                     top="avgpool")


def _register_convnexts() -> None:
    """Register convnext_tiny … convnext_large: one builder, the variants differ only in C and depths."""
    for variant, (width, depths) in VARIANTS.items():
        name = f"convnext_{variant}"
        register(name, _params(width, depths),
                 f"ConvNeXt-{variant[0].upper()}: patchify stem, blocks {depths} at widths C-8C (C = {width}), "
                 "pool, LayerNorm, fc",
                 "Liu et al. 2022 (arXiv:2201.03545); torchvision.models." + name,
                 torchvision=name)(partial(convnext, variant=variant))


_register_convnexts()
