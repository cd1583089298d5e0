"""cnncost plot: exact series, leading terms, the chart file and one-line errors."""

import subprocess
import sys

import pytest
import sympy
from typer.testing import CliRunner

import cnncost
from cnncost.render import plot
from cnncost.cli import app
from cnncost.conventions import totals
from cnncost.errors import CnncostError
from cnncost.symbolic import derive, symbol

pytest.importorskip("matplotlib")
runner = CliRunner()
PNG = b"\x89PNG\r\n\x1a\n"


def invoke(*args):
    return runner.invoke(app, ["plot", *map(str, args)])


def one_error_line(result):
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def test_png_for_one_architecture(tmp_path):
    out = tmp_path / "scratch5.png"
    result = invoke("scratch5", "--vary", "hw", "--from", 32, "--to", 512, "--out", out)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"wrote {out}: 419 points, 1 architecture"
    assert "skipped 62 of 481 points" in result.stderr and "H ≥ 94" in result.stderr
    data = out.read_bytes()
    assert data.startswith(PNG) and len(data) > 10_000
    assert [p.name for p in tmp_path.iterdir()] == ["scratch5.png"]  # no temp file left behind


@pytest.mark.parametrize("suffix, magic", [(".svg", b"<?xml"), (".pdf", b"%PDF")])
def test_two_architectures_other_formats(tmp_path, suffix, magic):
    out = tmp_path / f"both{suffix}"
    result = invoke("scratch5", "resnet18", "--vary", "hw", "--from", 32, "--to", 128, "--step", 4,
                    "--m", 32, "--out", out)  # --m applies to scratch5 only
    assert result.exit_code == 0, result.output
    assert "2 architectures" in result.stdout
    assert out.read_bytes().startswith(magic)


def test_two_architectures_png(tmp_path):
    out = tmp_path / "both.png"
    result = invoke("scratch5", "resnet18", "--vary", "hw", "--from", 32, "--to", 512, "--out", out)
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(PNG) and out.stat().st_size > 10_000


@pytest.mark.parametrize("arch, vary, given, quantity", [
    ("scratch5", "hw", {}, "macs"),
    ("scratch5", "h", {"padding": "same", "w": 64}, "mults+adds"),
    ("scratch5", "m", {"org": "half", "hw": 96}, "params"),
    ("scratch5", "k", {"bn": True}, "keras"),
    ("resnet18", "hw", {}, "fvcore"),
    ("mobilenet_v2", "w", {"h": 160}, "ptflops"),
])
def test_series_equal_count(arch, vary, given, quantity):
    xs = range(1, 200, 3) if vary in ("hw", "h", "w") else range(1, 70)
    bound = {("h" if key == "hw" else key): value for key, value in given.items()}
    if "hw" in given:
        bound["w"] = given["hw"]
    s = plot.series(arch, vary, xs, quantity, bound)
    got = dict(zip(s.xs, s.ys))
    for x in xs:
        sizes = {"h": x, "w": x} if vary == "hw" else {vary: x}
        try:
            expected = totals(cnncost.count(arch, **bound, **sizes))[quantity]
        except CnncostError:
            expected = None  # invalid network: the series skips the point
        assert got.get(x) == expected, (x, got.get(x), expected)
    assert s.skipped == len(xs) - len(s.xs)
    assert all(type(y) is int for y in s.ys)


def test_leading_term_scratch5_macs_by_hand():
    """Same padding: conv i sees H·W/4^(i-1); conv1 3k²m·HW, convs 2-5 k²m²·HW(1/4+1/16+1/64+1/256),
    fc1 m·(H/32)(W/32)·n; so the H = W coefficient is 85k²m²/256 + 3k²m + mn/1024."""
    H, W = symbol("h"), symbol("w")
    m, k, n = symbol("m"), symbol("k"), symbol("n")
    macs = derive("scratch5", {"padding": "same"}).formulas["macs"].xreplace({W: H})
    by_hand = (sympy.Rational(85, 256) * k**2 * m**2 + 3 * k**2 * m + m * n / 1024) * H**2
    assert sympy.expand(plot.leading_term(macs, H) - by_hand) == 0
    valid = derive("scratch5", {}).formulas["macs"].xreplace({W: H})  # floors do not change the leading term
    assert sympy.expand(plot.leading_term(valid, H) - by_hand) == 0
    s = plot.series("scratch5", "hw", range(94, 100), "macs", {"padding": "same"})
    assert s.leading == 13976 * H**2  # m=64, k=3, n=128: 12240 + 1728 + 8
    assert plot.legend(s) == "scratch5  ~ 13976H²"


@pytest.mark.parametrize("args, message", [
    (["scratch5", "--vary", "q", "--from", 32, "--to", 64], "--vary"),
    (["scratch5", "resnet18", "--vary", "m", "--from", 8, "--to", 64], "resnet18 has no design variable 'm'"),
    (["scratch5", "--vary", "hw", "--from", 64, "--to", 32], "--from 64 is greater than --to 32"),
    (["scratch5", "--vary", "hw", "--from", 10, "--to", 50], "no valid point for H = W"),
    (["scratch5", "--vary", "hw", "--hw", 64, "--from", 10, "--to", 50], "varied variable"),
    (["scratch5", "--vary", "hw", "--from", 32, "--to", 64, "--quantity", "joules"], "--quantity"),
    (["resnet18", "--vary", "hw", "--from", 32, "--to", 64, "--m", 8], "--m: not an option of resnet18"),
])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, args, message):
    line = one_error_line(invoke(*args, "--out", tmp_path / "x.png"))
    assert message in line
    assert list(tmp_path.iterdir()) == []


def test_no_valid_point_names_the_range(tmp_path):
    line = one_error_line(invoke("scratch5", "--vary", "hw", "--from", 10, "--to", 50, "--out", tmp_path / "x.png"))
    assert "H ≥ 94" in line


@pytest.mark.parametrize("name", ["x.jpg", "x", "missing/x.png", "file.txt/x.png"])
def test_bad_out_path(tmp_path, name):
    (tmp_path / "file.txt").write_text("not a directory")
    line = one_error_line(invoke("scratch5", "--vary", "hw", "--from", 100, "--to", 120, "--out", tmp_path / name))
    assert "--out" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    def disk_full(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", disk_full)
    line = one_error_line(invoke("scratch5", "--vary", "hw", "--from", 100, "--to", 120, "--out", tmp_path / "x.png"))
    assert "No space left" in line and list(tmp_path.iterdir()) == []


def test_missing_matplotlib(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    line = one_error_line(invoke("scratch5", "--vary", "hw", "--from", 100, "--to", 120, "--out", tmp_path / "x.png"))
    assert line == "error: plot needs matplotlib: pip install 'cnncost[plot]'"
    assert list(tmp_path.iterdir()) == []


def test_count_never_imports_matplotlib_or_sympy():
    code = ("import sys; from cnncost.cli import main; main(['count', '--hw', '64']); "
            "assert 'matplotlib' not in sys.modules and 'sympy' not in sys.modules, 'imported'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_exact_evaluation_is_fast():
    import time

    H = symbol("h")
    expr = derive("resnet50", {"w": 224}).formulas["fvcore"]
    f = plot.exact_function(expr, H)
    start = time.process_time()  # this process's CPU time: the work, not the machine's load
    values = [f(x) for x in range(1, 3001)]
    assert time.process_time() - start < 0.5
    assert values[223] == totals(cnncost.count("resnet50", h=224, w=224))["fvcore"]
