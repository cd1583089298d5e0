"""Names are resolved at the edge, the library takes ``Arch`` objects, and the zoo plugs in (issue 18).

* ``cnncost.resolve`` turns every kind of name into the same ``Arch`` its own source gives;
* a TOML file loads without importing the registered families; ``count``/``formula`` import neither
  torch nor the zoo;
* library functions given an ``Arch`` never look a name up again, and the CLI resolves each name once;
* a missing or broken plugin is one clear line for ``module:`` names and the zoo's commands;
* no module of cnncost/ imports zoo/ (but the three commands still waiting to move).
"""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from cnncost import arch as core
from cnncost import plugins, resolve
from cnncost.cli import main
from cnncost.errors import CnncostError

ROOT = Path(__file__).resolve().parent.parent
TOML = str(ROOT / "examples" / "tiny_resnet.toml")


def run_python(code: str) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter started in the repository root."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)


def imported(code: str, prefixes: tuple) -> list:
    """The modules starting with ``prefixes`` that a fresh interpreter has imported after ``code``."""
    probe = f"{code}\nimport sys, json\nprint(json.dumps(sorted(m for m in sys.modules if m.startswith({prefixes!r}))))"
    result = run_python(probe)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- the resolver

def test_every_kind_of_name_resolves_to_what_its_own_source_gives():
    from cnncost.archfile import load_arch
    from cnncost.archs import registry

    assert resolve.resolve_arch("resnet50") is registry._REGISTRY["resnet50"]
    assert resolve.resolve_arch("zoo.keras_xception") is registry._REGISTRY["keras_xception"]  # a Keras flavour
    assert resolve.resolve_arch(TOML) is load_arch(TOML)
    assert registry.get("vgg11") is resolve.resolve_arch("vgg11")  # the old entry point is the same resolver


def test_an_unknown_name_is_one_line_listing_the_known():
    with pytest.raises(CnncostError) as raised:
        resolve.resolve_arch("resnet5O")
    message = str(raised.value)
    assert message.startswith("unknown architecture 'resnet5O'; known: ") and "\n" not in message
    assert "resnet50" in message.split("known: ")[1].split(", ")


def test_the_core_types_are_the_registrys():
    from cnncost.archs import registry

    for name in ("Arch", "Param", "ParameterError", "check_value", "resolve", "input_size_params", "MODULE_PREFIX"):
        assert getattr(registry, name) is getattr(core, name), name


def test_loading_an_architecture_file_imports_no_family():
    code = ("from cnncost.arch import resolve\nfrom cnncost.resolve import resolve_arch\n"
            f"arch = resolve_arch({TOML!r})\narch.build(**resolve(arch, {{}}))")
    assert imported(code, ("cnncost.archs", "cnncost.heads", "zoo", "torch")) == []
    code = f"from cnncost.archfile import load_arch; load_arch({TOML!r})"
    assert imported(code, ("cnncost.archs", "zoo", "torch")) == []


@pytest.mark.parametrize("argv", [["count", "--json"], ["formula", "resnet18", "--no-cache"], ["count", TOML]])
def test_count_and_formula_import_neither_torch_nor_the_zoo(argv):
    code = f"from cnncost.cli import main; assert main({argv!r}) == 0"
    assert imported(code, ("torch", "zoo")) == []


# ---------------------------------------------------------------- the library takes Arch objects

@pytest.fixture
def no_name_lookups(monkeypatch):
    """Any name resolved from now on fails the test."""

    def refuse(name):
        raise AssertionError(f"looked up {name!r} again")

    monkeypatch.setattr(resolve, "resolve_arch", refuse)


def test_library_functions_given_an_arch_never_look_a_name_up(no_name_lookups):
    from cnncost import symbolic
    from cnncost.claims.run import check_one
    from cnncost.render.plot import series
    from cnncost.sweep import run

    tiny = resolve_file()
    derivation = symbolic.derive(tiny, {"h": 32, "w": 32})  # closed forms in m
    assert derivation.arch == TOML
    m = symbolic.symbol("m")
    assert [derivation.formulas["macs"].subs(m, value) for value in (5, 16)] == [
        cnncost_count(tiny, "macs", m=value) for value in (5, 16)]
    s = series(tiny, "m", range(4, 8), "params", {"h": 32, "w": 32})
    assert s.xs == [4, 5, 6, 7] and s.ys == [cnncost_count(tiny, m=value) for value in range(4, 8)]
    grid = run.Stream(run.plan(tiny, {"hw": [16, 24]}, ["macs"]))
    columns = run.concatenate(list(grid.chunks()))
    assert list(columns["macs"]) == [cnncost_count(tiny, "macs", h=hw, w=hw) for hw in (16, 24)]
    verdict = check_one(str(cnncost_count(tiny)), tiny, "params", None, {})
    assert verdict["equal"] and verdict["arch"] == TOML


def resolve_file():
    """The example file's Arch, read straight from the file (not through the resolver)."""
    from cnncost.archfile import load_arch

    return load_arch(TOML)


def cnncost_count(arch, quantity: str = "params", **sizes) -> int:
    """The numeric engine's total: the independent reference for the symbolic paths."""
    from cnncost import engine

    return engine.analyze(arch.build(**core.resolve(arch, sizes))).total(quantity)


@pytest.mark.parametrize("argv, names", [
    (["formula", TOML, "--no-cache", "--quantity", "params"], 1),
    (["sweep", TOML, "--hw", "16,24"], 1),
    (["check", "1", TOML, "--hw", "16"], 1),
    (["count", TOML, "--set", "h=16", "--w", "16"], 1),
])
def test_the_cli_resolves_each_name_once(monkeypatch, capsys, argv, names):
    seen = []
    real = resolve.resolve_arch

    def counting(name):
        seen.append(name)
        return real(name)

    monkeypatch.setattr(resolve, "resolve_arch", counting)
    assert main(argv) in (0, 1), capsys.readouterr().err
    assert seen == [TOML] * names


# ---------------------------------------------------------------- plugins

def test_a_plugin_adds_a_name_prefix(monkeypatch):
    """A fake entry point registers ``toy:``; the resolver hands the rest of the name to it."""
    made = core.Arch("toy", lambda h, w: None, core.input_size_params(8), "a toy", "here")
    calls = []

    class Point:
        name, value = "toy", "toy_plugin:register"

        def load(self):
            return lambda hooks: hooks.add_resolver("toy:", lambda spec: calls.append(spec) or made)

    monkeypatch.setattr(plugins, "_HOOKS", [plugins.load([Point()])])
    assert resolve.resolve_arch("toy:tiny-v2") is made and calls == ["tiny-v2"]
    with pytest.raises(CnncostError, match="unknown architecture 'other:x'"):
        resolve.resolve_arch("other:x")  # a prefix no plugin reads is just an unknown name


@pytest.mark.parametrize("prefix", ["module", "two words:", ":", "9x:"])
def test_a_resolver_prefix_is_a_word_and_a_colon(prefix):
    with pytest.raises(ValueError, match="a word and a colon"):
        plugins.Hooks().add_resolver(prefix, lambda spec: None)


def test_a_plugin_that_fails_is_named_with_its_reason():
    class Broken:
        name, value = "broken", "broken:register"

        def load(self):
            raise ModuleNotFoundError("No module named 'torch'", name="torch")

    loaded = plugins.load([Broken()])
    assert loaded.failed == {"broken": "No module named 'torch' (pip install 'cnncost[torch]')"}


MISSING_PLUGIN = "import cnncost.plugins as p; p._entry_points = lambda: []\n"
BROKEN_PLUGIN = "import sys; sys.modules['zoo.plugin'] = None\n"  # importing the entry point's module fails
NO_TORCH = "import sys; sys.modules['torch'] = None\n"  # importing torch fails


def one_error_line(setup: str, argv: list) -> str:
    """The one stderr line of ``main(argv)`` in a fresh interpreter after ``setup``, which must exit 2
    while ``count`` still works there."""
    code = setup + f"from cnncost.cli import main\nprint('EXIT', main({argv!r}), main(['count', '--json']) == 0)"
    result = run_python(code)
    assert result.stdout.strip().splitlines()[-1] == "EXIT 2 True", result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


@pytest.mark.parametrize("setup, reason", [(MISSING_PLUGIN, "no cnncost plugin is installed"),
                                           (BROKEN_PLUGIN, "the plugin zoo did not load: ")])
@pytest.mark.parametrize("argv, start", [(["verify"], "error: No such command 'verify': "),
                                         (["count", "module:nets.py:Net"],
                                          "error: module:nets.py:Net: reading a PyTorch module needs torch and "
                                          "the zoo plugin; ")])
def test_without_the_zoo_plugin_its_names_and_commands_are_one_clear_line(setup, reason, argv, start):
    line = one_error_line(setup, argv)
    assert line.startswith(start) and reason in line, line


def test_without_torch_the_zoo_plugin_still_loads_and_says_what_is_missing(tmp_path):
    line = one_error_line(NO_TORCH, ["verify", "--m", "4", "--k", "3", "--hw", "130"])
    assert line.startswith("error: verify needs torch, fvcore and ptflops: pip install 'cnncost[torch]' ("), line
    net = tmp_path / "net.py"
    net.write_text("import torch\n\n\nclass Net(torch.nn.Module):\n    pass\n", encoding="utf-8")
    line = one_error_line(NO_TORCH, ["count", f"module:{net}:Net"])
    assert line.startswith(f"error: {net}:1: importing {net} failed: ModuleNotFoundError") and "torch" in line, line


def test_listing_the_commands_loads_the_zoo_plugin_without_torch():
    code = "from cnncost.cli import main\nassert main(['--help']) == 0"
    # train's options come from TrainConfig's declarations, which import no torch (nor does anything they need)
    assert imported(code, ("torch", "zoo")) == ["zoo", "zoo.cli", "zoo.cli.show_command", "zoo.cli.train_command",
                                                "zoo.cli.train_options", "zoo.cli.tune_command",
                                                "zoo.cli.verify_command", "zoo.plugin", "zoo.runtime",
                                                "zoo.runtime.choices", "zoo.runtime.config", "zoo.runtime.fields"]


def test_the_zoo_plugin_provides_module_names_and_verify():
    pytest.importorskip("torch")
    import typer

    from cnncost.cli import app

    loaded = plugins.hooks()
    assert not loaded.failed, loaded.failed
    from zoo.plugin import module_arch

    assert loaded.resolvers["module:"] is module_arch and "zoo.cli.verify_command" in loaded.command_modules
    group = typer.main.get_command(app)
    assert group.get_command(None, "verify").callback.__module__ == "zoo.cli.verify_command"
    assert "verify" in group.list_commands(None)


# ---------------------------------------------------------------- what the package holds

def test_no_cnncost_module_imports_the_zoo():
    """Every import statement of cnncost/, at any depth: none names zoo (but the commands not yet moved)."""
    offenders = []
    for path in sorted((ROOT / "cnncost").rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            if any(name == "zoo" or name.startswith("zoo.") for name in names):
                offenders.append(f"{relative}:{node.lineno}")
    assert offenders == []


def test_the_docs_generator_and_plot_are_outside_the_core():
    assert importlib.util.find_spec("cnncost.docs") is None and importlib.util.find_spec("cnncost.plot") is None
    assert importlib.util.find_spec("docs.generator") is not None
