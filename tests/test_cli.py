"""The command line: typer's CliRunner for output, main() for usage errors."""

import json
import subprocess
import sys

import pytest
import sympy
from typer.testing import CliRunner

from cnncost.cli import app, main

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, list(args))


def test_count_table_shows_report_numbers_with_conventions():
    result = invoke("count", "--m", "64", "--k", "3", "--hw", "100")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "159,114" in out and "116,801,536" in out and "233,603,072" in out
    assert "PyTorch trainable parameters" in out and "bias adds included" in out
    assert "input 3×100×100" in out


def test_count_json():
    result = invoke("count", "scratch5", "--m", "64", "--k", "3", "--hw", "100", "--json")
    doc = json.loads(result.output)
    assert doc["arch"] == "scratch5"
    assert doc["totals"]["params"] == 159_114 and doc["totals"]["mults+adds"] == 233_603_072
    assert set(doc["totals"]) >= {"params", "buffers", "keras", "macs", "mults", "adds", "flops",
                                  "mults+adds", "activations"}
    assert set(doc["layers"][0]) >= {"name", "type", "output_shape", "params", "buffers", "macs",
                                     "mults", "adds", "activations"}
    assert sum(layer["macs"] for layer in doc["layers"]) == doc["totals"]["macs"]


def test_count_headline_convention_comes_first():
    result = invoke("count", "--convention", "mults+adds")
    totals_section = result.output.split("\n\n")[-1].strip().splitlines()
    assert totals_section[0].split() == ["convention", "total", "meaning"]
    assert totals_section[1].startswith("mults+adds") and "233,603,072" in totals_section[1]


def test_count_zoo_prefix_and_bn_buffers():
    result = invoke("count", "zoo.scratch5", "--bn", "--json")
    doc = json.loads(result.output)
    assert doc["totals"]["buffers"] == 2 * 5 * 64
    assert doc["totals"]["keras"] == doc["totals"]["params"] + doc["totals"]["buffers"]


def test_formula_text_shows_sizes_and_condition():
    result = invoke("formula", "scratch5", "--symbolic")
    assert result.exit_code == 0, result.output
    assert "H1 = H − k + 1" in result.output and "P1 = ⌊H1/2⌋" in result.output
    assert "valid when H ≥ 31k + 1" in result.output and "H, W ≥ 94" in result.output


def test_formula_divisible():
    result = invoke("formula", "--padding", "same", "--divisible", "32", "--quantity", "macs")
    assert "HWk²·(85m²/256 + 3m) + HWmn/1024 + 10n" in result.output


def test_formula_json_parses_back_and_matches_count():
    result = invoke("formula", "--json", "--quantity", "all")
    doc = json.loads(result.output)
    assert set(doc) >= {"arch", "symbols", "assumptions", "formulas", "conditions"}
    values = {"H": 100, "W": 100, "m": 64, "k": 3, "n": 128}
    params = sympy.sympify(doc["formulas"]["params"]).subs(values)
    flops = sympy.sympify(doc["formulas"]["mults+adds"]).subs(values)
    assert (params, flops) == (159_114, 233_603_072)
    assert [str(sympy.sympify(c)) for c in doc["conditions"]] == ["H >= 31*k + 1", "W >= 31*k + 1"]


def test_formula_latex():
    result = invoke("formula", "--latex")
    assert r"\left\lfloor" in result.output and r"\begin{aligned}" in result.output


@pytest.mark.parametrize("args, fragment", [
    (["count", "--m", "0"], "--m: 0 is out of range"),
    (["count", "--k", "9"], "too small"),
    (["count", "--hw", "93"], "at least 94×94"),
    (["count", "--org", "half", "--m", "24"], "not a whole number"),
    (["count", "nosuchnet"], "unknown architecture"),
    (["count", "--convention", "gflops"], "--convention"),
    (["count", "--padding", "full"], "--padding"),
    (["count", "--m", "abc"], "--m"),
    (["count", "--hw", "100", "--h", "90"], "--hw"),
    (["count", "--bogus"], "--bogus"),
    (["formula", "--quantity", "watts"], "--quantity"),
    (["formula", "--divisible", "1"], "--divisible"),
])
def test_bad_input_is_one_line_and_exit_2(args, fragment, capsys):
    assert main(args) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0] and "Traceback" not in captured.err
    assert captured.out == ""


def test_python_dash_m_and_no_heavy_imports():
    """`cnncost count` runs without importing sympy, torch or rich."""
    code = ("import sys; from cnncost.cli import main; rc = main(['count', '--json']); "
            "print('HEAVY', sorted(m for m in ('sympy', 'torch', 'rich') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out
    result = subprocess.run([sys.executable, "-m", "cnncost", "count", "--json"], capture_output=True, text=True)
    assert result.returncode == 0 and '"params": 159114' in result.stdout


def test_formula_cache_hit_gives_the_same_text_without_sympy(tmp_path):
    env = {**__import__("os").environ, "CNNCOST_CACHE_DIR": str(tmp_path / "c")}
    code = ("import sys; from cnncost.cli import main; main(['formula', '--quantity', 'all']); "
            "print('SYMPY', 'sympy' in sys.modules)")
    first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env).stdout
    second = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env).stdout
    assert "SYMPY True" in first and "SYMPY False" in second
    assert first.replace("SYMPY True", "") == second.replace("SYMPY False", "")
    uncached = subprocess.run([sys.executable, "-c", code.replace("'all']", "'all', '--no-cache']")],
                              capture_output=True, text=True, env=env).stdout
    assert "SYMPY True" in uncached


def test_formula_cache_key_depends_on_request_and_code(monkeypatch):
    from cnncost import cache

    a = cache.key({"arch": "scratch5", "divisible": None})
    assert a == cache.key({"arch": "scratch5", "divisible": None})
    assert a != cache.key({"arch": "scratch5", "divisible": 32})
    monkeypatch.setattr(cache, "code_fingerprint", lambda: "changed")
    assert a != cache.key({"arch": "scratch5", "divisible": None})


def test_unwritable_cache_is_ignored(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("CNNCOST_CACHE_DIR", str(blocker / "sub"))
    result = invoke("formula", "--quantity", "params")
    assert result.exit_code == 0 and "5m + 11n + 10" in result.output


def test_help_describes_the_arguments():
    """Every command's --help says what its arguments are (typer's help survives click)."""
    from typer.testing import CliRunner

    from cnncost.cli import app

    result = CliRunner().invoke(app, ["count", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "architecture: a zoo name" in result.output


def test_version_is_the_installed_distributions(capsys):
    from importlib.metadata import version

    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"cnncost {version('cnncost')}\n"


@pytest.mark.parametrize("command", [["count", "--json"], ["formula", "--json"], ["summary"]])
@pytest.mark.parametrize("upper, lower", [(["--H", "100", "--W", "120"], ["--h", "100", "--w", "120"]),
                                          (["--HW", "96"], ["--hw", "96"])])
def test_the_size_names_formulas_print_are_options_too(command, upper, lower):
    """Formulas say H and W, so --H/--W/--HW mean --h/--w/--hw."""
    aliased, plain = invoke(*command, *upper), invoke(*command, *lower)
    assert aliased.exit_code == 0 and aliased.output == plain.output
    assert invoke("count", "--H", "100", "--h", "90").exit_code != 0  # one option, given twice


@pytest.mark.parametrize("keywords, option, complaint", [
    (dict(m=0), ["--m", "0"], "0 is out of range (need an integer ≥ 1)"),
    (dict(in_channels=0), ["--in-channels", "0"], "0 is out of range (need an integer ≥ 1)"),
    (dict(padding="full"), ["--padding", "full"], "'full' is not allowed for scratch5; choose one of valid, same"),
])
def test_python_errors_name_keywords_and_the_cli_its_options(keywords, option, complaint, capsys):
    import cnncost
    from cnncost.errors import CnncostError

    (name,) = keywords
    for call in (cnncost.count, cnncost.formula):
        with pytest.raises(CnncostError) as raised:
            call("scratch5", **keywords)
        assert str(raised.value) == f"{name}: {complaint}"
    assert main(["count", *option]) == 2
    assert capsys.readouterr().err == f"error: {option[0]}: {complaint}\n"


def test_an_unknown_keyword_lists_keywords_in_python_and_options_on_the_command_line(capsys):
    import cnncost
    from cnncost.errors import CnncostError

    from cnncost import archs

    declared = [p.name for p in archs.get("resnet18").params]
    assert declared[:4] == ["h", "w", "classes", "in_channels"] and declared[-2:] == ["include_top", "head"]
    with pytest.raises(CnncostError) as raised:
        cnncost.count("resnet18", m=3)
    assert str(raised.value) == f"m: not a parameter of resnet18 (it takes {', '.join(declared)})"
    assert main(["count", "resnet18", "--m", "3"]) == 2
    options = ", ".join("--" + name.replace("_", "-") for name in declared)
    assert capsys.readouterr().err == f"error: --m: not an option of resnet18 (it takes {options})\n"


@pytest.mark.parametrize("text, complaint", [
    ("²", "'²' is not a whole number (need an integer ≥ 1)"),  # str.isdigit() is true for it
    ("٣", "'٣' is not a whole number (need an integer ≥ 1)"),
    ("1" * 40, "a 40-digit number is out of range (at most 30 digits)"),
])
def test_whole_numbers_given_as_text_are_ascii_digits(text, complaint):
    """Architecture parameters given as text (--set, the Python API) take ASCII digits only;
    '²' used to pass the digit test and then crash int()."""
    import cnncost
    from cnncost.errors import CnncostError

    with pytest.raises(CnncostError) as raised:
        cnncost.count("scratch5", m=text)
    assert str(raised.value) == f"m: {complaint}"
    assert cnncost.count("scratch5", m="+16").total("params") == cnncost.count("scratch5", m=16).total("params")
