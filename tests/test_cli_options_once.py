"""Each option declared once (issue 18): the network's options come from the families' declarations, ``--set``
meets them in one place, the quantity check has one home, and library errors name parameters (the CLI spells
them as flags).

The references are independent of ``cnncost.cli.options``: the registry's declarations, the Python API
(``cnncost.count``), the source files themselves.
"""

from __future__ import annotations

import json
import types
from pathlib import Path

import click
import pytest
import typer
from typer.testing import CliRunner

import cnncost
from cnncost import archs
from cnncost.arch import SHARED_HELP
from cnncost.cli import app, main
from cnncost.cli import options as o
from cnncost.conventions import check_quantity, totals
from cnncost.errors import CnncostError

ROOT = Path(__file__).resolve().parent.parent
# The commands that count a network and take its parameters as options (sweep: as lists of values).
COUNTING = ("count", "formula", "check", "memory", "summary", "plot", "sweep")
SWITCHES_TAKE_VALUES = {"sweep"}  # a grid of true/false is text: --bn true,false
WITHOUT_SET = {"plot"}  # several architectures at once: each takes the options it declares


def run(capsys, *argv: str) -> tuple:
    """(exit code, stdout, stderr) of one in-process command."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def spelled(name: str) -> str:
    """A parameter's flag, written here from the documented rule (in_channels -> --in-channels)."""
    return "--" + name.replace("_", "-")


def declarations() -> dict:
    """Every registered family's parameters, by name: {name: [Param, ...]}."""
    found: dict = {}
    for arch_name in archs.names():
        for param in archs.get(arch_name).params:
            found.setdefault(param.name, []).append(param)
    return found


@pytest.fixture(scope="module")
def commands() -> dict:
    """The click commands typer builds for the app, by name."""
    group = typer.main.get_command(app)
    return {name: group.commands[name] for name in COUNTING}


def flags(command: click.Command) -> list:
    """Every spelling of every option of a click command (repeats kept, to find clashes)."""
    return [opt for param in command.params for opt in (*param.opts, *param.secondary_opts)]


# --- the options are the declarations ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", COUNTING)
def test_every_declared_parameter_is_an_option_of_every_counting_command(name, commands):
    spellings = set(flags(commands[name]))
    missing = [(param, arch_name) for arch_name in archs.names() for param in archs.get(arch_name).params
               if spelled(param.name) not in spellings]
    assert not missing, [(arch_name, p.name) for p, arch_name in missing[:5]]
    switches = {p.name for params in declarations().values() for p in params if isinstance(p.default, bool)}
    if name not in SWITCHES_TAKE_VALUES:
        assert {"--no-" + spelled(s)[2:] for s in switches} <= spellings
    assert {"--hw", "--H", "--W"} <= spellings
    assert ("--set" in spellings) == (name not in WITHOUT_SET)


@pytest.mark.parametrize("name", COUNTING)
def test_no_option_is_spelled_twice(name, commands):
    spellings = flags(commands[name])
    assert len(spellings) == len(set(spellings)), sorted(s for s in spellings if spellings.count(s) > 1)


def test_each_option_takes_the_type_its_declarations_give(commands):
    expected = {int: click.INT, float: click.FLOAT, str: click.STRING}
    by_flag = {opt: param for param in commands["count"].params for opt in param.opts}
    for name, params in declarations().items():
        kinds = {type(p.default) for p in params}
        assert len(kinds) == 1, (name, kinds)  # one option can take only one type
        option = by_flag[spelled(name)]
        if bool in kinds:
            assert option.is_flag, name
        else:
            assert option.type == expected[kinds.pop()], name


def test_a_shared_name_has_one_help_line_true_of_every_declaration():
    """Names whose families word their help differently have an entry in arch.SHARED_HELP, and every entry
    names a declared parameter (no stale lines)."""
    worded = {name: {p.help for p in params} for name, params in declarations().items()}
    assert {name for name, helps in worded.items() if len(helps) > 1} <= set(SHARED_HELP)
    assert set(SHARED_HELP) <= set(worded)


# --- an option and --set are one thing --------------------------------------------------------------------------

SAME = [  # (command and options, parameter spelled as an option, the same as --set)
    (["count", "--json"], ["--m", "8"], ["--set", "m=8"]),
    (["count", "--json"], ["--no-bn"], ["--set", "bn=false"]),
    (["count", "--json"], ["--dropout", "0.5"], ["--set", "dropout=0.5"]),
    (["count", "densenet121", "--hw", "64", "--json"], ["--c0", "32"], ["--set", "c0=32"]),
    (["memory", "--batch", "4", "--json"], ["--n", "64"], ["--set", "n=64"]),
    (["summary", "--json"], ["--padding", "same"], ["--set", "padding=same"]),
    (["check", "159114", "--json"], ["--hw", "100", "--m", "64"], ["--hw", "100", "--set", "m=64"]),
    (["sweep", "--hw", "96", "--json"], ["--m", "8,16"], ["--set", "m=8,16"]),
    (["formula", "--quantity", "params"], ["--n", "64"], ["--set", "n=64"]),
]


@pytest.mark.parametrize("command, as_option, as_set", SAME)
def test_an_option_and_set_give_the_same_output(command, as_option, as_set, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("CNNCOST_CACHE_DIR", str(tmp_path / "cache"))
    first, second, both = (run(capsys, *command, *words) for words in (as_option, as_set, as_option + as_set))
    assert first[0] in (0, 1) and first[2] == "", first
    assert first == second == both  # given both ways with the same value: given once


def test_a_generated_option_counts_what_the_python_api_counts(capsys):
    code, out, _ = run(capsys, "count", "densenet121", "--c0", "32", "--b", "2", "--block1", "3", "--hw", "64",
                       "--json")
    assert code == 0
    assert json.loads(out)["totals"] == totals(cnncost.count("densenet121", c0=32, b=2, block1=3, h=64, w=64))


@pytest.mark.parametrize("argv", [
    ["count", "--m", "8", "--set", "m=16"],
    ["count", "--set", "m=16", "--m", "8"],
    ["count", "--hw", "64", "--set", "h=32"],
    ["count", "--no-bn", "--set", "bn=true"],
    ["count", "--m", "8", "--set", "m=abc"],
    ["summary", "--padding", "same", "--set", "padding=valid"],
    ["sweep", "--m", "8,16", "--set", "m=8"],
    ["sweep", "--hw", "32", "--set", "h=32"],
])
def test_an_option_and_set_that_disagree_are_one_line_and_exit_2(argv, capsys):
    code, out, err = run(capsys, *argv)
    name = argv[argv.index("--set") + 1].split("=")[0]
    assert code == 2 and out == "" and len(err.splitlines()) == 1, err
    assert err.startswith(f"error: --set {name}: {name} is given twice"), err


def test_the_decorator_serves_a_new_command():
    """How a command adopts it (train, tune and show will): ``given`` holds the options; ``for_arch`` adds --set."""
    trial = typer.Typer()

    @trial.command()
    @o.network_options
    def build(arch: o.Arch = o.DEFAULT_ARCH, given: o.Given = None):
        typer.echo(json.dumps({"given": dict(given), "merged": given.for_arch(o.resolve_name(arch))}))

    @trial.command()
    def other():  # two commands: typer keeps the name "build"
        """Nothing."""

    result = CliRunner().invoke(trial, ["build", "--hw", "32", "--set", "k=5"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"given": {"h": 32, "w": 32}, "merged": {"h": 32, "w": 32, "k": 5}}


# --- the quantity check has one home ----------------------------------------------------------------------------

def test_the_unknown_quantity_message_is_written_in_one_source_file():
    sources = [path for package in ("cnncost", "zoo") for path in (ROOT / package).rglob("*.py")
               if "unknown quantity" in path.read_text(encoding="utf-8")]
    assert [str(path.relative_to(ROOT)) for path in sources] == ["cnncost/conventions.py"]


@pytest.mark.parametrize("argv", [
    ["formula", "--quantity", "watts"],
    ["sweep", "--quantity", "watts"],
    ["check", "1", "--quantity", "watts"],
    ["plot", "scratch5", "--vary", "m", "--from", "8", "--to", "9", "--quantity", "watts", "--out", "x.png"],
])
def test_every_command_refuses_an_unknown_quantity_in_the_same_words(argv, capsys):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert err.startswith("error: --quantity: unknown quantity 'watts'; choose from params, keras,"), err
    assert "train-bytes" in err


def test_the_library_names_the_parameter_quantity():
    from cnncost.claims import audit, run as claims_run
    from cnncost.render import plot
    from cnncost.sweep import run as sweep_run

    spec = archs.get("scratch5")
    calls = [lambda: check_quantity("watts"), lambda: sweep_run.plan(spec, {}, ["watts"]),
             lambda: plot.series(spec, "m", [8], "watts"), lambda: claims_run.check_quantity("watts", None),
             lambda: audit.audit(None, types.SimpleNamespace(formulas={}), "watts")]
    for call in calls:
        with pytest.raises(CnncostError, match=r"^quantity: unknown quantity 'watts'; choose from params, "):
            call()
    assert check_quantity("saved-bytes") == "saved-bytes"
    with pytest.raises(CnncostError, match=r"^quantity: unknown quantity '\{0\}'"):  # user text is not a template
        check_quantity("{0}")


# --- library errors name parameters; the CLI says the flag ------------------------------------------------------

def test_library_errors_name_parameters_and_the_cli_spells_them_as_flags(tmp_path, capsys):
    from cnncost.claims import batch
    from cnncost.render import plot
    from cnncost.sweep import grid

    spec = archs.get("scratch5")
    bad = tmp_path / "claims.toml"
    bad.write_text("bogus = 1\n")
    library = [(lambda: grid.parse_values(spec, "in_channels", ","), "in_channels: empty item in ','"),
               (lambda: grid.parse_values(spec, "h", "0", label="hw"), "hw: 0 is out of range"),
               (lambda: plot.check_vary(spec, "batch"), "vary: batch changes only"),
               (lambda: batch.load(str(bad)), f"claims: {bad}: unknown top-level key 'bogus'")]
    for call, start in library:
        with pytest.raises(CnncostError) as error:
            call()
        assert str(error.value).startswith(start), str(error.value)
    cli = [(["sweep", "--in-channels", ","], "error: --in-channels: empty item in ','"),
           (["sweep", "--hw", "0"], "error: --hw: 0 is out of range"),
           (["check", "--claims", str(bad)], f"error: --claims: {bad}: unknown top-level key 'bogus'")]
    for argv, start in cli:
        code, _, err = run(capsys, *argv)
        assert code == 2 and err.startswith(start), err


# --- the zoo's commands take the same options, less those they set themselves ---------------------------------

# What each zoo command leaves out, and why (the reference is the declarations, not the commands' own tables):
# train sizes the input with --img-size, takes the classes from its data, drops auxiliary heads and has its own
# --dropout; show sizes with --img-size and takes the classes from the weights.
ZOO_LEAVES_OUT = {"train": {"h", "w", "classes", "aux_logits"}, "verify": set(), "show filters": {"h", "w", "classes"},
                  "show gradcam": {"h", "w", "classes"}, "show maximize": {"h", "w", "classes"}}


def zoo_command(path: str) -> click.Command:
    import zoo.cli.show_command  # noqa: F401  (the plugin's commands register on import)
    import zoo.cli.train_command  # noqa: F401
    import zoo.cli.verify_command  # noqa: F401

    command = typer.main.get_command(app)
    for word in path.split():
        command = command.commands[word]
    return command


@pytest.mark.parametrize("path", sorted(ZOO_LEAVES_OUT))
def test_zoo_commands_take_every_declared_parameter_but_those_they_set(path):
    spellings = set(flags(zoo_command(path)))
    expected = {spelled(name) for name in declarations()} - {spelled(name) for name in ZOO_LEAVES_OUT[path]}
    assert expected <= spellings, sorted(expected - spellings)[:5]
    assert not {spelled(name) for name in ZOO_LEAVES_OUT[path]} - {"--dropout"} & spellings
    assert "--set" in spellings
    assert len(flags(zoo_command(path))) == len(spellings)  # no spelling twice
