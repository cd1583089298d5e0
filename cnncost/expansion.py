"""``sympy.expand`` of the polynomials cnncost builds, in one pass over their terms.

sympy's ``expand`` runs six hints, each rebuilding every node of the expression
(and each rebuilt product is re-flattened): about a millisecond per term, seconds
for the thousands of terms of a deep network. Here each term is multiplied out
into (coefficient, monomial) pairs with Python integers and fractions, like
monomials are collected in a dict, and sympy builds each surviving term and the
sum once. The result is the same expression ``sympy.expand`` gives (sympy's
canonical form does not depend on how it was reached); anything beyond numbers,
symbols, sums, products, integer powers, floors and ceilings is left to
``sympy.expand`` whole.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from typing import Any

import sympy


class _Unsupported(Exception):
    """An expression outside the polynomial-with-floors subset: sympy expands it."""


def expand(expr: Any) -> Any:
    """``sympy.expand(expr)``, computed term by term (an int becomes a sympy Integer, as there)."""
    if not isinstance(expr, sympy.Basic):
        return sympy.expand(expr)
    try:
        collected: dict = {}
        # A monomial met once and already in canonical form is reused: rebuilding each of
        # the thousands of terms of a deep network would cost as much as sympy.expand.
        source: dict = {}  # key -> the input term it came from, or None once rebuilt
        for term in sympy.Add.make_args(expr):
            pairs = _terms(term)
            plain = len(pairs) == 1 and _is_monomial(term)
            for coeff, powers in pairs:
                key = frozenset(powers.items())
                if key in collected:
                    collected[key] += coeff
                    source[key] = None
                else:
                    collected[key] = coeff
                    source[key] = term if plain else None
    except _Unsupported:
        return sympy.expand(expr)
    return sympy.Add(*[source[key] if source[key] is not None else _build(coeff, key)
                       for key, coeff in collected.items() if coeff != 0])


def _is_monomial(term: Any) -> bool:
    """A number times symbols to integer powers: already what sympy.expand makes of it."""
    for factor in sympy.Mul.make_args(term):
        if factor.is_Pow:
            if not (factor.base.is_Symbol and factor.exp.is_Integer):
                return False
        elif not (factor.is_Symbol or factor.is_Rational):
            return False
    return True


def _build(coeff: Fraction, key: frozenset) -> Any:
    number = sympy.Rational(coeff.numerator, coeff.denominator) if type(coeff) is Fraction else sympy.Integer(coeff)
    return sympy.Mul(number, *[base if exp == 1 else sympy.Pow(base, exp) for base, exp in key])


def _terms(expr: Any) -> list:
    """``expr`` multiplied out: a list of (coefficient, {base: exponent}) pairs."""
    if expr.is_Rational:
        return [(Fraction(int(expr.p), int(expr.q)) if expr.q != 1 else int(expr.p), {})]
    if expr.is_Symbol:
        return [(1, {expr: 1})]
    if expr.is_Add:
        return [pair for arg in expr.args for pair in _terms(arg)]
    if expr.is_Mul:
        result: list = [(1, {})]
        for factor in expr.args:
            result = _times(result, _terms(factor))
        return result
    if expr.is_Pow:
        base, exp = expr.args
        if not exp.is_Integer:
            raise _Unsupported
        if base.is_Symbol:
            return [(1, {base: int(exp)})]
        if exp <= 0:
            raise _Unsupported  # 1/(a + b) and the like: sympy's business
        pairs = _terms(base)
        result = pairs
        for _ in range(int(exp) - 1):
            result = _times(result, pairs)
        return result
    if isinstance(expr, (sympy.floor, sympy.ceiling)):
        return _rounded(expr)
    raise _Unsupported


@lru_cache(maxsize=4096)  # the same few floors (the named sizes) recur in many terms
def _expanded_rounding(expr: Any) -> Any:
    return sympy.expand(expr)


def _rounded(expr: Any) -> list:
    """A floor or ceiling as sympy expands it: its argument expanded, whole parts pulled out."""
    expanded = _expanded_rounding(expr)
    if isinstance(expanded, (sympy.floor, sympy.ceiling)):
        return [(1, {expanded: 1})]
    if expanded.is_Symbol or expanded.is_Rational:
        return _terms(expanded)
    # e.g. ⌊x + 1⌋ → ⌊x⌋ + 1: its own floors are already expanded, taken as they are
    pairs = []
    for term in sympy.Add.make_args(expanded):
        coeff, rest = term.as_coeff_Mul()
        if not coeff.is_Rational:
            raise _Unsupported
        powers: dict = {}
        for factor in sympy.Mul.make_args(rest):
            if factor is sympy.S.One:
                continue
            base, exp = factor.as_base_exp()
            if not (exp.is_Integer and (base.is_Symbol or isinstance(base, (sympy.floor, sympy.ceiling)))):
                raise _Unsupported
            powers[base] = powers.get(base, 0) + int(exp)
        pairs.append((_terms(coeff)[0][0], powers))
    return pairs


def _times(left: list, right: list) -> list:
    """The product of two multiplied-out sums."""
    result = []
    for a, pa in left:
        for b, pb in right:
            powers = dict(pa)
            for base, exp in pb.items():
                total = powers.get(base, 0) + exp
                if total:
                    powers[base] = total
                else:
                    del powers[base]
            result.append((a * b, powers))
    return result
