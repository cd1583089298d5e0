"""Output-size arithmetic of convolution and pooling, exactly as PyTorch does it.

``out = ⌊(in + pad_total − d·(k−1) − 1) / s⌋ + 1`` (⌈…⌉ with ceil_mode), and
the inverse: the smallest input that still gives an output of at least ``c``.
The inverse is what turns "every layer's output is ≥ 1" into a condition on
the network's input size (e.g. ``H ≥ 31k + 1`` for scratch5 with valid padding).
"""

from __future__ import annotations

from typing import Any

from .arith import ceildiv, floordiv, is_number


class _Whole:
    """A window as long as its input along that axis: ``F.avg_pool2d(x, x.shape[2:])``."""

    def __repr__(self) -> str:
        return "WHOLE"  # stable: reprs of layer trees are fingerprints

    def __reduce__(self) -> str:
        return "WHOLE"  # pickles (and copies) stay the one instance the checks compare with


WHOLE = _Whole()  # a kernel or stride equal to the axis' current input size


def window_output(size: Any, kernel: Any, stride: Any, pad_total: Any,
                  dilation: Any = 1, ceil_mode: bool = False, pad_left: Any = 0) -> Any:
    """Output length of a sliding window along one axis."""
    kernel, stride = _resolve(size, kernel), _resolve(size, stride)
    span = size + pad_total - dilation * (kernel - 1) - 1
    if stride == 1:
        return span + 1  # ⌊x/1⌋ = ⌈x/1⌉ = x; skipping sympy's floor saves most of a symbolic walk
    if not ceil_mode:
        return floordiv(span, stride) + 1
    out = ceildiv(span, stride) + 1
    # torch drops a last window that would start inside the right padding.
    # That cannot happen when stride + left padding <= effective kernel.
    if _known_le(stride + pad_left, dilation * (kernel - 1) + 1):
        return out
    if is_number(out):
        return out - 1 if (out - 1) * stride >= size + pad_left else out
    import sympy

    return sympy.Piecewise((out - 1, sympy.Ge((out - 1) * stride, size + pad_left)), (out, True))


def window_min_input(need: Any, kernel: Any, stride: Any, pad_total: Any,
                     dilation: Any = 1, ceil_mode: bool = False) -> Any:
    """Smallest input length whose window output is at least ``need`` (need >= 1)."""
    if kernel is WHOLE:
        return need  # a window over the whole input fits any input of length >= 1
    reach = dilation * (kernel - 1) + 1 - pad_total
    if not ceil_mode:
        return stride * (need - 1) + reach  # ⌊(x − reach)/s⌋ ≥ need − 1
    # ⌈(x − reach)/s⌉ ≥ need − 1  ⇔  x − reach > s·(need − 2)
    return stride * (need - 2) + reach + 1


def _resolve(size: Any, value: Any) -> Any:
    return size if value is WHOLE else value


def _known_le(a: Any, b: Any) -> bool:
    """True only when a <= b is certainly true."""
    if is_number(a) and is_number(b):
        return a <= b
    decided = (a <= b)
    return decided is True or getattr(decided, "is_true", False) is True
