"""Deciding claimed − true = 0 exactly, floors included, by residue classes.

A search over small values is not a proof, so EQUAL rests on this module alone.
Every floor ⌊N/D⌋ whose numerator N is a polynomial with integer coefficients
(after clearing the argument's denominators) is rewritten as (N − s)/D with a
fresh symbol s = N mod D; ceilings become −⌊−x⌋ first and nested floors are
rewritten inside out, so an inner floor's s enters the outer numerator. The
difference becomes a polynomial in the variables x and the residues s:

* if it is identically 0, the claim holds for *every* x (s takes its true value
  at each x), which is the proof;
* otherwise each residue vector s is a function of x mod M (M = lcm of the
  denominators, since N(x + M·e) ≡ N(x) mod D). The residue vectors that occur
  are enumerated over x mod M; on the x of one class the difference is a fixed
  polynomial in x, so it vanishes on the class exactly when every coefficient
  does at that class's s. A class with a non-zero coefficient is a witness: a
  box of (degree + 1) points per variable inside it holds a point where the
  difference is non-zero (a polynomial vanishing on such a grid is 0).

Anything else (a floor of a rational function such as ⌊H/m⌋, division by a
variable outside floors, more classes or terms than the bounds allow) is
*unknown*: the caller may only search for a counterexample and, failing that,
report "not proven" with the range it checked.
"""

from __future__ import annotations

import itertools
import math
from typing import NamedTuple

import sympy

from .exact import compile_exact
from .printer import text

MAX_CLASSES = 65_536  # residue vectors x mod M enumerated (32³ covers scratch5's H, W, k)
MAX_TERMS = 5_000  # terms of the rewritten difference, bounded before expanding
MAX_DENOMINATOR = 10**6  # a floor's denominator; larger ones cannot be enumerated anyway


class Proof(NamedTuple):
    """``status`` is 'zero', 'nonzero' or 'unknown'.

    For 'nonzero', ``residues`` maps each variable under a floor to (residue in 1…modulus,
    modulus) for one class where the difference is not 0, and ``degrees`` bounds
    the difference's degree in each variable on that class. For 'unknown', ``reason``
    says why. ``classes`` is how many residue vectors were examined.
    """

    status: str
    residues: dict = {}  # variable -> (residue in 1…modulus, modulus) of a witness class
    degrees: dict = {}
    classes: int = 0
    reason: str = ""
    moduli: dict = {}  # for 'zero' by enumeration: variable -> modulus of its classes


class _Unknown(Exception):
    """The difference is outside what this module decides."""


class _Rewriter:
    """Rewrites floors into (N − s)/D, remembering each s's numerator and denominator."""

    def __init__(self, variables: list):
        self.variables = list(variables)
        self.residues: list = []  # (s, N, D), inner floors first
        self.seen: dict = {}

    def rewrite(self, expr):
        """``expr`` with every floor/ceiling replaced; raises _Unknown when impossible."""
        if isinstance(expr, sympy.ceiling):
            return -self._floor(-self.rewrite(expr.args[0]))
        if isinstance(expr, sympy.floor):
            return self._floor(self.rewrite(expr.args[0]))
        if not expr.args:
            return expr
        if isinstance(expr, sympy.Function):
            raise _Unknown(f"the function {expr.func.__name__} is not decided")
        return expr.func(*[self.rewrite(a) for a in expr.args])

    def _floor(self, argument):
        names = self.variables + [s for s, _, _ in self.residues]
        if terms(argument) > MAX_TERMS:
            raise _Unknown("a floor's argument is too large to expand")
        argument = sympy.expand(argument)
        if not argument.is_polynomial(*names):
            raise _Unknown(f"⌊{text(argument)}⌋ has a non-polynomial argument (only those are split into classes)")
        poly = sympy.Poly(argument, *names) if names else None
        coefficients = poly.coeffs() if poly is not None else [argument]
        if not all(c.is_Rational for c in coefficients):
            raise _Unknown(f"⌊{text(argument)}⌋ has a non-rational coefficient")
        denominator = math.lcm(*[int(c.q) for c in coefficients])
        numerator = sympy.expand(argument * denominator)
        content = math.gcd(denominator, *[int(c * denominator) for c in coefficients])
        numerator, denominator = sympy.expand(numerator / content), denominator // content
        if denominator == 1:
            return numerator  # an integer polynomial: its own floor
        if denominator > MAX_DENOMINATOR:
            raise _Unknown(f"a floor's denominator {denominator:,} exceeds {MAX_DENOMINATOR:,}")
        key = (numerator, denominator)
        if key not in self.seen:
            s = sympy.Dummy(f"s{len(self.residues)}", integer=True)
            self.residues.append((s, numerator, denominator))
            self.seen[key] = s
        return (numerator - self.seen[key]) / denominator


def terms(expr) -> int:
    """Upper bound on the number of terms of ``sympy.expand(expr)``, computed without expanding."""
    if expr.is_Add:
        return sum(terms(a) for a in expr.args)
    if expr.is_Mul:
        return math.prod(terms(a) for a in expr.args)
    if expr.is_Pow and expr.exp.is_Integer and expr.exp > 0:
        n = terms(expr.base)
        return math.comb(n + int(expr.exp) - 1, int(expr.exp))  # monomials of degree e in n terms
    if isinstance(expr, (sympy.floor, sympy.ceiling)):
        return max(1, terms(expr.args[0]))
    return 1


def decide(difference, variables: list, max_classes: int = MAX_CLASSES) -> Proof:
    """Whether ``difference`` (in integer ``variables``) is 0 at every integer point,
    enumerating at most ``max_classes`` residue classes."""
    try:
        return _decide(difference, list(variables), max_classes)
    except _Unknown as why:
        return Proof("unknown", reason=str(why))


def _decide(difference, variables: list, max_classes: int) -> Proof:
    rewriter = _Rewriter(variables)
    rewritten = rewriter.rewrite(difference)
    if terms(rewritten) > MAX_TERMS:
        raise _Unknown(f"the difference expands to more than {MAX_TERMS:,} terms")
    polynomial = sympy.expand(rewritten)
    residue_symbols = [s for s, _, _ in rewriter.residues]
    if polynomial == 0:
        return Proof("zero")
    if not polynomial.is_polynomial(*variables, *residue_symbols):
        raise _Unknown("the difference is not a polynomial (a division by a variable?)")
    present = [v for v in variables if polynomial.has(v)]
    poly = sympy.Poly(polynomial, *present) if present else None
    coefficients = [c for c in (poly.coeffs() if poly else [polynomial]) if c != 0]
    degrees = {v: poly.degree(v) for v in present} if poly else {}
    if not residue_symbols:
        return Proof("nonzero", degrees=degrees)
    return _enumerate(rewriter, variables, coefficients, degrees, max_classes)


def _enumerate(rewriter, variables, coefficients, degrees, max_classes: int) -> Proof:
    """Evaluate the coefficients at every residue vector that some class of x produces.

    Only the residues the non-zero coefficients use matter, and each variable only
    modulo the denominators of the floors that (directly or through an inner floor)
    contain it, so ⌊H/1000⌋ next to ⌊(H − 31k + 31)/32⌋ costs 1000 classes, not 32000³.
    """
    wanted = set().union(*[c.free_symbols for c in coefficients])
    by_symbol = {s: (n, d) for s, n, d in rewriter.residues}
    for s, numerator, _ in reversed(rewriter.residues):  # outer first: pull in inner residues
        if s in wanted:
            wanted |= {t for t in numerator.free_symbols if t in by_symbol}
    needed = [(s, n, d) for s, n, d in rewriter.residues if s in wanted]
    period: dict = {}  # s -> {variable: period of x_v after which s repeats}
    for s, numerator, denominator in needed:
        own = {v: denominator for v in variables if numerator.has(v)}
        for inner in numerator.free_symbols & set(period):
            for v, p in period[inner].items():
                own[v] = math.lcm(own.get(v, 1), p)
        period[s] = own
    moduli: dict = {}  # variable -> the period after which every needed residue repeats
    for own in period.values():
        for v, p in own.items():
            moduli[v] = math.lcm(moduli.get(v, 1), p)
    under = [v for v in variables if v in moduli]
    total = math.prod(moduli[v] for v in under)
    if total > max_classes:
        shown = " × ".join(f"{moduli[v]:,} ({v} mod {moduli[v]:,})" for v in under)
        raise _Unknown(f"{shown} residue classes exceed the {max_classes:,} this check enumerates")
    symbols = [s for s, _, _ in needed]
    steps = [(compile_exact(n, under + symbols[:i]), d) for i, (_, n, d) in enumerate(needed)]
    checks = [compile_exact(c, symbols) for c in coefficients]
    seen, count = set(), 0
    for point in itertools.product(*[range(1, moduli[v] + 1) for v in under]):
        count += 1
        values: list = []
        for numerator, denominator in steps:
            values.append(int(numerator(*point, *values)) % denominator)
        key = tuple(values)
        if key in seen:
            continue
        seen.add(key)
        if any(check(*values) != 0 for check in checks):
            return Proof("nonzero", {v: (r, moduli[v]) for v, r in zip(under, point)}, degrees, count)
    return Proof("zero", classes=count, moduli=moduli)
