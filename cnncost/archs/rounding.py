"""Channel rounding as the reference implementations do it, shared by the families that round.

Width multipliers are floats, and the references compute ``channels * multiplier`` in floating
point before rounding; these functions repeat the same operations in the same order, so a
channel count here is the reference's bit for bit (1.1 · 40 is 44.000000000000007, not 44).
"""

from __future__ import annotations

import math


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None, round_up_bias: float = 0.9) -> int:
    """``value`` rounded to the nearest multiple of ``divisor`` (at least ``min_value``, default
    ``divisor``), bumped up one multiple when rounding lost more than 1 − ``round_up_bias`` of it.

    This is MobileNet's ``_make_divisible`` (torchvision.models._utils), which EfficientNet,
    MobileNetV3 and RegNet use; MNASNet's ``_round_to_multiple_of`` is the same rule.
    """
    if min_value is None:
        min_value = divisor
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < round_up_bias * value:
        rounded += divisor
    return rounded


def round_repeats(repeats: int, depth_multiplier: float) -> int:
    """A stage's block count scaled by a depth multiplier, rounded up (EfficientNet's rule)."""
    return int(math.ceil(repeats * depth_multiplier))
