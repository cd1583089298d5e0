"""Architecture files: the same numbers and closed forms as the registry, real torch modules, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import sympy
from hypothesis import given, settings

import cnncost
from cnncost import archs
from cnncost.archfile import load_arch
from cnncost.cli import main
from cnncost.conventions import CONVENTIONS

from .strategies import scratch5_configs

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(str(p) for p in (ROOT / "examples").glob("*.toml"))
RES_CONCAT = str(ROOT / "tests" / "data" / "archfiles" / "res_concat.toml")
SCRATCH5 = str(ROOT / "examples" / "scratch5.toml")

# scratch5 with every option of the registered builder spelled out in the file itself.
SCRATCH5_TEMPLATE = """
[network]
input = [3, 100, 100]
[symbols]
m = 64
k = 3
n = 128
classes = {{ default = 10, symbolic = false }}
[[layers]]
type = "repeat"
times = 5
flat = true
layers = [
  {{ type = "conv", out = "{out}", kernel = "k", padding = "{padding}" }},{bn}
  {{ type = "relu" }},
  {{ type = "maxpool", kernel = 2 }},
]
[[layers]]
type = "flatten"
[[layers]]
type = "linear"
out = "n"
[[layers]]
type = "relu"
[[layers]]
type = "linear"
out = "classes"
"""
ORG_OUT = {"same": "m", "double": "m*2^i", "half": "m/2^i"}


@pytest.fixture(scope="module")
def scratch5_files(tmp_path_factory) -> dict:
    """(padding, org, bn) -> a file equivalent to scratch5 with those options."""
    folder = tmp_path_factory.mktemp("scratch5")
    files = {}
    for padding in ("valid", "same"):
        for org, out in ORG_OUT.items():
            for bn in (False, True):
                path = folder / f"scratch5_{padding}_{org}_{int(bn)}.toml"
                path.write_text(SCRATCH5_TEMPLATE.format(out=out, padding=padding,
                                                         bn='\n  { type = "batchnorm" },' if bn else ""))
                files[(padding, org, bn)] = str(path)
    return files


def _rows(table) -> list:
    """Per-layer content without names (generated names differ from the registered ones)."""
    return [(r.type, r.output_shape, r.params, r.buffers, r.macs, r.adds, r.fvcore, r.ptflops) for r in table.layers]


@settings(max_examples=40)
@given(config=scratch5_configs())
def test_scratch5_file_counts_equal_registered(scratch5_files, config):
    path = scratch5_files[(config["padding"], config["org"], config["bn"])]
    mine = {key: config[key] for key in ("h", "w", "m", "k", "n", "classes")}
    expected, actual = cnncost.count("scratch5", **config), cnncost.count(path, **mine)
    assert _rows(actual) == _rows(expected)
    assert all(actual.total(q) == expected.total(q) for q in ("params", "buffers", "macs", "adds"))


def test_example_scratch5_is_the_registered_default():
    assert _rows(cnncost.count(SCRATCH5)) == _rows(cnncost.count("scratch5"))
    assert [r.name for r in cnncost.count(SCRATCH5).layers if r.type == "Conv2d"] == [f"conv{i}" for i in range(1, 6)]


@pytest.mark.parametrize("padding, org, bn", [("valid", "same", False), ("same", "half", True)])
def test_scratch5_file_closed_forms_equal_registered(scratch5_files, padding, org, bn):
    expected = cnncost.formula("scratch5", padding=padding, org=org, bn=bn)
    actual = cnncost.formula(scratch5_files[(padding, org, bn)])
    assert set(actual.symbols) == set(expected.symbols) == {"H", "W", "m", "k", "n"}
    for name in CONVENTIONS:
        assert sympy.expand(actual.formulas[name] - expected.formulas[name]) == 0, name
    assert set(actual.conditions) == set(expected.conditions)


def test_arch_declares_input_symbols_and_fingerprint():
    arch = load_arch(RES_CONCAT)
    assert arch.name == arch.source == RES_CONCAT and archs.get(RES_CONCAT) is arch
    declared = {p.name: (p.default, p.symbolic, p.minimum) for p in arch.params}
    assert declared == {"h": (24, True, 1), "w": (20, True, 1), "in_channels": (3, False, 1),
                        "m": (8, True, 1), "k": (3, True, 1), "growth": (4, True, 2), "depth": (2, False, 0),
                        "classes": (5, False, 0)}
    assert len(arch.fingerprint) == 64 and arch.fingerprint != load_arch(SCRATCH5).fingerprint
    assert arch.description.strip() == "A test network exercising the whole file format."


@pytest.mark.parametrize("path", [RES_CONCAT, *EXAMPLES], ids=lambda p: Path(p).name)
def test_file_module_matches_engine(path):
    torch = pytest.importorskip("torch")
    import zoo
    from zoo import oracles

    table = cnncost.count(path)
    module = zoo.build(path).eval()
    assert table.total("params") == sum(p.numel() for p in module.parameters())
    assert table.total("buffers") == oracles.batchnorm_buffers(module)
    with torch.no_grad():
        out = module(torch.zeros(2, *table.network.input_shape))
    assert tuple(out.shape[1:]) == tuple(table.output_shape)
    modules = dict(module.named_modules())
    for row in table.layers:  # each layer is its own leaf module, at exactly its name
        assert row.name in modules and not list(modules[row.name].children())
    leaves = [name for name, m in modules.items() if name and not list(m.children())]
    assert sorted(leaves) == sorted(r.name for r in table.layers)


def test_dense_symbols_and_repeats_build_as_written():
    table = cnncost.count(RES_CONCAT, growth=6, depth=3)
    names = [r.name for r in table.layers]
    assert "dense3.res2.conv1" in names and "dense4.res1.conv1" not in names
    widths = {r.name: r.output_shape[0] for r in table.layers}
    assert widths["dense3.concat1.branch2.conv1"] == 6 * 3  # growth·(i + 1) at i = 2
    assert widths["dense3.res1.conv1"] == 4 * 8 + 6 * 3 * 4 // 2
    assert [r.type for r in table.layers if r.name.startswith("head.bn")] == ["BatchNorm1d"]


# --- the commands --------------------------------------------------------------------------

def _run(capsys, *args) -> tuple:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_count_file(capsys):
    code, out, _ = _run(capsys, "count", SCRATCH5, "--json")
    doc = json.loads(out)
    assert code == 0 and doc["totals"]["params"] == 159_114 and doc["totals"]["mults+adds"] == 233_603_072


def test_count_set_and_options(capsys):
    code, out, _ = _run(capsys, "count", RES_CONCAT, "--m", "4", "--set", "growth=6", "--set", "depth=1",
                        "--hw", "32", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["totals"]["params"] == cnncost.count(RES_CONCAT, m=4, growth=6, depth=1, h=32, w=32).total("params")


@pytest.mark.parametrize("args, message", [
    (["--set", "grwth=3"], "--set grwth: " + RES_CONCAT + " has no parameter 'grwth' (accepted: h, w, in_channels, m,"),
    (["--set", "growth=1"], "--set growth: 1 is out of range (need an integer ≥ 2)"),
    (["--set", "m=3", "--m", "4"], "--set m: m is given twice"),
    (["--set", "growth"], "--set growth: expected NAME=VALUE"),
    (["--n", "3"], "--n: not an option of " + RES_CONCAT),
    (["--module", "pkg.mod:factory"], "--module: give either ARCH (" + RES_CONCAT + ") or --module, not both"),
])
def test_count_option_errors(capsys, args, message):
    code, out, err = _run(capsys, "count", RES_CONCAT, *args)
    assert code == 2 and out == "" and err.startswith("error: " + message) and err.count("\n") == 1, err


@pytest.mark.parametrize("command", [["count"], ["formula"], ["check", "1"], ["sweep"], ["verify"]])
def test_module_option_is_module_arch(capsys, monkeypatch, command):
    seen = []

    def fake_get(name):
        seen.append(name)
        raise cnncost.errors.CnncostError("stop here")

    monkeypatch.setattr(archs, "get", fake_get)
    code, _, err = _run(capsys, *command, "--module", "my_pkg.nets:build")
    assert code == 2 and seen[0] == "module:my_pkg.nets:build" and "stop here" in err


def test_formula_file(capsys):
    code, out, _ = _run(capsys, "formula", SCRATCH5, "--quantity", "params", "--json")
    assert code == 0
    doc = json.loads(out)
    expected = cnncost.formula("scratch5").formulas["params"]
    assert doc["arch"] == SCRATCH5 and list(doc["symbols"]) == ["H", "W", "m", "k", "n"]
    parsed = sympy.sympify(doc["formulas"]["params"], locals={s.name: s for s in expected.free_symbols})
    assert sympy.expand(parsed - expected) == 0


def test_formula_file_cache_follows_content(capsys, tmp_path, monkeypatch):
    path = tmp_path / "net.toml"
    path.write_text(Path(SCRATCH5).read_text())
    monkeypatch.chdir(tmp_path)
    _, first, _ = _run(capsys, "formula", "net.toml", "--quantity", "params", "--n", "2")
    path.write_text(Path(SCRATCH5).read_text().replace('out = "classes"', 'out = "2*classes"'))
    _, second, _ = _run(capsys, "formula", "net.toml", "--quantity", "params", "--n", "2")
    assert first != second


def test_check_file(capsys):
    claim = "36m^2 + 32m + mn + 21n + 20"  # k = 3, 100×100, classes = 20
    file_verdict = _run(capsys, "check", claim, SCRATCH5, "--hw", "100", "--k", "3", "--set", "classes=20")
    zoo_verdict = _run(capsys, "check", claim, "scratch5", "--hw", "100", "--k", "3", "--classes", "20")
    assert file_verdict == zoo_verdict and file_verdict[0] == 0 and file_verdict[1].startswith("EQUAL")
    code, out, _ = _run(capsys, "check", "r*m", str(ROOT / "examples" / "tiny_inception.toml"),
                        "--quantity", "params", "--layer", "inception1.mix.b3.conv1")
    assert code == 1 and out.startswith("NOT EQUAL")  # the bias (r) is missing from the claim


def test_sweep_file_with_set_grid(capsys):
    code, out, _ = _run(capsys, "sweep", str(ROOT / "examples" / "tiny_inception.toml"), "--m", "16,32",
                        "--set", "r=8,16", "--json")
    assert code == 0
    rows = json.loads(out)["rows"]
    assert len(rows) == 4
    for row in rows:
        expected = cnncost.count(str(ROOT / "examples" / "tiny_inception.toml"), m=row["m"], r=row["r"])
        assert row["params"] == expected.total("params") and row["macs"] == expected.total("macs")


def test_verify_file(capsys):
    pytest.importorskip("fvcore")
    code, out, _ = _run(capsys, "verify", str(ROOT / "examples" / "tiny_resnet.toml"), "--hw", "16",
                        "--set", "blocks=1", "--json")
    assert code == 0 and json.loads(out)


def test_count_file_imports_neither_sympy_nor_torch():
    script = ("import sys, io, contextlib\n"
              "from cnncost.cli import main\n"
              "with contextlib.redirect_stdout(io.StringIO()):\n"
              f"    assert main(['count', {RES_CONCAT!r}, '--set', 'growth=6']) == 0\n"
              "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sympy', 'torch', 'numpy')))\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == "[]"


def test_formula_matches_count_with_asymmetric_windows():
    """Kernels and strides differ along H and W: W sizes must not be taken for H sizes' mirrors."""
    derivation = cnncost.formula(RES_CONCAT, depth=1, k=3)
    point = dict(m=4, growth=2, h=24, w=20)
    from cnncost.symbolic import symbol

    value = derivation.formulas["macs"].xreplace({symbol(k): v for k, v in point.items()})
    assert value == cnncost.count(RES_CONCAT, depth=1, k=3, **point).total("macs")


def test_branches_that_meet_only_for_some_sizes_are_refused_not_assumed():
    """'down' adds a k×k stride-2 conv (padding (k−1)//2) to a ceil-mode 2×2 pool: equal sizes for odd k,
    and for even k only when H is even. Left free, k gives no closed form; bound to 3, it does."""
    from cnncost.errors import CnncostError

    with pytest.raises(CnncostError, match=r"^down: the branches' sizes .* agree only for some input sizes"):
        cnncost.formula(RES_CONCAT, depth=1)
    with pytest.raises(CnncostError, match="residual branches disagree"):  # k = 2, H = 25: torch refuses too
        cnncost.count(RES_CONCAT, depth=1, k=2, m=4, growth=2, h=25, w=24)
    cnncost.formula(RES_CONCAT, depth=1, k=3)


def test_a_linear_may_follow_a_global_pool_without_keepdim(tmp_path):
    """Regression: only a flatten made features flat in the builder's rank tracking."""
    from cnncost import archfile, engine

    path = tmp_path / "gap.toml"
    path.write_text('[network]\nname = "gap"\ninput = [3, 8, 8]\n[[layers]]\ntype = "conv"\nout = 8\nkernel = 3\n'
                    '[[layers]]\ntype = "globalmean"\n[[layers]]\ntype = "batchnorm"\n'
                    '[[layers]]\ntype = "linear"\nout = 2\n')
    arch = archfile.load_arch(str(path))
    table = engine.analyze(arch.build(**{p.name: p.default for p in arch.params}))
    assert [row.type for row in table.layers] == ["Conv2d", "GlobalPool", "BatchNorm1d", "Linear"]
    assert table.total("params") == 8 * 3 * 3 * 3 + 8 + 16 + 8 * 2 + 2
