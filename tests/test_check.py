"""`cnncost check`: verdicts, differences, explanations and counterexamples."""

import json
from pathlib import Path

import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cnncost import symbolic
from cnncost.claims.audit import audit
from cnncost.claims.parser import parse_claim
from cnncost.cli import app, main
from cnncost.printer import text

runner = CliRunner()
NAMES = {s: symbolic.symbol(s.lower() if s in "HW" else s) for s in ("H", "W", "m", "k", "n")}
m, k, n, H, W = (NAMES[s] for s in ("m", "k", "n", "H", "W"))
DOCS = Path(__file__).parent.parent / "docs"

structures = st.fixed_dictionaries({"padding": st.sampled_from(["valid", "same"]),
                                    "org": st.sampled_from(["same", "double"]), "bn": st.booleans()})
quantities = st.sampled_from(["params", "macs", "mults+adds", "keras"])


@settings(max_examples=25)
@given(structures, quantities, st.sampled_from(["expanded", "printed", "compact"]))
def test_the_engines_own_formula_rearranged_is_equal(structure, quantity, form):
    derivation = symbolic.derive("scratch5", structure)
    true = derivation.formulas[quantity]
    claim = {"expanded": sympy.expand(true),
             "printed": parse_claim(text(true), NAMES),  # our display text, parsed back
             "compact": symbolic.finish(derivation.compact[quantity], symbolic.full_sizes(derivation.sizes))}[form]
    result = audit(claim, derivation, quantity)
    assert result.equal and result.counterexample is None


def _perturb(true, how, derivation):
    terms = sympy.Add.make_args(sympy.expand(true))
    if how == "dropped term":
        return sympy.Add(*terms[1:]), -terms[0]
    if how == "MACs as FLOPs":
        return 2 * true, true
    shifted = true.xreplace({H: H + 1, W: W + 1})  # an off-by-one input size
    return shifted, sympy.expand(shifted - true)


@settings(max_examples=15)
@given(structures, quantities, st.sampled_from(["dropped term", "MACs as FLOPs", "off by one"]))
def test_perturbations_are_not_equal_with_the_exact_difference(structure, quantity, how):
    derivation = symbolic.derive("scratch5", structure)
    true = derivation.formulas[quantity]
    claim, expected_difference = _perturb(true, how, derivation)
    result = audit(claim, derivation, quantity)
    if sympy.expand(expected_difference) == 0:
        return  # e.g. params do not depend on H for some structures: no perturbation happened
    assert not result.equal
    assert sympy.expand(result.difference - expected_difference) == 0
    point = {NAMES[name]: value for name, value in result.counterexample.items() if name in NAMES}
    assert claim.xreplace(point) == result.counterexample["claimed"] != result.counterexample["true"]
    assert true.xreplace(point) == result.counterexample["true"]
    assert all(bool(c.xreplace(point)) for c in derivation.conditions)  # a valid configuration


def test_report_001_claim_at_256():
    result = runner.invoke(app, ["check", "k*k*3*m + (k*k*m*m)*4 + (8*8*m*n+n) + (10*n+10)",
                                 "--quantity", "params", "--padding", "same", "--hw", "256", "--json"])
    assert result.exit_code == 1
    doc = json.loads(result.output)
    assert doc["equal"] is False and sympy.sympify(doc["difference"]) == -5 * sympy.Symbol("m")
    assert "conv1…conv5 bias: 5m missing" in doc["explanation"]
    assert {k: doc["counterexample"][k] for k in ("m", "k", "n", "claimed", "true")} == \
        {"m": 1, "k": 1, "n": 1, "claimed": 92, "true": 97}
    assert any("fc1: the claim has 64mn" in s for s in doc["explanation"])  # only right at 256×256
    assert set(doc) >= {"equal", "difference", "explanation", "counterexample", "holds_when"}


def test_report_001_general_formula_holds_exactly_at_hw_65536():
    derivation = symbolic.derive("scratch5", {"padding": "same"})
    claim = parse_claim("k*k*3*m + (k*k*m*m)*4 + (8*8*m*n+n) + (10*n+10)", NAMES)
    result = audit(claim, derivation, "params")
    assert "apart from the parts named above, the claim holds when HW = 65536" in result.holds_when


def test_dropped_floors_are_named():
    derivation = symbolic.derive("scratch5", {"padding": "same"})
    claim = parse_claim("k^2HW(3m + 85m^2/256) + mnHW/1024 + 10n", NAMES)
    result = audit(claim, derivation, "macs")
    assert not result.equal and "multiples of 32" in result.explanation[0]
    assert result.holds_when == ["the claim holds when H and W are multiples of 32"]


def test_number_claim_names_the_convention_mistake():
    result = runner.invoke(app, ["check", "233,603,072", "--quantity", "macs", "--json"])
    doc = json.loads(result.output)
    assert result.exit_code == 1 and doc["number"]["relative_error"] == 1.0
    assert "the claimed number equals the flops convention" in doc["explanation"]
    ok = runner.invoke(app, ["check", "233,603,072", "--quantity", "mults+adds"])
    assert ok.exit_code == 0 and ok.output.startswith("EQUAL")


def test_layer_claims_and_bias_free_parameters():
    result = runner.invoke(app, ["check", "2mk^2 + m", "--layer", "conv1", "--json"])
    assert "conv1: the claim has 2k²m where the true count has 3k²m" in json.loads(result.output)["explanation"]
    weights_only = runner.invoke(app, ["check", "159114 - 5*64 - 128 - 10", "--m", "64", "--hw", "100", "--json"])
    assert "the claimed number equals parameters without the biases" in json.loads(weights_only.output)["explanation"]


@pytest.mark.parametrize("args, fragment", [
    (["check", "__import__('os').system('true')"], "column"),
    (["check", "k.__class__"], "'.' at column 2"),
    (["check", "9^9^9^9"], "exponent"),
    (["check", "(k+m+n+H+W)^64"], "more than 1,000 terms"),
    (["check", "x + 1"], "unknown name"),
    (["check", "m", "--layer", "conv9"], "--layer"),
    (["check", "m", "--quantity", "joules"], "--quantity"),
    (["check"], "CLAIM"),
    (["check", "159114"], "hw"),  # defaults are used for unbound variables: this one is fine...
])
def test_bad_claims_are_one_line_and_exit_2(args, fragment, capsys):
    code = main(args)
    captured = capsys.readouterr()
    if args == ["check", "159114"]:
        assert code == 0  # ...a plain number is checked at the defaults (m=64 k=3 n=128 100×100)
        return
    assert code == 2 and len(captured.err.strip().splitlines()) == 1 and fragment in captured.err


def test_claims_file(tmp_path):
    path = tmp_path / "claims.toml"
    path.write_text('''
[[claim]]
name = "right"
claim = "159114"
quantity = "params"
options = { m = 64, k = 3, n = 128, hw = 100 }

[[claim]]
name = "wrong"
claim = "2mk^2 + m"
quantity = "params"
layer = "conv1"

[[claim]]
name = "broken"
claim = "k..m"
quantity = "params"
''')
    result = runner.invoke(app, ["check", "--claims", str(path)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert "EQUAL" in lines[0] and "NOT EQUAL" in lines[1] and "ERROR" in lines[2]


def test_bad_claims_file_is_one_line(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text("[[claim]]\nname = 1\nclaim = 'm'\nquantity = 'params'\nbogus = 2\n")
    assert main(["check", "--claims", str(path)]) == 2
    assert "unknown key 'bogus'" in capsys.readouterr().err


def test_docs_audit_page_is_the_tools_output():
    result = runner.invoke(app, ["check", "--claims", str(DOCS / "seed_claims.toml"), "--markdown"])
    assert result.output == (DOCS / "audit.md").read_text(encoding="utf-8")


# --- issue 12: bound symbols, tolerance, numbers as people write them ----------------------

@pytest.mark.parametrize("args, expected_true", [
    (["m", "--m", "3"], None),  # was AttributeError: 'int' object has no attribute 'free_symbols'
    (["H", "--hw", "100"], None),
    (["m", "--m", "3", "--k", "3", "--n", "128", "--hw", "100"], 2222),
    (["m*k", "--m", "3", "--k", "3"], None),  # a formula whose symbols are all bound, not "a plain number"
])
def test_a_claim_of_bound_symbols_is_checked(args, expected_true):
    result = runner.invoke(app, ["check", *args, "--json"])
    assert result.exit_code == 1, result.output
    doc = json.loads(result.output)
    assert doc["verdict"] == "NOT EQUAL"
    if expected_true is not None:
        count = runner.invoke(app, ["count", "scratch5", *args[1:], "--json"])
        assert doc["number"]["true"] == json.loads(count.output)["totals"]["params"] == expected_true
    else:
        point = {k: v for k, v in doc["counterexample"].items() if k not in ("claimed", "true")}
        options = [a for name, v in point.items() for a in (f"--{name.lower()}", str(v))]
        count = runner.invoke(app, ["count", "scratch5", *args[1:], *options, "--json"])
        assert doc["counterexample"]["true"] == json.loads(count.output)["totals"]["params"]


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "-0.0001", "1.5"])
def test_a_bad_tolerance_is_one_line(value, capsys):
    assert main(["check", "159114", "--tolerance", value]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--tolerance" in err


def _number(args):
    result = runner.invoke(app, ["check", *args, "--json"])
    return result.exit_code, json.loads(result.output)


@pytest.mark.parametrize("claim, given, quantity, value", [
    ("1.8e9", "macs", "macs", 1_800_000_000), ("1.8E9", "macs", "macs", 1_800_000_000),
    ("18e8", "macs", "macs", 1_800_000_000), ("1.8G", "macs", "macs", 1_800_000_000),
    ("1.8 GMACs", None, "macs", 1_800_000_000), ("1.8 billion", "macs", "macs", 1_800_000_000),
    ("3.6 GFLOPs", None, "flops", 3_600_000_000), ("11.7M params", None, "params", 11_700_000),
    ("11,689.512K", None, "params", 11_689_512), ("1.8×10^9 MACs", None, "macs", 1_800_000_000),
])
def test_scientific_notation_and_unit_suffixes(claim, given, quantity, value):
    code, doc = _number([claim, "resnet18", *(["--quantity", given] if given else [])])
    assert doc["quantity"] == quantity and doc["number"]["claimed"] == str(value)  # without --quantity: the unit
    count = runner.invoke(app, ["count", "resnet18", "--json"])
    assert doc["number"]["true"] == json.loads(count.output)["totals"][quantity]
    assert code == (0 if value == doc["number"]["true"] else 1)


def test_a_unit_that_contradicts_quantity_is_said():
    code, doc = _number(["1.8 GFLOPs", "resnet18", "--quantity", "macs", "--tolerance", "0.05"])
    assert code == 0 and "the claim's unit GFLOPs names flops, but macs is checked" in doc["explanation"][0]


def test_a_number_near_another_conventions_value_is_named_as_that_mix_up():
    # resnet18: 1,814,073,344 MACs, 3,628,146,688 FLOPs; "1.8 GFLOPs" (±2.8% as written) is the MACs.
    code, doc = _number(["1.8 GFLOPs", "resnet18"])
    assert code == 1 and doc["quantity"] == "flops"
    assert "within ±2.8% of the macs convention (1,814,073,344), the likely mix-up" in " ".join(doc["explanation"])
    code, doc = _number(["116.8M", "--quantity", "flops"])  # scratch5: 116,801,536 MACs
    assert doc["number"]["matches"] == ["the macs convention"]
    code, doc = _number(["116,800,000", "--quantity", "flops"])  # trailing zeros: a rounded figure too
    assert code == 1 and doc["number"]["matches"] == ["the macs convention"]
    code, doc = _number(["116,801,000", "--quantity", "macs"])  # near the truth: NOT EQUAL, never EQUAL
    assert code == 1 and doc["verdict"] == "NOT EQUAL" and doc["number"]["matches"] == []


def test_the_true_value_and_relative_error_print_once_with_digit_groups():
    result = runner.invoke(app, ["check", "233,603,072", "--quantity", "macs"])
    assert result.output.count("relative error") == 1
    assert result.output.splitlines()[0] == ("NOT EQUAL  claimed 233,603,072 · true 116,801,536 · "
                                             "relative error +100.0%")
    assert "true: 116,801,536" in result.output
