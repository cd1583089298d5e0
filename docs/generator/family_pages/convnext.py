"""The ConvNeXt page: tiny, small, base and large, one builder with the stage width and depths as options."""

from __future__ import annotations

from ..families import Family, Variant

FAMILIES = (
    Family(
        "convnext", "ConvNeXt tiny, small, base and large",
        "torchvision's ConvNeXts (Liu et al. 2022), a ResNet modernised step by step towards a vision "
        "transformer's design. A 4×4 convolution of stride 4 cuts the image into patches and a "
        "LayerNorm2d (a LayerNorm over each position's channels) follows; four stages of blocks at "
        "widths C, 2C, 4C and 8C are joined by a LayerNorm2d and a 2×2 convolution of stride 2; then "
        "global average pool, LayerNorm2d, flatten and a fully connected layer. A block is a 7×7 "
        "depthwise convolution, then in channels-last layout a LayerNorm, a Linear to 4C channels, GELU "
        "and a Linear back, a learned per-channel layer scale and the residual add. The four models "
        "differ only in C (96, 96, 128, 192) and in the depth of the third stage (9 for tiny, 27 for "
        "the others); `--width` and `--depth1` … `--depth4` set them. The stem divides the size "
        "by 4 and each downsampling by 2, rounding down, so the sizes are ⌊H/4⌋, ⌊H/8⌋, ⌊H/16⌋ and ⌊H/32⌋. Every "
        "LayerNorm and GELU is free in MACs (the torchvision GFLOPS convention), and so are the "
        "layer scale and the residual add.",
        ("convnext_tiny",),
        summary=("convnext_tiny", "convnext_small", "convnext_base", "convnext_large"),
        costs_by="block",
        variants=(
            Variant("`--width 64` (C = 64, ConvNeXt-T's depths)", "convnext_tiny", {"width": 64}),
        ),
        notes=(
            "`cnncost sweep convnext_tiny --set width=64,96,128 --set depth3=9,27 --hw 224` counts "
            "several designs. StochasticDepth (training only, stateless) is left out of the description. "
            "torchvision's checkpoints load with `--weights` as they are: a block's `layer_scale` is "
            "saved under its own path, as torchvision's bare parameter is.",
        ),
    ),
)
