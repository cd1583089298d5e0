"""Closed forms compiled to exact vectorised NumPy arithmetic.

⌊p/q⌋ with an integer polynomial p and integer q is printed as ``(p) // q`` on
int64 arrays, and the whole expression is multiplied by the least common
denominator of its coefficients first, so no float ever enters: the result is
exact as long as int64 does not overflow (|value| < 9.2·10¹⁸). Each compiled
function has ``fits(maxima)``: whether every intermediate provably stays in
int64 when each variable's absolute value is at most its maximum (see
``bounds``); where it does not, the caller passes object arrays of Python
integers, on which the same code is exact at any size.
"""

from __future__ import annotations

from functools import reduce

import numpy as np
import sympy
from sympy.printing.pycode import PythonCodePrinter

from .bounds import Unbounded, bound, floor_bound


class IntegerPrinter(PythonCodePrinter):
    """Python source over integer arrays: floors become floor division, Mod becomes %."""

    def _print_floor(self, expr):
        numer, denom = sympy.fraction(sympy.together(expr.args[0]))
        if not denom.is_Integer:
            raise ValueError(f"floor of a non-integer denominator: {expr}")
        return f"(({self._print(sympy.expand(numer))}) // {int(denom)})"

    def _print_Mod(self, expr):
        return f"(({self._print(expr.args[0])}) % ({self._print(expr.args[1])}))"

    def _print_Max(self, expr):
        return reduce(lambda a, b: f"maximum({a}, {b})", (self._print(a) for a in expr.args))

    def _print_Rational(self, expr):
        raise ValueError(f"rational coefficient left in an integer expression: {expr}")

    def _print_Relational(self, expr):
        return f"(({self._print(expr.lhs)}) {expr.rel_op} ({self._print(expr.rhs)}))"


def _denominator(expr) -> int:
    """Least common denominator of the rational coefficients outside floors."""
    rationals = [r for r in expr.atoms(sympy.Rational) if not r.is_Integer]
    outside = [r for r in rationals if any(r in t.atoms(sympy.Rational) for t in _outside_floors(expr))]
    return int(reduce(sympy.ilcm, [r.q for r in outside], 1))


def _outside_floors(expr) -> list:
    """The expression's subterms that are not inside a floor."""
    if isinstance(expr, (sympy.floor, sympy.ceiling)):
        return []
    return [expr] + [t for a in expr.args for t in _outside_floors(a)] if expr.args else [expr]


def compile_count(expr, symbols: list):
    """A function of integer arrays (one per symbol) returning ``expr`` exactly.

    Every distinct floor is computed once (innermost first) as an integer floor
    division and reused wherever it appears: the named sizes recur across layers.
    The function's ``fits(maxima)`` tells whether int64 arrays are safe.
    """
    denominator = _denominator(expr)
    scaled = sympy.expand(expr * denominator) if denominator != 1 else expr
    steps, body = _floor_steps(scaled, list(symbols))
    final = _lambdify(list(symbols) + [dummy for dummy, _, _ in steps], body)
    known = list(symbols)
    compiled_steps = []
    for dummy, numer, denom in steps:
        compiled_steps.append((_lambdify(list(known), numer), denom))
        known.append(dummy)

    def evaluate(*arrays):
        values = list(arrays)
        for numerator, denom in compiled_steps:
            values.append(numerator(*values) // denom)
        value = final(*values)
        return value // denominator if denominator != 1 else value

    def fits(maxima: list) -> bool:
        """Whether every intermediate stays in int64 when |symbol i| ≤ maxima[i]."""
        env = dict(zip(symbols, maxima))
        cache: dict = {}
        try:
            for dummy, numer, denom in steps:  # the numerator is formed, then divided
                env[dummy] = floor_bound(bound(numer, env, cache), denom)
            bound(body, env, cache)
        except Unbounded:
            return False
        return True

    # a function attribute, which mypy does not model: the caller asks the compiled function whether it fits
    evaluate.fits = fits  # type: ignore[attr-defined]
    return evaluate


def _floor_steps(expr, symbols: list) -> tuple:
    """[(dummy, integer numerator, integer denominator)] innermost first, and expr in the dummies."""
    steps: list = []
    while True:
        innermost = [f for f in expr.atoms(sympy.floor) if not f.args[0].has(sympy.floor)]
        if not innermost:
            return steps, expr
        replacements = {}
        for f in sorted(innermost, key=sympy.default_sort_key):
            numer, denom = sympy.fraction(sympy.together(f.args[0]))
            if not denom.is_Integer:
                raise ValueError(f"floor of a non-integer denominator: {f}")
            dummy = sympy.Symbol(f"_floor{len(steps)}", integer=True)
            steps.append((dummy, sympy.expand(numer), int(denom)))
            replacements[f] = dummy
        expr = expr.xreplace(replacements)


def _lambdify(symbols: list, expr):
    return sympy.lambdify(symbols, expr, modules=[{"maximum": np.maximum}, "numpy"], printer=IntegerPrinter)


def compile_condition(relation, symbols: list):
    """A function of integer arrays returning where ``relation`` holds (boolean array).

    Like ``compile_count``'s, it has ``fits(maxima)``: both sides are bounded.
    """
    if isinstance(relation, sympy.Eq):
        relation = sympy.Eq(relation.lhs - relation.rhs, 0, evaluate=False)
    function = sympy.lambdify(symbols, relation, modules=[{"maximum": np.maximum}, "numpy"],
                              printer=IntegerPrinter)

    def condition(*arrays):
        return function(*arrays)

    def fits(maxima: list) -> bool:
        """Whether both sides stay in int64 when |symbol i| ≤ maxima[i]."""
        try:
            bound(relation, dict(zip(symbols, maxima)), {})
        except Unbounded:
            return False
        return True

    condition.fits = fits  # type: ignore[attr-defined]  # a function attribute, as evaluate.fits above
    return condition
