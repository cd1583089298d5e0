"""Audit a claimed formula or number against the engine's closed form.

The verdict is exact where sympy can decide it (the expanded difference is 0);
otherwise the difference is evaluated at valid points, smallest first, and the
first point where it is not zero is the counterexample. Explanations match the
difference against named parts of the true count (each layer's weights, biases,
BatchNorm, bias additions, the MACs/FLOPs factor) — never guessed text.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, NamedTuple

import sympy

from .. import symbolic
from ..conventions import CONVENTIONS
from ..errors import CnncostError
from ..render.printer import text
from . import parts as P
from ..exact import compile_exact

SQUARE_SEARCH = 1024  # largest square input size examined for "holds when"


class Audit(NamedTuple):
    """The verdict on one claim."""

    equal: bool
    claimed: Any  # the claim as parsed (bindings substituted)
    true: Any  # the engine's closed form (bindings substituted)
    difference: Any  # claimed − true
    explanation: list  # sentences, each backed by an exact match
    counterexample: dict | None  # {symbol: value, "claimed": v, "true": v}
    holds_when: list  # sentences
    number: dict | None  # for plain-number claims: true value, relative error, matching mistakes


def audit(claim: Any, derivation: symbolic.Derivation, quantity: str, layer: str | None = None,
          tolerance: float = 0.0) -> Audit:
    """Compare ``claim`` (a sympy expression) with the true ``quantity`` of a derivation."""
    if quantity not in CONVENTIONS:
        raise CnncostError(f"--quantity: unknown quantity {quantity!r}; choose from {', '.join(CONVENTIONS)}")
    true = P.true_expression(derivation, quantity, layer)
    if expanded_terms(claim) > MAX_TERMS:
        raise CnncostError(f"claim: expands to more than {MAX_TERMS:,} terms; write it in expanded or factored "
                           "form with smaller powers")
    claim = claim.xreplace(_bound_symbols(derivation))
    unknown = claim.free_symbols - set(_free_symbols(derivation))
    if unknown:
        names = ", ".join(sorted(map(str, unknown)))
        raise CnncostError(f"claim: {names} is bound by an option here; remove the option or the symbol")
    if not claim.free_symbols and true.free_symbols:
        raise CnncostError("claim: a plain number needs every variable bound (give --m, --k, --n, --hw ...)")
    if not claim.free_symbols and not true.free_symbols:
        return _number_audit(claim, derivation, quantity, layer, true, tolerance)
    difference = sympy.expand(claim - true)
    if difference == 0:
        return Audit(True, claim, true, difference, [], None, [], None)
    counterexample = find_counterexample(difference, claim, true, derivation)
    divisor = floors_dropped(claim, true)
    explanation, reference = [], true
    if divisor:
        reference = symbolic.assume_divisible(true, divisor)
        explanation.append(f"the claim drops the floors ⌊·⌋ (exact only when H and W are multiples of {divisor})")
        if sympy.expand(claim - reference) == 0:
            return Audit(False, claim, true, difference, explanation, counterexample,
                         [f"the claim holds when H and W are multiples of {divisor}"], None)
    more, rest = P.explain(sympy.expand(claim - reference), derivation, quantity, layer, claim, reference,
                           divisor)
    explanation += more
    holds = holds_when(difference, derivation, rest)
    equal = counterexample is None
    if equal:
        explanation = ["equal at every valid point examined; sympy could not prove the identity"]
    return Audit(equal, claim, true, difference, explanation, counterexample, holds, None)


MAX_TERMS = 20_000  # an upper bound on the expanded claim; (k+m+n+H+W)^64 would hang expand()


def expanded_terms(expr) -> int:
    """Upper bound on the number of terms of ``sympy.expand(expr)``, computed without expanding."""
    if expr.is_Add:
        return sum(expanded_terms(a) for a in expr.args)
    if expr.is_Mul:
        return math.prod(expanded_terms(a) for a in expr.args)
    if expr.is_Pow and expr.exp.is_Integer and expr.exp > 0:
        n = expanded_terms(expr.base)
        return math.comb(n + int(expr.exp) - 1, int(expr.exp))  # monomials of degree e in n terms
    return 1


def floors_dropped(claim, true) -> int | None:
    """The smallest N in 2, 4, …, 128 that makes the truth floor-free, when the claim has no floors."""
    if not true.has(sympy.floor) or claim.has(sympy.floor):
        return None
    for divisor in (2, 4, 8, 16, 32, 64, 128):
        if not symbolic.assume_divisible(true, divisor).has(sympy.floor):
            return divisor
    return None


def _bound_symbols(derivation) -> dict:
    """Symbols the user bound by options (e.g. --hw 256) -> their values."""
    return {symbolic.symbol(k): v for k, v in derivation.config.items()
            if isinstance(v, int) and not isinstance(v, bool) and k in ("h", "w", "m", "k", "n")}


def _free_symbols(derivation) -> list:
    """The derivation's free design variables, in declaration order."""
    return [sympy.Symbol(s, integer=True, positive=True) for s in derivation.symbols]


def valid_points(derivation, span: int = 64):
    """Valid assignments of the free variables, smallest (by sum, then by name order) first.

    Channel-like variables range over 1…3; H and W independently over their
    smallest valid value + 0…span, which covers every residue of the floors'
    denominators up to ``span`` (⌊(H + 1)/32⌋ ≠ ⌊H/32⌋ only when H ≡ 31 mod 32).
    """
    free = _free_symbols(derivation)
    spatial = [s for s in free if str(s) in ("H", "W")]
    others = [s for s in free if s not in spatial]
    conditions = [compile_exact(c, free) for c in derivation.conditions]
    candidates = []
    for values in itertools.product(range(1, 4), repeat=len(others)):
        point = dict(zip(others, values))
        lows = [_smallest_size(derivation, point, s) for s in spatial]
        for extras in itertools.product(range(span + 1), repeat=len(spatial)):
            candidates.append({**point, **{s: low + e for s, low, e in zip(spatial, lows, extras)}})
    candidates.sort(key=lambda p: (sum(p.values()), [p[s] for s in free]))
    for point in candidates:
        args = [point[s] for s in free]
        if all(check(*args) for check in conditions):
            yield point


def _smallest_size(derivation, point: dict, dimension) -> int:
    """The smallest valid H (or W) for the other variables' values."""
    bounds = [c.rhs.xreplace(point) for c in derivation.conditions
              if isinstance(c, sympy.GreaterThan) and c.lhs == dimension]
    return max([int(b) for b in bounds if b.is_Number] + [1])


def find_counterexample(difference, claim, true, derivation) -> dict | None:
    """The smallest valid assignment where the claim and the truth differ (exact arithmetic)."""
    free = _free_symbols(derivation)
    differs = compile_exact(difference, free)
    for point in valid_points(derivation):
        args = [point[s] for s in free]
        if differs(*args) != 0:
            return {**{str(s): v for s, v in point.items()},
                    "claimed": claim.xreplace(point), "true": true.xreplace(point)}
    return None


def holds_when(difference, derivation, rest) -> list:
    """When the claim holds: an exact condition for a replaced term, and square sizes where it holds."""
    result = []
    if rest is not None:
        claim_only, true_only = P.split_rest(rest)
        if claim_only != 0 and true_only != 0:
            numer, denom = sympy.fraction(sympy.cancel(true_only / claim_only))
            condition = f"{text(numer)} = {text(denom)}"
            if len(condition) <= MAX_CONDITION:  # a long identity says nothing a reader can use
                whole = sympy.expand(rest - difference) == 0
                label = "the claim" if whole else "apart from the parts named above, the claim"
                result.append(f"{label} holds when {condition}")
    free = {str(s): s for s in _free_symbols(derivation)}
    # Only a difference in H and W alone can be scanned cheaply (each point is plain arithmetic).
    if {"H", "W"} <= set(free) and difference.free_symbols <= {free["H"], free["W"]}:
        sizes = _square_sizes(difference, free["H"], free["W"])
        if sizes:
            result.append(f"the claim holds when H = W ∈ {_ranges(sizes)} (checked H = W ≤ {SQUARE_SEARCH})")
    return result


MAX_CONDITION = 160  # characters


def _square_sizes(difference, H, W) -> list:
    """Square sizes at which a difference in H and W alone vanishes."""
    if not difference.has(H):
        return []
    differs = compile_exact(difference, [H, W])
    return [s for s in range(1, SQUARE_SEARCH + 1) if differs(s, s) == 0]


def _ranges(values: list) -> str:
    """{256, …, 287} style summary of sorted integers."""
    runs, start = [], values[0]
    for a, b in zip(values, values[1:] + [None]):
        if b != a + 1:
            runs.append(str(start) if start == a else f"{start}…{a}")
            start = b
    return "{" + ", ".join(runs) + "}"


def _number_audit(claim, derivation, quantity, layer, true, tolerance: float) -> Audit:
    """A plain number against the fully bound truth: error and the mistake that explains it."""
    difference = claim - true
    relative = float(difference / true) if true else None
    mistakes = [label for label, value in P.mistake_candidates(derivation, quantity, layer).items()
                if value == claim]
    number = {"true": int(true), "claimed": claim, "relative_error": relative, "matches": mistakes}
    equal = difference == 0
    explanation = [] if equal else [f"the claimed number equals {m}" for m in mistakes]
    if not equal and relative is not None:
        explanation.insert(0, f"relative error {relative:+.1%}")
    if not equal and relative is not None and abs(relative) <= tolerance:
        equal = True
        explanation.append(f"equal within the stated tolerance ±{tolerance:.1%} (a rounded figure)")
    return Audit(equal, claim, true, difference, explanation, None, [], number)
