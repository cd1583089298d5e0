"""Rigorous int64 guard: a bound on every intermediate of a compiled closed form.

NumPy's int64 arithmetic wraps silently. Before a chunk is evaluated in int64,
each compiled expression is walked once with the largest absolute value of
every variable in that chunk: a sum is bounded by the sum of its terms'
bounds, a product by the product of its factors' bounds (each at least 1, so
every partial product NumPy forms is covered too), a power by its base's
bound raised to it, ⌊p/d⌋ by ⌊bound(p)/|d|⌋ + 1. Every node's bound is
compared with int64's range, not only the result's: a numerator may overflow
even where the floor division brings the value back. Any node the walker does
not know is treated as unbounded, so the answer errs only towards exact
Python integers.
"""

from __future__ import annotations

import sympy

INT64_MAX = 2**63 - 1


class Unbounded(Exception):
    """Some intermediate may leave int64 (or the expression has a node not understood)."""


def bound(expr, env: dict, cache: dict) -> int:
    """Upper bound of |expr| and of every intermediate NumPy forms while evaluating it.

    ``env`` maps symbols to bounds of their absolute values; raises Unbounded as
    soon as any node's bound exceeds int64 (so no huge integer is ever formed).
    """
    if expr in cache:
        return cache[expr]
    value = _node(expr, env, cache)
    if value > INT64_MAX:
        raise Unbounded(str(expr)[:80])
    cache[expr] = value
    return value


def _node(expr, env: dict, cache: dict) -> int:
    if expr.is_Integer:
        return abs(int(expr))
    if expr.is_Symbol:
        if expr not in env:
            raise Unbounded(f"no bound for {expr}")
        return env[expr]
    if isinstance(expr, sympy.Add):
        return sum(bound(a, env, cache) for a in expr.args)
    if isinstance(expr, sympy.Mul):
        total = 1
        for a in expr.args:
            total *= max(1, bound(a, env, cache))
            if total > INT64_MAX:
                raise Unbounded(str(expr)[:80])
        return total
    if isinstance(expr, sympy.Pow):
        exponent = expr.exp
        if not (exponent.is_Integer and int(exponent) >= 0):
            raise Unbounded(f"power {expr}")
        base = max(1, bound(expr.base, env, cache))
        if base > 1 and int(exponent) * (base.bit_length() - 1) > 63:  # ≥ 2^64: never formed
            raise Unbounded(str(expr)[:80])
        return base ** int(exponent)
    if isinstance(expr, (sympy.Max, sympy.Min)):
        return max(bound(a, env, cache) for a in expr.args)
    if isinstance(expr, sympy.floor):  # printed as (expanded numerator) // denominator
        numer, denom = sympy.fraction(sympy.together(expr.args[0]))
        if not denom.is_Integer:
            raise Unbounded(f"floor {expr}")
        return floor_bound(bound(sympy.expand(numer), env, cache), int(denom))
    if isinstance(expr, sympy.Mod):
        bound(expr.args[0], env, cache)  # computed, so it must fit; the remainder is below |divisor|
        return bound(expr.args[1], env, cache)
    if isinstance(expr, sympy.core.relational.Relational):
        bound(expr.lhs, env, cache)
        bound(expr.rhs, env, cache)
        return 1
    if expr in (sympy.true, sympy.false):
        return 1
    raise Unbounded(f"unknown node {type(expr).__name__}")


def floor_bound(numerator: int, denominator: int) -> int:
    """Bound of |⌊p/d⌋| given a bound of |p| (rounding down may add one for negative p)."""
    return numerator // abs(denominator) + 1
