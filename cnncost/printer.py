"""Readable text and LaTeX for sympy expressions: k²·(4m² + 3m), ⌊(H − k + 1)/2⌋.

Display only: JSON output uses ``str(expr)``, which sympy parses back.
"""

from __future__ import annotations

import re

import sympy
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.str import StrPrinter

from .expansion import expand
from .term_order import LinearOrder

SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
_SUP = "⁰¹²³⁴⁵⁶⁷⁸⁹"
# Factors written side by side: a number or a single letter (with an exponent) next to a single letter.
_JOIN = re.compile(rf"((?<![A-Za-z0-9_])(?:[0-9]+|[A-Za-z])[{_SUP}]*)·(?=[A-Za-z][{_SUP}]*(?![A-Za-z0-9_]))")


def _factor_rank(factor) -> tuple:
    """Numbers first, then single-letter variables (alphabetical), then the rest (H1, floors, sums)."""
    if factor.is_Number:
        return (0, "")
    base = factor.as_base_exp()[0]
    single = base.is_Symbol and len(base.name) == 1
    return (1 if single else 2, base.name if single else "")


_FLOOR_TEXT: dict = {}  # floor expression -> its text (expressions are immutable)


class TextPrinter(LinearOrder, StrPrinter):
    """StrPrinter with superscript powers, ⌊⌋ floors and ordered products."""

    def _print_Pow(self, expr):
        base, exp = expr.as_base_exp()
        if exp.is_Integer and exp > 1:
            return self.parenthesize(base, PRECEDENCE["Pow"]) + str(exp).translate(SUPERSCRIPT)
        return super()._print_Pow(expr)

    def _print_Mul(self, expr):
        if expr.could_extract_minus_sign():
            return "-" + self.parenthesize(-expr, PRECEDENCE["Mul"], strict=True)
        numer, denom = sympy.fraction(expr)
        factors = sorted(sympy.Mul.make_args(numer), key=_factor_rank)
        s = "*".join(self.parenthesize(f, PRECEDENCE["Mul"]) for f in factors)
        if denom != 1:
            s += "/" + self.parenthesize(denom, PRECEDENCE["Pow"] if denom.is_Mul else PRECEDENCE["Mul"])
        return s

    def _print_floor(self, expr):
        # The same few floors (the named sizes) recur in every term of every quantity;
        # sympy.together is the costly part, so each floor's text is computed once.
        if expr not in _FLOOR_TEXT:
            _FLOOR_TEXT[expr] = "⌊" + self._print(sympy.together(expr.args[0])) + "⌋"
        return _FLOOR_TEXT[expr]

    def _print_ceiling(self, expr):
        return "⌈" + self._print(sympy.together(expr.args[0])) + "⌉"


    def _print_Max(self, expr):
        return "max(" + ", ".join(self._print(a) for a in expr.args) + ")"


class TexPrinter(LinearOrder, LatexPrinter):
    """LaTeX with floors written over one fraction: ⌊(H − k + 1)/2⌋."""

    # sympy passes a power's exponent in ``exp``: ⌊x⌋² must keep its ², never print as ⌊x⌋.
    def _print_floor(self, expr, exp=None):
        return _power(r"\left\lfloor " + self._print(sympy.together(expr.args[0])) + r" \right\rfloor", exp)

    def _print_ceiling(self, expr, exp=None):
        return _power(r"\left\lceil " + self._print(sympy.together(expr.args[0])) + r" \right\rceil", exp)


def _power(tex: str, exp) -> str:
    """``tex`` raised to the LaTeX exponent ``exp`` (None: no power)."""
    return tex if exp is None else f"{tex}^{{{exp}}}"


def text(expr) -> str:
    """Human-readable text of an expression."""
    s = TextPrinter().doprint(expr).replace("*", "·").replace(" - ", " − ")
    s = re.sub(r"(^|[(⌊,] ?)-", r"\1−", s)
    previous = None
    while previous != s:  # joins overlap (k²·m²·n), so repeat until stable
        previous, s = s, _JOIN.sub(r"\1", s)
    return s


class PlainPrinter(LinearOrder, StrPrinter):
    """``str(expr)`` exactly, with sums ordered in linear time (cnncost.term_order)."""


def plain(expr) -> str:
    """``str(expr)``, the text ``sympy.sympify`` parses back, in time linear in the terms."""
    return PlainPrinter().doprint(expr)


def latex(expr) -> str:
    """LaTeX of an expression."""
    return TexPrinter().doprint(expr)


def grouped(expr, coefficient_symbols) -> object:
    """Display form: terms sharing the same structural part are grouped, k²·(4m² + 3m).

    The structural part of a term is what remains after removing numbers and
    ``coefficient_symbols`` (channel-like variables such as m and n).
    """
    groups: dict = {}
    for term in sympy.Add.make_args(expand(expr)):
        factors = sympy.Mul.make_args(term)
        coefficient = [f.is_Number or f.as_base_exp()[0] in coefficient_symbols for f in factors]
        key = sympy.Mul(*[f for f, c in zip(factors, coefficient) if not c])
        # the other factors, multiplied: term / key without a division (a Pow and a product each)
        groups.setdefault(key, []).append(sympy.Mul(*[f for f, c in zip(factors, coefficient) if c]))
    parts = [key * sympy.Add(*terms) if key != 1 else sympy.Add(*terms)
             for key, terms in groups.items()]
    return sympy.Add(*parts)


def relation_text(rel) -> str:
    """Readable text of a validity condition (a settled one may be plain true or false)."""
    if rel in (sympy.true, sympy.false):
        return "always" if rel is sympy.true else "never"
    if isinstance(rel, sympy.Eq) and isinstance(rel.lhs, sympy.Mod):
        return f"{text(rel.lhs.args[0])} is a multiple of {text(rel.lhs.args[1])}"
    symbol = {sympy.GreaterThan: "≥", sympy.LessThan: "≤", sympy.StrictGreaterThan: ">",
              sympy.StrictLessThan: "<", sympy.Equality: "="}.get(type(rel), "?")
    return f"{text(rel.lhs)} {symbol} {text(rel.rhs)}"
