"""The RegNet page: RegNetX and RegNetY, networks generated from a handful of numbers."""

from __future__ import annotations

from ..families import Family

FAMILIES = (
    Family(
        "regnet", "RegNetX and RegNetY",
        "torchvision's RegNets (Radosavovic et al. 2020, \"Designing Network Design Spaces\"), X and Y, "
        "400MF to 32GF, and RegNetY-128GF. A 3×3/2 stem convolution to 32 channels, four stages of "
        "residual bottleneck blocks, average pool and a fully connected layer. A block is a 1×1 "
        "convolution, a grouped 3×3 convolution (the first block of every stage strides by 2 and adds "
        "its input back through a 1×1 projection), for RegNetY a squeeze-excitation, and a 1×1 "
        "convolution; every convolution is bias-free and followed by BatchNorm, and a ReLU follows "
        "every one but the last and the residual sum. The stages are not written down as a table: "
        "the paper's generator makes them from six numbers. The blocks' widths w_0 + w_a·j "
        "(j = 0 … depth − 1) are quantised to w_0 times a whole power of w_m and rounded to "
        "multiples of 8, blocks of equal width form a stage, and each width is made a multiple of the "
        "group width. Those numbers are the design variables here (`depth`, `w_0`, `w_a`, `w_m`, "
        "`group_width`, `bottleneck_multiplier`, `se_ratio`, with the stem width). They set the "
        "structure, so each setting has its own closed forms in H and W. The rounding repeats "
        "torchvision's float32 arithmetic step by step, so at the published settings the networks are "
        "torchvision's, key for key.",
        ("regnet_x_400mf", "regnet_y_400mf"),
        summary=("regnet_x_400mf", "regnet_x_800mf", "regnet_x_1_6gf", "regnet_x_3_2gf", "regnet_x_8gf",
                 "regnet_x_16gf", "regnet_x_32gf", "regnet_y_400mf", "regnet_y_800mf", "regnet_y_1_6gf",
                 "regnet_y_3_2gf", "regnet_y_8gf", "regnet_y_16gf", "regnet_y_32gf", "regnet_y_128gf"),
        costs_by="block",
        notes=(
            "Other generators: `cnncost formula regnet_y_400mf --set w_a=30 --set se_ratio=0.5` derives "
            "the closed forms of one, `cnncost sweep regnet_x_400mf --set w_a=20,24.48,30 --set "
            "w_m=2.2,2.54 --hw 224` counts several. A generator may give more or fewer than four stages; "
            "each stage's entry is one more named size. The fifteen names differ only in their defaults. "
            "RegNetY's squeeze-excitation narrows to round(se_ratio × the block's input width), not its "
            "bottleneck width, as in torchvision. regnet_y_128gf's published weights (SWAG, fine-tuned "
            "end to end) take 384×384 inputs, which is its default size here.",
        ),
    ),
)
