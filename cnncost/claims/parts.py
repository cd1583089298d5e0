"""Named parts of a true count, used to explain a claim's difference exactly.

A part is (label, expression): a layer's weights, its bias, its BatchNorm
parameters or statistics, its bias additions, a whole layer, or a group of
those across layers ("conv1…conv5 bias"). The difference claimed − true is
explained by parts whose terms it contains with opposite sign (missing) or the
same sign (counted twice / in excess) — exact term matching, no guessing.
"""

from __future__ import annotations

import sympy

from .. import symbolic
from ..conventions import CONVENTIONS, QUANTITIES
from ..printer import text

COMPUTE = ("Conv2d", "Linear")


def _rows(derivation, divisor: int | None = None) -> list:
    """Inference rows with every named size replaced by its closed form (H, W multiples of divisor)."""
    full = symbolic.full_sizes(derivation.sizes)

    def closed(expr):
        expr = symbolic.as_expr(expr).xreplace(full)
        return symbolic.assume_divisible(expr, divisor) if divisor else expr

    return [(row, {q: closed(getattr(row, q)) for q in QUANTITIES}, closed(row.output_shape[0]),
             sympy.Mul(*[closed(d) for d in row.output_shape]))
            for row in derivation.table.layers if not row.auxiliary]


def row_total(values: dict, quantity: str):
    """One row's value of a convention (its totals function applied to that row alone)."""
    return CONVENTIONS[quantity].total(values)


def true_expression(derivation, quantity: str, layer: str | None):
    """The engine's closed form of ``quantity`` for the network or one layer."""
    from ..arch import ParameterError

    if layer is None:
        return derivation.formulas[quantity]
    for row, values, _, _ in _rows(derivation):
        if row.name == layer:
            return row_total(values, quantity)
    names = ", ".join(r.name for r in derivation.table.layers)
    raise ParameterError("layer", f"no layer {layer!r} (layers: {names})")


def named_parts(derivation, quantity: str, layer: str | None, divisor: int | None = None) -> tuple:
    """(primary, secondary) candidate parts.

    Primary: the whole-network factor, groups across layers ("conv1…conv5 bias")
    and single biases/BatchNorm — the usual omissions. Secondary: weights and
    whole layers, tried only when the difference is not a replaced term.
    """
    singles: list = []
    kinds: dict = {}  # (row type, part kind) -> [(row name, expression)]
    for row, values, channels, outputs in _rows(derivation, divisor):
        if layer is not None and row.name != layer:
            continue
        for kind, expr in _row_parts(row, values, channels, outputs, quantity):
            if expr != 0:
                singles.append((f"{row.name} {kind}", expr, kind in SECONDARY))
                kinds.setdefault((row.type, kind), []).append((row.name, expr))
    groups = [(f"{_span([n for n, _ in items])} {kind}", sympy.Add(*[e for _, e in items]))
              for (_, kind), items in kinds.items() if len(items) > 1 and kind not in SECONDARY]
    whole = _whole_network_parts(derivation, quantity, divisor) if layer is None else []
    primary = whole + groups + [(label, e) for label, e, secondary in singles if not secondary]
    return primary, [(label, e) for label, e, secondary in singles if secondary]


SECONDARY = ("weights", "(whole layer)")


def _row_parts(row, values, channels, outputs, quantity: str) -> list:
    """(kind, expression) parts of one row for one quantity."""
    bias = row.type in COMPUTE and row.params != 0 and _has_bias(row, values, channels)
    parts = [("(whole layer)", row_total(values, quantity))]
    if quantity in ("params", "keras"):
        if bias:
            parts += [("bias", channels), ("weights", values["params"] - channels)]
        if row.type.startswith("BatchNorm"):
            parts.append(("BatchNorm γ, β", values["params"]))
    if quantity in ("keras", "buffers") and row.type.startswith("BatchNorm"):
        parts.append(("BatchNorm running statistics", values["buffers"]))
    if quantity in ("keras", "buffers") and row.type == "Normalization":
        parts.append(("Normalization mean, variance and count", values["buffers"]))
    if quantity in ("adds", "mults+adds") and bias:
        parts += [("bias additions", outputs), ("'−1 per output' of the sums", -outputs)]
    return parts


def _has_bias(row, values, channels) -> bool:
    """A conv/linear row has a bias when adds == macs (per output: terms − 1 + 1)."""
    return sympy.expand(values["adds"] - values["macs"]) == 0


def _whole_network_parts(derivation, quantity: str, divisor: int | None) -> list:
    macs = derivation.formulas["macs"]
    macs = symbolic.assume_divisible(macs, divisor) if divisor else macs
    if quantity in ("macs", "mults"):
        return [("MACs counted twice (FLOPs = 2 × MACs, a MACs/FLOPs mix-up)", macs)]
    if quantity == "flops":
        return [("the factor 2 of FLOPs = 2 × MACs (a MACs/FLOPs mix-up)", macs)]
    return []


def _span(names: list) -> str:
    return f"{names[0]}…{names[-1]}" if len(names) > 2 else ", ".join(names)


def explain(difference, derivation, quantity: str, layer: str | None, claim=None, true=None,
            divisor: int | None = None) -> tuple:
    """(sentences, unexplained rest) for a nonzero difference claimed − true.

    With ``divisor``, parts are taken with H and W multiples of it (floors exact).
    """
    primary, secondary = named_parts(derivation, quantity, layer, divisor)
    sentences, rest = _match(sympy.expand(difference), primary)
    if rest != 0:
        replaced = _replaced(rest, derivation, layer, claim, true, divisor)
        if replaced:
            return sentences + [replaced], rest
        more, rest = _match(rest, secondary)
        sentences += more
    if rest != 0:
        shown = text(rest)
        terms = len(sympy.Add.make_args(rest))
        sentences.append(f"unexplained difference: {shown}" if len(shown) <= 300 else
                         f"unexplained difference of {terms} terms (see the difference above)")
    return sentences, (rest if rest != 0 else None)


def _match(rest, parts: list) -> tuple:
    """Remove every part the difference contains exactly (missing or in excess)."""
    sentences = []
    for label, expr in parts:
        if rest == 0:
            break
        for sign, verb in ((-1, "missing"), (1, "counted in excess")):
            if _contains(rest, sign * sympy.expand(expr)):
                sentences.append(f"{label}: {text(expr)} {verb}")
                rest = sympy.expand(rest - sign * expr)
                break
    return sentences, rest


def split_rest(rest) -> tuple:
    """(terms only the claim has, terms only the truth has) of a difference."""
    terms = sympy.Add.make_args(rest)
    claim_only = sympy.Add(*[t for t in terms if t.as_coeff_Mul()[0] > 0])
    true_only = -sympy.Add(*[t for t in terms if t.as_coeff_Mul()[0] < 0])
    return claim_only, true_only


def _contains(total, part) -> bool:
    """Every term of ``part`` occurs in ``total`` with the same coefficient."""
    have = total.as_coefficients_dict()
    want = part.as_coefficients_dict()
    return bool(want) and all(have.get(term) == coeff for term, coeff in want.items())


def _replaced(rest, derivation, layer, claim, true, divisor) -> str | None:
    """'fc1: the claim has 64mn where the true count has mn·⌊H/32⌋·⌊W/32⌋', if one layer explains it.

    Compares the claim's and the truth's coefficients of every monomial the difference involves.
    """
    if claim is None or true is None:
        return None
    claimed, exact = sympy.expand(claim).as_coefficients_dict(), sympy.expand(true).as_coefficients_dict()
    monomials = list(sympy.expand(rest).as_coefficients_dict())
    claim_terms = sympy.Add(*[claimed.get(t, 0) * t for t in monomials])
    true_terms = sympy.Add(*[exact.get(t, 0) * t for t in monomials])
    if true_terms == 0:
        return None
    for row, values, _, _ in _rows(derivation, divisor):
        if layer is not None and row.name != layer:
            continue
        if any(_contains(sympy.expand(v), true_terms) for v in values.values()):
            return (f"{row.name}: the claim has {text(claim_terms) if claim_terms != 0 else '0'} where the "
                    f"true count has {text(true_terms)}")
    return None


def mistake_candidates(derivation, quantity: str, layer: str | None) -> dict:
    """Numbers that common convention mistakes produce for a fully bound derivation."""
    rows = _rows(derivation)
    if layer is not None:
        rows = [r for r in rows if r[0].name == layer]
    sums = {q: sum((values[q] for _, values, _, _ in rows), sympy.Integer(0)) for q in QUANTITIES}
    found = {f"the {name} convention" : c.total(sums) for name, c in CONVENTIONS.items() if name != quantity}
    biases = sum((ch for row, values, ch, _ in rows if row.type in COMPUTE and _has_bias(row, values, ch)),
                 sympy.Integer(0))
    bias_adds = sum((out for row, values, ch, out in rows if row.type in COMPUTE and _has_bias(row, values, ch)),
                    sympy.Integer(0))
    found["parameters without the biases"] = sums["params"] - biases
    found["MACs plus the bias additions"] = sums["macs"] + bias_adds
    found["additions without the bias additions"] = sums["adds"] - bias_adds
    return found
