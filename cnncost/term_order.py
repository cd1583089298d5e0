"""sympy's default order of a sum's terms, computed in time linear in the terms.

``Expr.as_ordered_terms`` (what every sympy printer calls for a sum) writes each
term's monomial as a dense exponent vector over *every* base in the sum, so a
sum of n terms in n different sizes (H1·W1 + H2·W2 + ...) costs n² to order:
over a second to print the 1,000-term MACs of a 1,000-layer stack. The same
order is computed here from sparse monomials, term for term identical, so the
printed text does not change.
"""

from __future__ import annotations

from typing import Any

import sympy
from sympy.core.exprtools import decompose_power
from sympy.core.sorting import default_sort_key

_END = (1,)  # past a monomial's last base: sorts after a positive exponent, before a negative one


def ordered_terms(expr) -> list:
    """``expr.as_ordered_terms()`` (default order), without dense exponent vectors."""
    if not expr.is_Add:
        return expr.as_ordered_terms()
    args = sympy.Add.make_args(expr)
    if any(term.is_Order for term in args) or _special_pair(args):
        return expr.as_ordered_terms()  # cases sympy orders otherwise: left to sympy itself
    rows, gens = [], set()
    for term in args:  # what Expr.as_terms records per term, with the monomial kept sparse
        coeff, rest = term.as_coeff_Mul()
        coeff = _complex(coeff)
        cpart, ncpart = {}, []
        if rest is not sympy.S.One:
            for factor in sympy.Mul.make_args(rest):
                if factor.is_number:
                    try:
                        coeff *= complex(factor)
                    except (TypeError, ValueError):
                        pass
                    else:
                        continue
                if factor.is_commutative:
                    base, exp = decompose_power(factor)
                    cpart[base] = exp
                    gens.add(base)
                else:
                    ncpart.append(factor)
        rows.append((term, coeff.real, coeff.imag, cpart, tuple(ncpart)))
    index = {g: i for i, g in enumerate(sorted(gens, key=default_sort_key))}

    def key(row):
        _, re, im, cpart, ncpart = row
        # sympy compares the negated dense vectors lexicographically; the first base where two
        # monomials differ decides, and a base absent from one reads as exponent 0 there.
        # (0, i, v) for v < 0 and (2, -i, v) for v > 0, closed by _END, order exactly so.
        negated = sorted((index[b], -e) for b, e in cpart.items() if e != 0)
        monom = tuple((0, i, v) if v < 0 else (2, -i, v) for i, v in negated) + (_END,)
        return monom, tuple(e.sort_key(order=None) for e in ncpart), ((bool(im), im), (re, im))

    return [row[0] for row in sorted(rows, key=key)]


def _complex(number) -> complex:
    """``complex(number)``: an integer of at most 53 bits converts exactly, without sympy's
    evalf (a third of the ordering's time); anything else goes through sympy, whose
    rounding of a fraction is its own."""
    if number.is_Integer and abs(number.p) < 2 ** 53:
        return complex(int(number.p))
    return complex(number)


def _special_pair(args: tuple) -> bool:
    """The two-term case ``as_ordered_terms`` special-cases (a number and a negative multiple)."""
    return len(args) == 2 and any(a.is_Number for a in args)


class LinearOrder:
    """Printer mixin: sums printed in sympy's default order, ordered in linear time."""

    order: Any  # the printer's order setting, which the class this is mixed into has

    def _as_ordered_terms(self, expr, order=None):
        if (order or self.order) is None:
            return ordered_terms(expr)
        # the printer class this is mixed into has _as_ordered_terms; the mixin alone cannot say so
        return super()._as_ordered_terms(expr, order=order)  # type: ignore[misc]
