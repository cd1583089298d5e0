"""Arithmetic that works on Python ints and on sympy expressions alike.

The engine's rules are written once with these helpers. On the numeric path
every value is an ``int`` and sympy is never imported; on the symbolic path the
same code builds sympy expressions (sympy's ``//`` is ``floor``).
"""

from __future__ import annotations

from typing import Any

from .errors import CnncostError


def is_number(value: Any) -> bool:
    """True for plain Python ints (bools excluded)."""
    return type(value) is int  # exact type check: hot path of every numeric count


def floordiv(a: Any, b: Any) -> Any:
    """⌊a / b⌋ for ints or sympy expressions."""
    return a // b


def ceildiv(a: Any, b: Any) -> Any:
    """⌈a / b⌉ for ints or sympy expressions."""
    return -((-a) // b)


def exact_div(a: Any, b: Any, where: str, what: str = "") -> Any:
    """a / b, which must be a whole number.

    The error names ``where`` (a layer) and ``what`` (the quantity); both are
    formatted only on failure, because this runs for every conv of every count.
    """
    if type(a) is int and type(b) is int:
        if a % b:
            raise CnncostError(f"{where}: {what + ' ' if what else ''}{a}/{b} is not a whole number")
        return a // b
    return a / b  # symbolic: recorded as a divisibility condition by the caller


def maximum(*values: Any) -> Any:
    """max() for ints, sympy.Max for expressions."""
    if all(is_number(v) for v in values):
        return max(values)
    import sympy

    return sympy.Max(*values)


def total(values) -> Any:
    """Sum of ints or expressions, built in one pass.

    Python's ``sum`` over sympy expressions re-flattens the growing sum on every
    ``+``, which is quadratic in the number of terms (33 s for a 1,000-layer
    stack); one ``sympy.Add`` of every term flattens and sorts once. Plain ints
    (the numeric path) are summed by Python and sympy is never imported.
    """
    values = list(values)
    if all(type(v) is int for v in values):
        return sum(values)
    import sympy

    return sympy.Add(*values)


def product(values) -> Any:
    """Product of ints or expressions (1 for an empty sequence)."""
    result = 1
    for value in values:
        result = result * value
    return result
