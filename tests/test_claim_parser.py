"""The claim parser: human-written formulas in, sympy out; hostile text rejected fast."""

import ast
import builtins
import importlib
import inspect
import random
import sys
import time

import pytest
import sympy
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from cnncost.claims import parser
from cnncost.claims.parser import parse_claim
from cnncost.errors import CnncostError

m, k, n, H, W = SYMS = sympy.symbols("m k n H W")
NAMES = {str(s): s for s in SYMS}
SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def parse(text, symbols=NAMES):
    return parse_claim(text, symbols)


def same(a, b):
    return sympy.expand(a - b) == 0


# --- random expression trees, printed in human styles -------------------------------

SYMBOL_LEAVES = st.sampled_from(list(NAMES)).map(lambda s: ("sym", s))
LEAVES = st.one_of(SYMBOL_LEAVES, st.integers(0, 30).map(lambda v: ("int", v)), SYMBOL_LEAVES)
TREES = st.recursive(LEAVES, lambda kids: st.one_of(
    st.tuples(st.sampled_from(["add", "sub", "mul", "mul", "div"]), kids, kids),
    st.tuples(st.just("pow"), kids, st.integers(0, 3)),
    st.tuples(st.sampled_from(["neg", "floor"]), kids)), max_leaves=12)
STYLES = st.fixed_dictionaries({
    "mul": st.sampled_from(["*", "×", "·", "⋅"]), "pow": st.sampled_from(["^", "**"]),
    "minus": st.sampled_from(["-", "−", "–"]), "div": st.sampled_from(["/", "÷"]),
    "implicit": st.booleans(), "superscripts": st.booleans(),
    "floor": st.sampled_from(["floor(%s)", "⌊%s⌋", "floor[%s]"]),
    "brackets": st.sampled_from(["()", "[]"]), "seed": st.integers(0, 2**32)})
ADD, MUL, NEG, POW, ATOM = range(1, 6)


def expected(tree):
    """The tree as sympy, built with ordinary sympy arithmetic."""
    kind, *args = tree
    if kind == "sym":
        return NAMES[args[0]]
    if kind == "int":
        return sympy.Integer(args[0])
    if kind in ("neg", "floor"):
        inner = expected(args[0])
        return -inner if kind == "neg" else sympy.floor(inner)
    a = expected(args[0])
    if kind == "pow":
        return a ** args[1]
    b = expected(args[1])
    if kind == "div":
        assume(b != 0)  # the parser rejects it, as it should
        return a / b
    return {"add": a + b, "sub": a - b, "mul": a * b}[kind]


class Printer:
    """Prints a tree with minimal brackets (plus random extra ones) in one style."""

    def __init__(self, style):
        self.style, self.rng = style, random.Random(style["seed"])

    def space(self):
        return self.rng.choice(["", " ", "  "])

    def wrap(self, text, prec, need):
        if prec < need or self.rng.random() < 0.1:
            return self.style["brackets"][0] + self.space() + text + self.space() + \
                self.style["brackets"][1], ATOM
        return text, prec

    def sub(self, tree, need):
        return self.wrap(*self.show(tree), need)[0]

    def show(self, tree):
        kind, *args = tree
        s, sp = self.style, self.space
        if kind in ("sym", "int"):
            return str(args[0]), ATOM
        if kind == "floor":
            return s["floor"] % self.sub(args[0], 0), ATOM
        if kind == "neg":
            return s["minus"] + sp() + self.sub(args[0], NEG), NEG
        if kind == "pow":
            base = self.sub(args[0], ATOM)
            if s["superscripts"] and self.rng.random() < 0.7:
                return base + str(args[1]).translate(SUPERSCRIPT), POW
            return base + sp() + s["pow"] + sp() + str(args[1]), POW
        left = self.sub(args[0], ADD if kind in ("add", "sub") else MUL)
        if kind in ("add", "sub"):
            right = self.sub(args[1], ADD + (kind == "sub"))
            return left + sp() + ("+" if kind == "add" else s["minus"]) + sp() + right, ADD
        right = self.sub(args[1], MUL + (kind == "div"))
        if kind == "mul" and s["implicit"] and (right[0].isalpha() or right[0] in "([⌊"):
            return left + self.rng.choice(["", " "]) + right, MUL  # juxtaposition: 2mk, k²(m+1)
        return left + sp() + (s["mul"] if kind == "mul" else s["div"]) + sp() + right, MUL


def agree_at_points(parsed, want, trials=5):
    """Compare at random integer points (floors do not expand symbolically)."""
    rng = random.Random(0)
    for _ in range(trials):
        point = {sym: sympy.Integer(rng.randint(-9, 9)) for sym in SYMS}
        value = want.subs(point)
        if value.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
            continue
        assert parsed.subs(point) == value


@settings(max_examples=300)
@given(tree=TREES, style=STYLES)
def test_printed_trees_parse_back(tree, style):
    want = expected(tree)
    text = Printer(style).show(tree)[0]
    parsed = parse(text)
    if want.has(sympy.floor):
        agree_at_points(parsed, want)
    else:
        assert same(parsed, want) or sympy.cancel(parsed - want) == 0, text


# --- the formulas from the seed report ------------------------------------------------

@pytest.mark.parametrize("text, want", [
    ("k*k*3*m + (k*k*m*m)*4 + (8*8*m*n+n) + (10*n+10)",
     3 * k**2 * m + 4 * k**2 * m**2 + 64 * m * n + n + 10 * n + 10),
    ("m*k^2*3 + m", 3 * m * k**2 + m),
    ("2mk^2 + m", 2 * m * k**2 + m),
    ("3k^2HW", 3 * k**2 * H * W),
    ("k²HW(3m + 85m²/256) + n(64m + 10)",
     k**2 * H * W * (3 * m + sympy.Rational(85, 256) * m**2) + n * (64 * m + 10)),
    ("233,603,072", 233_603_072), ("1,47,200", 147_200), ("159_114", 159_114),
    ("0.5k + 1.25", k / 2 + sympy.Rational(5, 4)),
    ("H/2W", H * W / 2), ("-k^2", -k**2), ("2**2**3", 256), ("k^2^3", k**8), ("k^(2)", k**2),
    ("H¹⁰ m³", H**10 * m**3), ("2²", 4), ("(m+1)(n+1)", (m + 1) * (n + 1)),
    ("2(k+1)", 2 * k + 2), ("m[k − 1] – 3 ÷ 4", m * (k - 1) - sympy.Rational(3, 4)),
    ("⌊H/2⌋ + ceil(W/3) + ceiling[k/2] + ⌈m/2⌉ + floor(n/4)",
     sympy.floor(H / 2) + sympy.ceiling(W / 3) + sympy.ceiling(k / 2) + sympy.ceiling(m / 2)
     + sympy.floor(n / 4)),
    ("--k", k), ("2*-k", -2 * k), ("k ⋅ m · n × H", k * m * n * H),
    ("\tk\n+\u00a0m ", k + m),
])
def test_seed_formulas(text, want):
    got = parse(text)
    rounded = got.has(sympy.floor, sympy.ceiling)  # these do not expand: compare structurally
    assert sympy.simplify(got - want) == 0 if rounded else same(got, want)


def test_long_names_and_function_names():
    classes, c, e, i, l, g = sympy.symbols("classes c e i l g")
    symbols = {"classes": classes, "c": c, "e": e, "i": i, "l": l, "n": n, "g": g}
    assert same(parse("2classes n", symbols), 2 * classes * n)
    assert same(parse("ceil(n/2)", symbols), sympy.ceiling(n / 2))  # not c·e·i·l
    assert same(parse("cei", symbols), c * e * i)
    assert same(parse("ceiling(n/2)g", symbols), sympy.ceiling(n / 2) * g)
    ab, abc, cd = sympy.symbols("ab abc cd")
    assert same(parse("abcd", {"ab": ab, "abc": abc, "cd": cd}), ab * cd)  # backtracks


# --- hostile input --------------------------------------------------------------------

HOSTILE = [
    "__import__('os').system('x')", "k.__class__", "lambda: 1", "().__class__", "9^9^9^9^9",
    "9^9^9", "'a'", "1e100000", "(" * 5000, "(" * 101 + "k" + ")" * 101, "k" * 100_000,
    "2^k", "k^(1/2)", "9^99999", "2**2**2**2**2", "((10^60)^64)^64", "1" * 61, "k=3", "k<3",
    "k;k", "k:k", "k@k", "k!", "k%2", "k&k", "k|k", "~k", "k\\k", "import os", "x", "f(k)",
    "", "   ", "(k", "k)", "[k)", "k+", "k*", "k^", "k/0", "k/(m-m)", "1,", ",1", "1,,2", "1_",
    "k,m", "k 2", "233 603 072", "floor k", "floor()", "⌊k", "k⌋", "k²⁻¹", "1.", ".5",
    "k^-1",
    "k" + "^2" * 900, "k" + "^(" * 500 + "2" + ")" * 500, "⌊" * 99 + "k" + "*0.5+0.25⌋" * 99,
    "ceil(" * 40 + "k" + ")" * 40, "k" * 1001, "(k+m+n+H+W)^64^2", "$k", "k\x00",
    "k\u200bm", "·k",
]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_input_fails_fast_with_a_column(text):
    # This process's CPU time (here and below): a bound on the parser's work, not on what else the machine
    # runs meanwhile (pytest-xdist's other worker, a loaded CI machine).
    start = time.process_time()
    with pytest.raises(CnncostError) as info:
        parse(text)
    assert time.process_time() - start < 0.2
    message = str(info.value)
    assert message.startswith("claim: ") and " at column " in message
    assert "\n" not in message and len(message) < 400


@pytest.mark.parametrize("text, message", [
    ("k*k.__class__", "claim: unexpected '.' at column 4 in \"k*k.__class__\""),
    ("x", "claim: unknown name 'x' at column 1 (allowed: m, k, n, H, W) in \"x\""),
    ("2mkx", "claim: unknown name 'x' at column 4 (allowed: m, k, n, H, W) in \"2mkx\""),
    ("k + (m", "claim: unclosed '(' at column 5 in \"k + (m\""),
    ("k + m)", "claim: unexpected ')' at column 6 in \"k + m)\""),
    ("k*m +", "claim: unexpected end of formula at column 6 in \"k*m +\""),
    ("2^k", "claim: exponent must be a non-negative integer literal at column 3 in \"2^k\""),
    ("m/0", "claim: division by zero at column 2 in \"m/0\""),
    ("k=1", "claim: unexpected '=' at column 2 in \"k=1\""),
    ("a\nb", "claim: unknown name 'a' at column 1 (allowed: m, k, n, H, W) in \"a\\nb\""),
])
def test_error_messages_point_at_the_column(text, message):
    with pytest.raises(CnncostError) as info:
        parse(text)
    assert str(info.value) == message


def test_limits_are_exact():
    parse("(" * 100 + "k" + ")" * 100)
    start = time.process_time()
    parse("⌊" * 32 + "k" + "/2 + m/3⌋" * 32)
    assert time.process_time() - start < 1.0
    with pytest.raises(CnncostError, match="floor/ceil nested deeper than 32 at column 33"):
        parse("⌊" * 32 + "floor(k" + ")" * 33)
    parse("k^64"), parse("k^2^6"), parse("k**(64)"), parse("1" * 60)
    parse("k" + "+m" * 999)  # 1999 characters
    for text in ["(" * 101 + "k" + ")" * 101, "k^65", "k^2^7", "1" * 61, "k" + "+m" * 1000]:
        with pytest.raises(CnncostError):
            parse(text)


def test_long_valid_formula_is_fast_and_never_evaluates_text(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("the claim parser must not evaluate text")

    real_sympify = importlib.import_module("sympy.core.sympify").sympify

    def strict_sympify(a, *args, **kwargs):  # sympy's constructors sympify objects, never str
        if isinstance(a, str):
            forbidden()
        return real_sympify(a, *args, **kwargs)

    for module in [builtins]:
        for name in ("eval", "exec"):
            monkeypatch.setattr(module, name, forbidden)
    for module in [mod for name, mod in list(sys.modules.items()) if name.startswith("sympy")]:
        for name in ("sympify", "parse_expr"):  # every alias a sympy module holds
            if name in vars(module):
                trap = strict_sympify if name == "sympify" else forbidden
                monkeypatch.setattr(module, name, trap)
    with pytest.raises(AssertionError):  # the trap works: a string reaching sympify is caught
        sympy.Integer(1) + "2"
    text = " + ".join(f"{i}k²HW(3m + 85m²/256)/⌊H/{i}⌋ - n(64m + 10)^2" for i in range(1, 40))
    assert len(text) < 2000
    start = time.process_time()
    parse(text)
    assert time.process_time() - start < 1.0


def test_parser_source_calls_no_evaluator():
    calls = [node.func for node in ast.walk(ast.parse(inspect.getsource(parser)))
             if isinstance(node, ast.Call)]
    names = {f.id for f in calls if isinstance(f, ast.Name)}
    attributes = {f.attr for f in calls if isinstance(f, ast.Attribute)}
    evaluators = {"eval", "exec", "sympify", "S", "parse_expr", "__import__", "getattr",
                  "Symbol", "symbols", "lambdify", "simplify"}
    assert not names & (evaluators | {"compile"}) and not attributes & evaluators  # re.compile ok


def test_importing_the_package_stays_light():
    import subprocess
    code = "import cnncost.claims, sys; print('sympy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- issue 12: scientific notation; units only on plain numbers -----------------------------

@pytest.mark.parametrize("text, value", [("1.8e9", 1_800_000_000), ("2E-3", sympy.Rational(1, 500)),
                                         ("3e0", 3), ("2e+3", 2000), ("1.5e1k", 15 * k)])
def test_scientific_notation(text, value):
    assert same(parse(text), value)


def test_scientific_notation_is_bounded_and_yields_to_a_name_e():
    with pytest.raises(CnncostError, match="exponent of 10"):
        parse("1e61")
    e = sympy.Symbol("e")
    assert same(parse_claim("2e+3", {"e": e}), 2 * e + 3)  # with a variable e, 2e+3 is a formula


@pytest.mark.parametrize("text, number, scale, quantity", [
    ("1.8G", "1.8", 10**9, None), ("1.8 GFLOPs", "1.8", 10**9, "flops"), ("4.1 GMACs", "4.1", 10**9, "macs"),
    ("25.6M params", "25.6", 10**6, "params"), ("25.6m params", "25.6", 10**6, "params"),
    ("1.8 billion", "1.8", 10**9, None), ("233,603,072 FLOPs", "233,603,072", 1, "flops"),
    ("3.8×10^9 MAdds", "3.8×10^9", 1, "macs"),
])
def test_units_split_numbers(text, number, scale, quantity):
    from cnncost.claims import units

    assert units.split(text, NAMES) == (number, scale, quantity, text[len(number):].strip())


@pytest.mark.parametrize("text", ["2mk", "5m", "3k", "4k²m² + 5m", "m params", "2G"])
def test_units_never_split_formulas(text):
    from cnncost.claims import units

    names = {**NAMES, "G": sympy.Symbol("G")}  # an architecture file may have a variable G
    assert units.split(text, names) is None


def test_written_precision():
    from cnncost.claims import units

    assert units.rounding("1.8", 10**9) == pytest.approx(0.05 / 1.8)
    assert units.rounding("1.8×10^9", 1) == pytest.approx(0.05 / 1.8)
    assert units.rounding("233,603,072", 1) == 0  # an integer written out is exact
