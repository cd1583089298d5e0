"""Closed forms against the numeric engine (which is itself tested against torch)."""

import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

import cnncost
from cnncost import symbolic
from cnncost.conventions import CONVENTIONS, totals

from .strategies import scratch5_configs

SYMBOLS = {name: symbolic.symbol(name) for name in ("h", "w", "m", "k", "n")}
STRUCTURE = ("padding", "org", "bn", "classes")


def _derivation(config, divisible=None):
    return symbolic.derive("scratch5", {key: config[key] for key in STRUCTURE}, divisible)


def _substitute(expr, config):
    return expr.xreplace({SYMBOLS[name]: config[name] for name in SYMBOLS})


@settings(max_examples=60)
@given(scratch5_configs(max_extra=300, max_m=64))
def test_formula_substituted_equals_count(config):
    derivation = _derivation(config)
    numeric = totals(cnncost.count("scratch5", **config))
    for name in CONVENTIONS:
        assert _substitute(derivation.formulas[name], config) == numeric[name], name
        compact = symbolic.finish(derivation.compact[name], symbolic.full_sizes(derivation.sizes))
        assert _substitute(compact, config) == numeric[name], name


@settings(max_examples=40)
@given(scratch5_configs(max_m=64), st.sampled_from([32, 64]), st.integers(1, 12), st.integers(1, 12))
def test_divisible_form_equals_count_on_multiples(config, divisor, a, b):
    # The smallest multiple of the divisor that is still a valid size, plus a few more multiples.
    config = dict(config, h=divisor * (-(-config["h"] // divisor) + a - 1),
                  w=divisor * (-(-config["w"] // divisor) + b - 1))
    derivation = _derivation(config, divisible=divisor)
    numeric = totals(cnncost.count("scratch5", **config))
    for name in ("params", "macs", "mults+adds"):
        assert _substitute(derivation.formulas[name], config) == numeric[name]


def test_same_padding_divisible_by_32_is_the_report_polynomial():
    """001: k²HW(3m + 85m²/256) + mnHW/1024 + 10n, exactly."""
    H, W, m, k, n = (SYMBOLS[s] for s in ("h", "w", "m", "k", "n"))
    macs = symbolic.derive("scratch5", {"padding": "same"}, divisible=32).formulas["macs"]
    expected = k**2 * H * W * (3 * m + sympy.Rational(85, 256) * m**2) + m * n * H * W / 1024 + 10 * n
    assert sympy.expand(macs - expected) == 0
    assert not macs.has(sympy.floor)


def test_valid_padding_conditions_and_dense_size():
    derivation = symbolic.derive("scratch5")
    H, W, k = SYMBOLS["h"], SYMBOLS["w"], SYMBOLS["k"]
    assert derivation.conditions == [sympy.Ge(H, 31 * k + 1), sympy.Ge(W, 31 * k + 1)]
    # P5 = ⌊(H − 31k + 31)/32⌋: the nested floors collapse to one.
    p5 = symbolic.full_sizes(derivation.sizes)[sympy.Symbol("P5", integer=True)]
    assert p5 == sympy.floor((H - 31 * k + 31) / 32)


def test_half_organisation_requires_m_multiple_of_16():
    derivation = symbolic.derive("scratch5", {"org": "half"})
    assert sympy.Eq(sympy.Mod(SYMBOLS["m"], 16), 0) in derivation.conditions


@settings(max_examples=200)
@given(st.integers(-50, 200), st.integers(1, 9), st.integers(1, 9), st.integers(-20, 20))
def test_floor_collapse_is_exact(x, a, b, c):
    """⌊(⌊x/a⌋ + c)/b⌋ rewritten as ⌊(x/a + c)/b⌋ keeps every value."""
    X = sympy.Symbol("X", integer=True)
    C = sympy.Symbol("C", integer=True)
    expr = sympy.floor((sympy.floor(X / a) + C) / b)
    collapsed = symbolic.collapse_floors(expr)
    assert collapsed.xreplace({X: x, C: c}) == expr.xreplace({X: x, C: c})
    assert collapsed.count(sympy.floor) <= 1  # none left when a = b = 1


def test_bound_variables_are_substituted():
    derivation = symbolic.derive("scratch5", {"m": 64, "k": 3, "n": 128, "h": 100, "w": 100})
    assert derivation.formulas["params"] == 159_114
    assert derivation.formulas["mults+adds"] == 233_603_072
    assert derivation.symbols == {}
