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
from ..arch import ParameterError
from ..conventions import CONVENTIONS, check_quantity
from ..errors import CnncostError
from ..printer import text
from . import parts as P
from ..exact import compile_exact
from .. import proof

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
    verdict: str = "equal"  # EQUAL, NOT_EQUAL or NOT_PROVEN; ``equal`` is verdict == EQUAL


EQUAL, NOT_EQUAL, NOT_PROVEN = "equal", "not equal", "not proven"
IDENTICAL = "proved: claimed − true expands to 0"


def audit(claim: Any, derivation: symbolic.Derivation, quantity: str, layer: str | None = None,
          tolerance: float = 0.0, rounding: float = 0.0) -> Audit:
    """Compare ``claim`` (a sympy expression) with the true ``quantity`` of a derivation.

    The verdict is EQUAL only when proved (see :mod:`.proof`), NOT EQUAL only with a verified
    counterexample, else NOT PROVEN. ``tolerance`` accepts a plain number within that relative
    error; ``rounding`` is the written figure's own precision (1.8 × 10⁹: ±0.05/1.8), used to
    name a nearby convention's value as the likely mix-up.
    """
    if quantity not in CONVENTIONS and quantity not in derivation.formulas:
        check_quantity(quantity)  # an unknown name; else a training-step quantity the derivation lacks
        raise ParameterError("quantity", f"{quantity} is not in this derivation; symbolic.add_step_quantities "
                                         "adds it")
    true = P.true_expression(derivation, quantity, layer)
    if expanded_terms(claim) > MAX_TERMS:
        raise CnncostError(f"claim: expands to more than {MAX_TERMS:,} terms; write it in expanded or factored "
                           "form with smaller powers")
    if not (0.0 <= tolerance <= 1.0):  # written so that nan fails too
        raise ParameterError("tolerance", f"must be a number from 0 to 1 (a relative error), not {tolerance}")
    plain_number = not claim.free_symbols
    # Bound values are sympy Integers: xreplace of a bare symbol returns the value itself.
    claim = claim.xreplace(_bound_symbols(derivation))
    unknown = claim.free_symbols - set(_free_symbols(derivation))
    if unknown:
        names = ", ".join(sorted(map(str, unknown)))
        raise CnncostError(f"claim: {names} is not a variable of this derivation; remove it from the claim")
    if plain_number and true.free_symbols:
        raise CnncostError("claim: a plain number needs every variable bound (give --m, --k, --n, --hw ...)")
    if not claim.free_symbols and not true.free_symbols:
        return _number_audit(claim, derivation, quantity, layer, true, tolerance, rounding)
    difference = sympy.expand(claim - true)
    if difference == 0:  # identical polynomials in the variables and the floors as written
        return Audit(True, claim, true, difference, [IDENTICAL], None, [], None, EQUAL)
    decided, fixed, proved = _prove(claim - true, derivation)
    if decided.status == "zero":
        return Audit(True, claim, true, difference, [proved], None, [], None, EQUAL)
    counterexample, checked = find_counterexample(claim - true, claim, true, derivation, decided, fixed)
    if counterexample is None:  # no proof either way: say what was examined, never EQUAL
        why = decided.reason if decided.status == "unknown" else "the difference is not 0 as a polynomial"
        return Audit(False, claim, true, difference,
                     [f"not proven: {why}; no counterexample among {checked}"], None, [], None, NOT_PROVEN)
    if expanded_terms(claim) > EXPLAIN_TERMS:  # matching parts term by term would take minutes
        terms = len(sympy.Add.make_args(difference))
        return Audit(False, claim, true, difference, [f"a difference of {terms:,} terms (too large to explain "
                                                      f"term by term)"], counterexample, [], None, NOT_EQUAL)
    if quantity not in CONVENTIONS:  # a training-step quantity: no per-layer parts to name the difference by
        return Audit(False, claim, true, difference, [], counterexample, [], None, NOT_EQUAL)
    divisor = floors_dropped(claim, true)
    explanation, reference = [], true
    if divisor:
        reference = symbolic.assume_divisible(true, divisor)
        explanation.append(f"the claim drops the floors ⌊·⌋ (exact only when H and W are multiples of {divisor})")
        if sympy.expand(claim - reference) == 0:
            return Audit(False, claim, true, difference, explanation, counterexample,
                         [f"the claim holds when H and W are multiples of {divisor}"], None, NOT_EQUAL)
    more, rest = P.explain(sympy.expand(claim - reference), derivation, quantity, layer, claim, reference,
                           divisor)
    explanation += more
    holds = holds_when(difference, derivation, rest)
    return Audit(False, claim, true, difference, explanation, counterexample, holds, None, NOT_EQUAL)


MAX_CASES = 64  # assignments of the variables the validity conditions bound above (k ≤ 3 at H = 100)


def _prove(difference, derivation) -> tuple:
    """(proof, fixed values of its witness case, the sentence saying how it was proved).

    First for all integers; failing that, and where the validity conditions leave some
    variables finitely many values (H = 100 needs k ≤ 3), for each of those values, since
    the claim only has to hold where the network is valid.
    """
    free = _free_symbols(derivation)
    decided = proof.decide(difference, free)
    if decided.status == "zero":
        return decided, {}, _proved(decided)
    ranges = _finite_ranges(derivation)
    if not ranges or math.prod(len(v) for v in ranges.values()) > MAX_CASES:
        return decided, {}, ""
    cases = math.prod(len(v) for v in ranges.values())
    for values in itertools.product(*ranges.values()):
        fixed = dict(zip(ranges, values))  # the cases share one budget of residue classes
        case = proof.decide(difference.xreplace(fixed), [s for s in free if s not in fixed],
                            proof.MAX_CLASSES // cases)
        if case.status != "zero":
            return case, fixed, ""
    spans = ", ".join(f"{s} ∈ {_ranges(v)}" for s, v in ranges.items())
    return proof.Proof("zero"), {}, f"proved for each valid {spans} (the validity conditions bound it)"


INEQUALITIES = (sympy.GreaterThan, sympy.StrictGreaterThan, sympy.LessThan, sympy.StrictLessThan)


def _finite_ranges(derivation) -> dict:
    """{variable: [1, …, upper]} for variables a validity condition bounds above on its own."""
    upper: dict = {}
    for condition in derivation.conditions:
        # Only inequalities bound a variable; a divisibility condition (Eq(Mod(r, 2), 0)) has no side.
        if not isinstance(condition, INEQUALITIES) or len(condition.free_symbols) != 1:
            continue
        (variable,) = condition.free_symbols
        poly = sympy.expand(condition.gts - condition.lts).as_poly(variable)  # ≥ 0 (> 0 if strict)
        if poly is None or poly.degree() != 1:
            continue
        a, b = poly.all_coeffs()
        if a < 0:  # a·v + b ≥ 0 with a < 0: v ≤ b / −a
            bound = sympy.floor(b / -a)
            if isinstance(condition, (sympy.StrictGreaterThan, sympy.StrictLessThan)):
                bound = sympy.ceiling(b / -a) - 1
            upper[variable] = min(upper.get(variable, bound), bound)
    return {v: list(range(1, int(u) + 1)) for v, u in upper.items() if u >= 1}


def _proved(decided) -> str:
    """The sentence saying how the identity was proved."""
    if not decided.moduli:
        return "proved: equal as polynomials once each floor ⌊N/D⌋ is written as (N − (N mod D))/D"
    classes = ", ".join(f"{v} mod {m}" for v, m in decided.moduli.items())
    return f"proved on all {decided.classes:,} residue classes ({classes}) of the floors' denominators"


# An upper bound on the expanded claim, inside floors too: (k+m+n+H+W)^64 would hang expand(), and
# every point searched costs a pass over the terms. The zoo's own formulas bound at ≤ 119.
MAX_TERMS = 1_000
EXPLAIN_TERMS = 200  # larger claims get a verdict and a counterexample, not an explanation
SEARCH_WORK = 1_000_000  # points × operations evaluated by one source of a counterexample search


def expanded_terms(expr) -> int:
    """Upper bound on the number of terms of ``sympy.expand(expr)``, computed without expanding
    (expand also works inside floors, so a floor counts as its argument)."""
    return proof.terms(expr)


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
    return {symbolic.symbol(k): sympy.Integer(v) for k, v in derivation.config.items()
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


MAX_BOX = 20_000  # points of the (degree + 1)-per-variable grid inside a witness class


def find_counterexample(difference, claim, true, derivation, decided=None, fixed=None) -> tuple:
    """(the smallest valid assignment found where claim and truth differ, or None; what was checked).

    Three sources of points, all checked with exact arithmetic: the small points of
    :func:`valid_points`; with a 'nonzero' proof, a grid of degree + 1 values per variable
    inside the witness residue class (a non-zero polynomial cannot vanish on all of it);
    and values on both sides of each floor's denominator (⌊H/1000⌋ first moves at 1000).
    """
    free = _free_symbols(derivation)
    differs = compile_exact(difference, free)
    conditions = [compile_exact(c, free) for c in derivation.conditions]
    tried: list = []
    sources = [valid_points(derivation, span=32)]
    if decided is not None and decided.status == "nonzero":
        sources.append(_witness_grid(derivation, decided, fixed or {}))
    sources.append(_threshold_points(difference, derivation))
    most = max(1_000, SEARCH_WORK // max(1, sympy.count_ops(difference)))  # points per source
    for number, points in enumerate(sources):
        found = None
        for point in itertools.islice(points, most):
            args = [point[s] for s in free]
            if not all(check(*args) for check in conditions):
                continue
            tried.append(args)
            try:
                value = differs(*args)
            except ZeroDivisionError:
                continue  # the claim is undefined here; not a counterexample to report
            if value != 0 and (found is None or sum(args) < sum(found.values())):
                found = dict(zip(free, args))
                if number == 0:
                    break  # the small points come smallest first; the others are searched whole
        if found is not None:  # channel-like variables first, then H and W, as people write them
            order = sorted(found, key=lambda s: str(s) in ("H", "W"))
            return ({**{str(s): found[s] for s in order},
                     "claimed": claim.xreplace(found), "true": true.xreplace(found)}, _summary(tried, free))
    return None, _summary(tried, free)


def _summary(tried: list, free: list) -> str:
    """'1,234 valid points with m 1…4, H 94…1,000' — what a search examined."""
    if not tried:
        return "0 valid points (none of the points tried is valid)"
    spans = []
    for i, s in enumerate(free):
        values = [t[i] for t in tried]
        low, high = min(values), max(values)
        spans.append(f"{s} = {low:,}" if low == high else f"{s} {low:,}…{high:,}")
    return f"{len(tried):,} valid points with {', '.join(spans)}"


def _witness_grid(derivation, decided, fixed: dict):
    """Points x = r + M·q, q = 0…degree, inside the class where the difference is not 0
    (variables in ``fixed`` keep their value: the proof's witness case)."""
    free = _free_symbols(derivation)
    spatial = [s for s in free if str(s) in ("H", "W")]
    others = [s for s in free if s not in spatial]

    def values(s, start=1):
        if s in fixed:
            return [fixed[s]]
        residue, modulus = decided.residues.get(s, (None, 1))
        if residue is not None:
            start = start + (residue - start) % modulus
        return [start + modulus * q for q in range(decided.degrees.get(s, 0) + 1)]

    if math.prod(decided.degrees.get(s, 0) + 1 for s in free) > MAX_BOX:
        return
    channel_grid = list(itertools.product(*[values(s) for s in others]))
    # One lower bound for H (and W) that is valid for every point of the grid keeps it a product.
    lows = {s: max(_smallest_size(derivation, dict(zip(others, p)), s) for p in channel_grid)
            for s in spatial}
    spatial_grid = list(itertools.product(*[values(s, lows[s]) for s in spatial]))
    for p in channel_grid:
        for q in spatial_grid:
            yield {**dict(zip(others, p)), **dict(zip(spatial, q))}


def _threshold_points(difference, derivation):
    """The smallest valid point with one variable moved to j·D − 1, j·D, j·D + 1 for each floor's D."""
    free = _free_symbols(derivation)
    denominators = set()
    for f in difference.atoms(sympy.floor, sympy.ceiling):
        _, denominator = sympy.fraction(sympy.together(f.args[0]))
        if denominator.is_Integer and 1 < denominator <= 10**60:
            denominators.add(int(denominator))
    base = next(iter(valid_points(derivation, span=0)), None)
    if base is None:
        return
    for s in free:
        for d in sorted(denominators):
            for value in (j * d + e for j in (1, 2, 3) for e in (-1, 0, 1)):
                if value >= 1:
                    yield {**base, s: value}


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


def _number_audit(claim, derivation, quantity, layer, true, tolerance: float, rounding: float) -> Audit:
    """A plain number against the fully bound truth: error and the mistake that explains it.

    A convention's value the claim equals, or lies within the tolerance or the written
    figure's rounding of (and that the truth does not), is named as the likely mix-up.
    """
    difference = claim - true
    relative = float(difference / true) if true else None
    window = max(tolerance, rounding)
    matches, explanation, near = [], [], []
    for label, value in P.mistake_candidates(derivation, quantity, layer).items():
        if value == claim:
            matches.append(label)
            explanation.append(f"the claimed number equals {label}")
        elif (window and value and abs(claim - value) <= window * abs(value)
              and abs(value - true) > window * abs(true)):
            near.append((abs(claim - value) / abs(value), label, value))
    if near and not matches:  # one only, conventions first: several differ by a bias or two
        _, label, value = near[0]
        matches.append(label)
        explanation.append(f"the claimed number is within ±{percent(window)} of {label} ({int(value):,}), "
                           f"the likely mix-up")
    number = {"true": int(true), "claimed": claim, "relative_error": relative, "matches": matches}
    if difference == 0:
        return Audit(True, claim, true, difference, [], None, [], number, EQUAL)
    if relative is not None and abs(relative) <= tolerance:
        return Audit(True, claim, true, difference,
                     [f"equal within the stated tolerance ±{tolerance:.1%} (a rounded figure)"], None, [], number,
                     EQUAL)
    if relative is not None and abs(relative) <= rounding:
        needed = math.ceil(abs(relative) * 1000) / 1000
        explanation.append(f"within the rounding of the written figure (±{percent(rounding)}): "
                           f"--tolerance {needed:g} accepts it as a rounded figure")
    return Audit(False, claim, true, difference, explanation, None, [], number, NOT_EQUAL)


def percent(x: float) -> str:
    """2.8%, 0.19%, 0.0021% — enough digits that a small relative error does not print as 0.0%."""
    return f"{x:.1%}" if x >= 0.01 else f"{x * 100:.2g}%"
