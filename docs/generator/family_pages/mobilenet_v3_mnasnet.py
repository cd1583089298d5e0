"""The MobileNetV3 and MNASNet page: both come from a platform-aware architecture search."""

from __future__ import annotations

from ..families import Family

FAMILIES = (
    Family(
        "mobilenet_v3_mnasnet", "MobileNetV3 and MNASNet",
        "Two families of inverted-residual networks found by architecture search, as torchvision "
        "builds them. MobileNetV3 (Howard et al. 2019), Large and Small: a hardswish 3×3/2 stem, a "
        "table of blocks (an optional 1×1 expansion, a 3×3 or 5×5 depthwise convolution, an optional "
        "squeeze-excitation gated by a hard sigmoid, a linear 1×1 projection), a 1×1 convolution to six "
        "times the last block's width, average pool, then Linear → hardswish → dropout → Linear. "
        "MNASNet-B1 (Tan et al. 2019), at depth multipliers 0.5, 0.75, 1.0 and 1.3: a stem of a 3×3/2 "
        "convolution and a depthwise-separable one, six stacks of inverted residual blocks with ReLU "
        "and no squeeze-excitation, a 1×1 convolution to 1280, a mean over H and W and a fully "
        "connected layer. A depthwise convolution has as many groups as channels, so it costs "
        "outputs · k² MACs; a squeeze-excitation works on the 1×1 pooled map, so its two convolutions "
        "cost the same at every input size. The width multipliers (`width_mult`, `alpha`) are numbers, "
        "not symbols: every channel count is rounded to a multiple of 8 from its product with the "
        "multiplier, so each multiplier has its own closed forms in H and W.",
        ("mobilenet_v3_large", "mobilenet_v3_small", "mnasnet1_0"),
        summary=("mnasnet0_5", "mnasnet0_75", "mnasnet1_0", "mnasnet1_3"),
        costs_by="block",
        notes=(
            "Other multipliers: `cnncost formula mobilenet_v3_large --set width_mult=0.75` derives the "
            "closed forms of one, `cnncost sweep mnasnet1_0 --set alpha=0.5,0.75,1.0,1.3 --hw 160,224` "
            "counts several; `--set reduced_tail=true` halves MobileNetV3's last stage as torchvision's "
            "detection backbones do. The four MNASNet names differ only in the default of `alpha`. "
            "torchvision's MNASNet is its version 2, whose stem widths scale with alpha too; the "
            "published mnasnet0_5 and mnasnet1_0 checkpoints already have that layout and load as they are.",
        ),
    ),
)
