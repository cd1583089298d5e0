"""The EfficientNet page: B0–B7 (one table, compound-scaled) and EfficientNetV2 S, M and L."""

from __future__ import annotations

from ..families import Family

B_NAMES = tuple(f"efficientnet_b{i}" for i in range(8))
V2_NAMES = ("efficientnet_v2_s", "efficientnet_v2_m", "efficientnet_v2_l")

FAMILIES = (
    Family(
        "efficientnet", "EfficientNet B0–B7 and EfficientNetV2",
        "torchvision's EfficientNets. B0 (Tan & Le 2019) is a 3×3/2 convolution, seven stages of MBConv "
        "blocks, a 1×1 convolution to four times the last stage's width, average pool, dropout and a "
        "fully connected layer. An MBConv block expands its input by a factor of 1 or 6 with a 1×1 "
        "convolution (left out at factor 1), runs a 3×3 or 5×5 depthwise convolution, gates the result "
        "with a squeeze-excitation (average pool to 1×1, 1×1 convolution down to a quarter of the block's "
        "input channels, SiLU, 1×1 convolution back, sigmoid, times the feature map) and projects it "
        "linearly with a 1×1 convolution; it adds its input back when it keeps the shape. Every other "
        "activation is SiLU, and every convolution outside the squeeze-excitations is bias-free and "
        "followed by BatchNorm. B1 to B7 scale B0 by compound scaling: each channel count is "
        "c · `width_mult` rounded to a multiple of 8 (never down by more than 10 %, torchvision's "
        "`_make_divisible`) and each stage's block count is ⌈n · `depth_mult`⌉, both computed in floating "
        "point as torchvision computes them. EfficientNetV2 "
        "(Tan & Le 2021) has a table of its own, without multipliers: its first three stages are "
        "FusedMBConv blocks, where one k×k convolution replaces the expansion and the depthwise "
        "convolution (a single k×k convolution where the expansion factor is 1) and there is no "
        "squeeze-excitation, and its last convolution has 1280 channels. A squeeze-excitation works on "
        "the 1×1 pooled map, so its convolutions cost the same at every input size. Only H and W are "
        "symbols: the multipliers are numbers, each with its own closed forms in H and W.",
        ("efficientnet_b0", "efficientnet_v2_s"),
        summary=B_NAMES + V2_NAMES,
        costs_by="block",
        notes=(
            "Each B network's default input is torchvision's evaluation crop for its weights (224, 240, "
            "288, 300, 380, 456, 528, 600 pixels; 384 for V2-S, 480 for V2-M and V2-L), and the published "
            "GFLOPS are counted there. Besides that size, the eight B names differ only in the defaults of "
            "`width_mult`, `depth_mult` and `dropout` and in BatchNorm's eps (1e-3 in B5–B7, whose weights "
            "were ported from TensorFlow, and in every V2; 1e-5 elsewhere), which changes no count. "
            "`cnncost formula efficientnet_b0 --set width_mult=0.5 --set depth_mult=0.5` derives the closed "
            "forms of another design, `cnncost sweep efficientnet_b0 --set width_mult=0.5,1.0,1.5 "
            "--set depth_mult=1.0,2.0 --hw 224,256` counts several. StochasticDepth, which torchvision "
            "applies before each residual add in training, is the identity at inference and holds no state, so the "
            "descriptions leave it out. torchvision's checkpoints load with `--weights` as they are.",
        ),
    ),
)
