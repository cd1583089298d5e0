"""Readable text of formulas."""

import sympy

from cnncost.printer import grouped, relation_text, text
from cnncost.symbolic import symbol

H, W, m, k, n = (symbol(s) for s in ("h", "w", "m", "k", "n"))


def test_superscripts_and_juxtaposition():
    assert text(4 * k**2 * m**2 + 3 * k**2 * m + 5 * m) == "4k²m² + 3k²m + 5m"


def test_multi_letter_names_keep_their_dots():
    P5, Q5 = sympy.symbols("P5 Q5", integer=True)
    assert text(m * n * P5 * Q5) == "mn·P5·Q5"


def test_floor_printed_over_one_denominator():
    assert text(sympy.floor((H - 31 * k + 31) / 32)) == "⌊(H − 31k + 31)/32⌋"


def test_grouping_by_structure():
    expr = sympy.Rational(85, 256) * H * W * k**2 * m**2 + 3 * H * W * k**2 * m + H * W * m * n / 1024 + 10 * n
    assert text(grouped(expr, {m, n})) == "HWk²·(85m²/256 + 3m) + HWmn/1024 + 10n"
    assert sympy.expand(grouped(expr, {m, n}) - expr) == 0


def test_relations():
    assert relation_text(sympy.Ge(H, 31 * k + 1)) == "H ≥ 31k + 1"
    assert relation_text(sympy.Eq(sympy.Mod(m, 16), 0)) == "m is a multiple of 16"
