"""The SqueezeNet and ShuffleNet V2 page: torchvision's two small-model families (hand-written prose only)."""

from __future__ import annotations

from cnncost.archs.shufflenet import WIDTHS, width_label
from ..families import Family, Variant

FAMILIES = (
    Family(
        "squeezenet_shufflenet", "SqueezeNet 1.0 and 1.1, ShuffleNet V2",
        "Two of torchvision's small networks. SqueezeNet (Iandola et al. 2016) is built of Fire modules: "
        "a 1×1 squeeze convolution, then a 1×1 and a 3×3 expand convolution side by side, concatenated; "
        "every convolution has a bias and a ReLU, and the classifier is a 1×1 convolution to the classes "
        "followed by a global average pool, so there is no linear layer. Fire module i (0 … 7) squeezes to "
        "s·(⌊i/2⌋ + 1) and expands to e·(⌊i/2⌋ + 1) channels per branch (the paper's metaparameters: "
        "s = 16, e = 64); s, e and the stem's c1 channels are symbols. Version 1.1 has a 3×3 stem of 64 "
        "channels instead of 7×7 of 96 and pools earlier, for about 2.3× fewer MACs at nearly the same "
        "parameters. Its max-pools round up (`ceil_mode=True`). ShuffleNet V2 (Ma et al. 2018) has three "
        "stages of units after a 3×3/2 convolution and a max-pool. A stage's first unit halves the size "
        "with two branches on its whole input; every other unit splits the channels in two "
        "(`x.chunk(2, dim=1)`), passes one half and runs 1×1 → 3×3 depthwise → 1×1 on the other. Each "
        "unit ends by concatenating the halves and shuffling the channels across them, all free of "
        "arithmetic. The design variables are the stem's c1 channels, the branch widths b2, b3, b4 "
        "(half of torchvision's stage channels: a stage has 2·b channels) and conv5's c5 channels; the "
        "four published widths ×0.5 … ×2.0 differ only in these numbers.",
        ("squeezenet1_0", "squeezenet1_1", "shufflenet_v2_x1_0"),
        summary=("shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5", "shufflenet_v2_x2_0"),
        costs_by="block",
        # Each published width at its own channel table: closed forms in H and W alone.
        variants=tuple(
            Variant(f"ShuffleNet V2 {width_label(width)}: c1 = {c1}, b2 = {c2 // 2}, b3 = {c3 // 2}, "
                    f"b4 = {c4 // 2}, c5 = {c5}", f"shufflenet_v2_{width}",
                    {"c1": c1, "b2": c2 // 2, "b3": c3 // 2, "b4": c4 // 2, "c5": c5})
            for width, (c1, c2, c3, c4, c5) in WIDTHS.items()
        ),
        notes=(
            "A depthwise 3×3 convolution of C channels costs 9 MACs per output value, not 9·C: its groups "
            "equal its channels. In a splitting ShuffleNet unit only half the channels are convolved, so "
            "a unit of 2·b channels costs (2·b² + 9·b) MACs per output pixel.",
        ),
    ),
)
