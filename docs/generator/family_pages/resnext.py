"""The ResNeXt and Wide ResNet page: torchvision's grouped and widened Bottleneck ResNets."""

from __future__ import annotations

from ..families import Family

# torchvision's networks: name, groups, width_per_group (its factories' arguments).
TORCHVISION = (("resnext50_32x4d", 32, 4), ("resnext101_32x8d", 32, 8), ("resnext101_64x4d", 64, 4),
               ("wide_resnet50_2", 1, 128), ("wide_resnet101_2", 1, 128))

FAMILIES = (
    Family(
        "resnext", "ResNeXt and Wide ResNet",
        "torchvision's ResNeXt (Xie et al. 2017) and Wide ResNet (Zagoruyko & Komodakis 2016) are its "
        "ResNet-50 and ResNet-101 (version 1.5: a Bottleneck strides on its 3×3 convolution) with another "
        "inner width in every Bottleneck. Two design variables set it: the 3×3 convolution splits its "
        "channels into `groups` groups (ResNeXt's cardinality), and each group has `width_per_group` "
        "channels in the first stage, doubling with every stage, so a stage of planes p (64, 128, 256, "
        "512) has an inner width of ⌊p · width_per_group / 64⌋ · groups, as torchvision computes it. "
        "The block's output stays 4p channels. ResNet-50 is groups 1, width 64; resnext50_32x4d is 32 "
        "groups of 4; the wide networks keep one group and double the width to 128. A grouped "
        "convolution costs 1/groups of a dense one of the same width, so the formulas are quadratic "
        "in width_per_group and linear in groups. The stem, the five named sizes and the classifier "
        "are ResNet's.",
        ("resnext50_32x4d",),
        summary=tuple(name for name, _, _ in TORCHVISION),
        costs_by="block",
        notes=(
            "Every network of this page takes both options, so one formula per depth covers all five "
            "(*Every variant* lists the same forms for the same depth): they differ only in their "
            "defaults. The closed forms are polynomials in groups and width_per_group, floor-free in "
            "them: torchvision's stage planes p are multiples of 64, so p · width_per_group / 64 is a "
            "whole number and its rounding drops nothing (with numbers the engine repeats "
            "torchvision's float operations all the same).",
        ),
    ),
)
