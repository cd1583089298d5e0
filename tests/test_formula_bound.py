"""`cnncost formula` with sizes bound: conditions settled, never `True`, values equal `count`.

Binding H and W turns validity conditions into plain truths (dropped), falsehoods (an
error naming the layer, as `count` gives it) or a condition in the variables left, which
is solved for them. The reference for every number is the numeric engine (`cnncost.count`),
a separate path from the symbolic derivation.
"""

import json

import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import cnncost
from cnncost.archs import registry
from cnncost.archs.registry import flag
from cnncost.cli import app
from cnncost.conventions import CONVENTIONS, sums
from cnncost.errors import CnncostError

runner = CliRunner()

# Report 001's setting and every other command the issue found crashing.
SETTLED = [
    ["scratch5", "--padding", "same", "--hw", "256"],
    ["vgg16", "--hw", "64"],
    ["alexnet", "--hw", "224"],
    ["googlenet", "--hw", "224"],
    ["inception_v3", "--hw", "224", "--no-aux-logits"],
    ["vgg11", "--hw", "224"],
    ["smallcnn_res", "--hw", "32"],
    ["examples/tiny_inception.toml", "--hw", "32"],
]


def formula(*args):
    """Run `cnncost formula ARGS --no-cache` in-process: (exit code, stdout, stderr)."""
    result = runner.invoke(app, ["formula", *args, "--no-cache"])
    return result.exit_code, result.stdout, result.stderr


def values_of(args: list) -> dict:
    """Builder keywords of the command-line options in ``args`` (ARCH first)."""
    result, options = {}, iter(args[1:])
    for option in options:
        if option.startswith("--no-"):  # a switch turned off
            result[option.removeprefix("--no-").replace("-", "_")] = False
            continue
        value = next(options)
        names = {"--hw": ("h", "w")}.get(option, (option.removeprefix("--").replace("-", "_"),))
        for name in names:
            result[name] = int(value) if value.isdigit() else value
    return result


def parsed(doc: dict) -> dict:
    """Test side only: the JSON's own expressions read back by sympy, integer symbols assumed."""
    names = set(doc["symbols"]) | {"H", "W"}
    local = {name: sympy.Symbol(name, integer=True, positive=True) for name in names}
    read = lambda text: sympy.sympify(text, locals=local)  # noqa: E731  (our output, not user text)
    return {"formulas": {q: read(t) for q, t in doc["formulas"].items()},
            "conditions": [read(t) for t in doc["conditions"]], "symbols": local}


@pytest.mark.parametrize("args", SETTLED, ids=lambda a: " ".join(a))
def test_conditions_that_binding_makes_true_disappear(args):
    code, text, err = formula(*args)
    assert code == 0 and err == "", err
    # No size condition is left (channel divisibility in free variables may stay).
    valid = [line for line in text.splitlines() if line.startswith("valid when")]
    assert "True" not in text and all("≥" not in line and "multiple of" in line for line in valid)
    code, tex, err = formula(*args, "--latex")
    assert code == 0 and "True" not in tex and r"\geq" not in tex
    code, out, err = formula(*args, "--json", "--quantity", "all")
    doc = json.loads(out)
    assert code == 0 and all(c.startswith("Eq(Mod(") for c in doc["conditions"]), doc["conditions"]
    # The bound formula is the number count gives, at the defaults of whatever stays free.
    spec = registry.get(args[0])
    read = parsed(doc)
    at = {read["symbols"][s]: spec.param(keyword(s)).default for s in doc["symbols"]}
    totals = sums(cnncost.count(args[0], **values_of(args)))
    for quantity, expr in read["formulas"].items():
        assert expr.xreplace(at) == CONVENTIONS[quantity].total(totals), quantity


def test_a_bound_size_leaves_the_condition_solved_for_the_variable_left_once():
    code, text, _ = formula("scratch5", "--hw", "100")
    assert code == 0
    valid = [line for line in text.splitlines() if line.startswith("valid when")]
    assert valid == ["valid when k ≤ 3"]  # 100 ≥ 31k + 1 ⇔ k ≤ 99/31, k an integer
    code, tex, _ = formula("scratch5", "--hw", "100", "--latex")
    assert tex.count(r"\text{valid when }") == 1 and r"k \leq 3" in tex
    code, out, _ = formula("scratch5", "--hw", "100", "--json")
    assert json.loads(out)["conditions"] == ["k <= 3"]
    # The solved bound is exact: the engine accepts k = 3 at 100×100 and refuses k = 4.
    cnncost.count("scratch5", h=100, w=100, k=3)
    with pytest.raises(CnncostError):
        cnncost.count("scratch5", h=100, w=100, k=4)


def test_one_bound_axis_keeps_the_other_condition():
    code, text, _ = formula("scratch5", "--h", "100")
    assert code == 0 and "valid when k ≤ 3 and W ≥ 31k + 1 (e.g. k = 3 needs W ≥ 94)" in text


@pytest.mark.parametrize("view", [[], ["--latex"], ["--json"]])
def test_a_size_too_small_for_every_value_is_one_error_naming_the_layer(view):
    code, out, err = formula("scratch5", "--hw", "5", *view)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: scratch5: an input H of 5 is too small for every k")
    assert "H ≥ 31k + 1" in lines[0] and "conv2 (Conv2d)" in lines[0]


@pytest.mark.parametrize("args, fragment", [
    (["scratch5", "--hw", "93", "--k", "3"], "at least 94×94"),
    # Inception-v3's auxiliary head (on by default) needs 299×299: 224 is too small for it.
    (["inception_v3", "--hw", "224"], "AuxLogits.conv1.conv (Conv2d)"),
])
@pytest.mark.parametrize("view", [[], ["--latex"], ["--json"]])
def test_fully_bound_and_too_small_gives_counts_own_error(args, fragment, view):
    code, out, err = formula(*args, *view)
    count = runner.invoke(app, ["count", *args])
    assert code == 2 and out == "" and count.exit_code == 2 and err == count.stderr
    assert fragment in err and len(err.strip().splitlines()) == 1


def test_a_quantity_without_named_sizes_is_shown_once():
    code, text, _ = formula("resnet18")
    lines = text.splitlines()
    params = lines.index(next(line for line in lines if line.startswith("params [")))
    assert lines[params + 1] == "  = 11689512" and not lines[params + 2].startswith("  =")
    assert all(a != b for a, b in zip(lines, lines[1:]) if a.startswith("  = "))


def test_latex_keeps_the_square_of_a_floor():
    """⌊(131 − 31k)/32⌋² (the pooled size squared) must not print as a bare floor."""
    _, tex, _ = formula("scratch5", "--hw", "100", "--quantity", "params", "--latex")
    assert r"\left\lfloor \frac{131 - 31 k}{32} \right\rfloor^{2}" in tex


# --- the property: any zoo network, sizes bound, equals count ------------------------------

FREE_RANGE = {"m": (1, 12), "k": (1, 5), "n": (1, 40)}
CHEAP = ["alexnet", "googlenet", "inception_v3", "mlp3", "mobilenet_v2", "resnet18", "resnet50",
         "scratch5", "smallcnn", "smallcnn_inception", "smallcnn_res", "vgg11", "vgg16_bn"]


@st.composite
def bound_requests(draw):
    """(arch, command-line options, values of the variables left free)."""
    spec = registry.get(draw(st.sampled_from(CHEAP)))
    choices = {p.name: draw(st.sampled_from(p.choices)) for p in spec.params if p.choices}
    options = [item for name, value in choices.items() for item in (flag(name), value)]
    sizes = draw(st.sampled_from([["hw"], ["h"], ["w"], ["h", "w"]]))
    default = spec.param("h").default
    size = st.integers(max(1, default // 4), default + default // 2)
    for name in sizes:
        options += [flag(name), str(draw(size))]
    free = {}
    for p in spec.params:
        if not p.symbolic:
            continue
        if p.name in ("h", "w"):
            if "hw" not in sizes and p.name not in sizes:
                free[p.name] = draw(size)
            continue
        # --org half gives m/16 filters in the last layer: m must stay a multiple of 16.
        value = (16 * draw(st.integers(1, 2)) if p.name == "m" and choices.get("org") == "half"
                 else draw(st.integers(*FREE_RANGE[p.name])))
        if draw(st.booleans()):
            options += [flag(p.name), str(value)]
        else:
            free[p.name] = value
    return spec.name, options, free


def keyword(symbol_name: str) -> str:
    """The builder keyword of a formula's symbol (H -> h)."""
    return symbol_name.lower() if symbol_name in ("H", "W") else symbol_name


@settings(max_examples=30)
@given(bound_requests())
def test_a_bound_formula_equals_count_at_the_variables_left(request):
    arch, options, free = request
    code, out, err = formula(arch, *options, "--json", "--quantity", "all")
    assert code in (0, 2), err
    values = {**values_of([arch, *options]), **free}
    if code == 2:  # too small for every value of the free variables: so for these too
        assert len(err.strip().splitlines()) == 1 and err.startswith("error: ")
        with pytest.raises(CnncostError):
            cnncost.count(arch, **values)
        return
    doc = json.loads(out)
    read = parsed(doc)
    at = {read["symbols"][s]: free[keyword(s)] for s in doc["symbols"]}
    holds = [c.xreplace(at) for c in read["conditions"]]
    assert all(h in (sympy.true, sympy.false) for h in holds)
    try:
        table = cnncost.count(arch, **values)
    except CnncostError:
        assert sympy.false in holds, "the engine refuses values the conditions allow"
        return
    assert sympy.false not in holds, "the conditions refuse values the engine accepts"
    totals = sums(table)
    for quantity, expr in read["formulas"].items():
        assert expr.xreplace(at) == CONVENTIONS[quantity].total(totals), quantity
