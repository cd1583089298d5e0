"""The DenseNet page: torchvision's DenseNet-121, 161, 169 and 201 (hand-written prose only)."""

from __future__ import annotations

from ..families import Family, Variant

FAMILIES = (
    Family(
        "densenet", "DenseNet-121, 161, 169 and 201",
        "torchvision's DenseNets (Huang et al. 2017, the DenseNet-BC form): a 7×7/2 convolution of c0 "
        "channels and a 3×3/2 max-pool, four dense blocks joined by transitions, a final BatchNorm, ReLU, "
        "global average pool and one linear layer. Inside a block every layer reads the concatenation of "
        "the block's input and all earlier layers' outputs and adds k new channels (the growth rate): "
        "BatchNorm → ReLU → 1×1 convolution to b·k channels → BatchNorm → ReLU → 3×3 convolution to k "
        "channels. A transition halves the channels with a 1×1 convolution (⌊C/2⌋, torchvision's integer "
        "division) and the size with a 2×2 average pool. k, c0 and b (torchvision's `growth_rate`, "
        "`num_init_features`, `bn_size`) are symbols in every formula; the block lengths (6, 12, 24, 16 "
        "for DenseNet-121) are structure, options bound to numbers. A block of n layers fed C channels "
        "ends with C + n·k, so the channels entering each later block are a nest of floors in k and c0. "
        "The concatenations have no arithmetic, so they cost nothing here. torchvision's published "
        "checkpoints spell a dense layer's modules `norm.1`, `conv.1` (today `norm1`, `conv1`); "
        "`--weights` renames them as torchvision's own loader does.",
        ("densenet121",),
        summary=("densenet121", "densenet161", "densenet169", "densenet201"),
        costs_by="block",
        variants=tuple(
            Variant(f"DenseNet-{depth} at torchvision's k = {k}, c0 = {c0}, b = 4",
                    f"densenet{depth}", {"k": k, "c0": c0, "b": 4})
            for depth, k, c0 in ((121, 32, 64), (161, 48, 96), (169, 32, 64), (201, 32, 64))
        ),
    ),
)
