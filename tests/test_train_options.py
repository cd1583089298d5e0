"""``cnncost train``'s options are generated from TrainConfig's field declarations (zoo/training/fields.py):
every field is an option, each declared range is the one the CLI enforces (one line naming the option, exit 2),
the library names the field, and the words ``cnncost tune`` writes for a trial parse back to the same value."""

import dataclasses

import click
import pytest
import typer

from cnncost.arch import ParameterError
from cnncost.cli import main
from zoo.runtime.config import TrainConfig
from zoo.runtime.fields import Choice, Integer, Real, Switch, command_words, declared, field_default

NOT_OPTIONS = {"arch", "hyperparameters"}  # the positional ARCH, and the network options' own table
DECLARED = declared(TrainConfig)


def train_command() -> click.Command:
    import zoo.cli.train_command  # noqa: F401  (registers train)
    from cnncost.cli.app import app

    group = typer.main.get_command(app)
    return group.commands["train"]


def option_named(command: click.Command, name: str) -> click.Option:
    return next(p for p in command.params if p.name == name)


def test_every_field_but_arch_and_hyperparameters_is_a_declared_option():
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    assert set(DECLARED) == fields - NOT_OPTIONS
    command = train_command()
    for name, declaration in DECLARED.items():
        option = option_named(command, name)
        assert option.help == declaration.help
        spelled = set(option.opts) | set(option.secondary_opts)
        assert "--" + name.replace("_", "-") in spelled or set(declaration.flags) <= spelled, (name, spelled)


def test_a_switch_that_may_be_on_has_its_no_form_and_one_that_is_off_has_none():
    command = train_command()
    for name in ("cache", "plots", "amp", "channels_last"):
        assert option_named(command, name).secondary_opts == ["--no-" + name.replace("_", "-")]
    for name in ("resume", "nesterov", "binary", "quiet", "sync_bn", "compile"):
        assert option_named(command, name).secondary_opts == []


def outside(check):
    """A value just outside a declared range (or a word not among the choices)."""
    if isinstance(check, Integer):
        return check.low - 1
    if isinstance(check, Real):
        return check.low if check.low_open else check.low - 0.5
    if isinstance(check, Choice):
        return "no-such-" + check.values[0]
    raise AssertionError(check)


RANGED = [name for name, d in DECLARED.items() if d.check is not None and not isinstance(d.check, Switch)]


@pytest.mark.parametrize("name", RANGED)
def test_each_declared_range_is_refused_in_one_line_naming_the_option(name, tmp_path, capsys):
    check = DECLARED[name].check
    value = outside(check)
    spelled = DECLARED[name].flags[0] if DECLARED[name].flags else "--" + name.replace("_", "-")
    code = main(["train", "scratch5", "--out", str(tmp_path / "run"), "--quiet", spelled, str(value)])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {spelled}: "), err
    assert "out of range (need " in lines[0], err
    assert not (tmp_path / "run").exists()  # nothing written
    # The library names the field itself: Python callers write batch_size=, not --batch-size.
    with pytest.raises(ParameterError) as raised:
        TrainConfig(arch="scratch5", **{name: value}).check()
    assert raised.value.parameter == name and str(raised.value).startswith(f"{name}: ")


@pytest.mark.parametrize(("check", "inside", "out"), [
    (Integer(1), [1, 10**40], [0, -1, True, 1.0, "1"]),
    (Integer(0, 3), [0, 3], [-1, 4]),
    (Integer(0, lambda config: config.nnodes - 1), [0], [1]),  # the config's nnodes is 1
    (Real(0, low_open=True), [1e-300, 5], [0, -1, float("nan"), float("inf"), 10**400, True]),
    (Real(0, 1), [0, 0.999], [1, -1e-9]),
    (Real(0, 1, low_open=True, high_open=False), [1, 1e-9], [0, 1.0000001]),
    (Choice(("a", "b")), ["a", "b"], ["c", "", None, 1]),
    (Switch(), [True, False], [1, 0, "true", None]),
])
def test_a_range_holds_exactly_its_values(check, inside, out):
    config = TrainConfig(arch="scratch5")
    assert all(check.holds(value, config) for value in inside)
    assert not any(check.holds(value, config) for value in out)


def test_range_texts_state_each_bound_as_written():
    config = TrainConfig(arch="scratch5")
    assert Real(0, low_open=True).need(config) == "a finite number > 0"
    assert Real(0).need(config) == "a finite number ≥ 0"
    assert Real(0, 1).need(config) == "0 ≤ value < 1"
    assert Real(0, 1, low_open=True, high_open=False).need(config) == "0 < value ≤ 1"
    assert Integer(20, 1_000_000).need(config) == "an integer from 20 to 1,000,000"


SAMPLES = {bool: [True, False], int: [3], float: [0.25], str: ["cosine"]}


@pytest.mark.parametrize("name", sorted(DECLARED))
def test_the_words_tune_writes_parse_back_to_the_value(name):
    from zoo.runtime.fields import value_type

    command = train_command()
    kind = value_type(TrainConfig, name)
    for value in SAMPLES[kind]:
        if value == field_default(TrainConfig, name):
            continue  # tune leaves defaults out
        words = command_words(TrainConfig, name, value)
        context = command.make_context("train", ["scratch5", *words], resilient_parsing=True)
        assert context.params[name] == value, (name, words, context.params[name])


def test_train_refuses_set_for_what_it_sets_itself(tmp_path, capsys):
    for item, why in (("classes=5", "the classes come from --data"), ("h=64", "--img-size S")):
        code = main(["train", "scratch5", "--out", str(tmp_path / "run"), "--set", item])
        err = capsys.readouterr().err
        assert code == 2 and err.startswith(f"error: --set {item.split('=')[0]}: train sets it itself") \
            and why in err, err
    assert not (tmp_path / "run").exists()


def test_every_network_parameter_but_the_ones_train_sets_is_an_option_of_train():
    from cnncost.cli.options import NETWORK_PARAMS
    from zoo.cli.train_command import SET_BY_TRAIN

    names = {p.name for p in train_command().params}
    expected = set(NETWORK_PARAMS) - set(SET_BY_TRAIN) - {"dropout"}
    assert expected <= names
    assert not (set(SET_BY_TRAIN) | {"hw"}) & names


def test_a_ranks_parameter_error_reaches_the_parent_spelled_as_its_caller_spells_it():
    """A rank (a process of its own) sends the error's parts; the parent raises it again, so the command line
    still prints --weights (the rank's own str() would have said weights)."""
    from cnncost.arch import flag, spelled_as
    from zoo.training.launch import _outcome

    sent = {0: {"parameter_error": ("weights", "x.pt does not fit {listed}", ("arch",))}, 1: {}}
    with pytest.raises(ParameterError) as raised:
        _outcome(sent)
    assert str(raised.value) == "weights: x.pt does not fit arch"
    with spelled_as(flag, "an option"):
        assert str(raised.value) == "--weights: x.pt does not fit --arch"
