"""cnncost tune's config files: wandb's sweep schema plus cnncost's keys, each problem one line naming its key."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnncost.errors import CnncostError
from zoo.tune import space
from zoo.tune.spec import parse_spec, read_spec
from zoo.tune.trial_config import command_line, trial_config

BASE = {"method": "grid", "metric": {"name": "val_acc", "goal": "maximize"}, "network": "scratch5",
        "epochs": 2, "train": {"img_size": 32, "synthetic_size": 40, "device": "cpu"},
        "parameters": {"m": {"values": [4, 8]}, "padding": {"value": "same"}, "lr": {"values": [0.001, 0.01]}}}


def spec_with(**changes):
    document = {**BASE, **changes}
    return parse_spec({k: v for k, v in document.items() if v is not None})


def test_a_grid_is_every_combination_with_constants_applied():
    spec = spec_with()
    points = space.grid_points(spec.parameters)
    assert points == [{"m": 4, "lr": 0.001}, {"m": 4, "lr": 0.01}, {"m": 8, "lr": 0.001}, {"m": 8, "lr": 0.01}]
    config = trial_config(spec, points[3], out="x")
    assert (config.lr, config.hyperparameters, config.img_size, config.epochs) == (0.01, {"padding": "same", "m": 8},
                                                                                   32, 2)


def test_yaml_and_toml_files_say_the_same(tmp_path):
    (tmp_path / "a.yaml").write_text(
        "method: bayes\nrun_cap: 5\nmetric: {name: val_loss}\nnetwork: scratch5\nmax_train_bytes: 2GiB\n"
        "max_macs: 1e9\nparameters:\n  learning_rate: {min: 0.0001, max: 0.1, distribution: log_uniform_values}\n"
        "  bn: {values: [true, false]}\n  batch: {min: 8, max: 32, q: 8}\n")
    (tmp_path / "a.toml").write_text(
        'method = "bayes"\nrun_cap = 5\nnetwork = "scratch5"\nmax_train_bytes = "2GiB"\nmax_macs = 1e9\n'
        '[metric]\nname = "val_loss"\n[parameters.learning_rate]\nmin = 0.0001\nmax = 0.1\n'
        'distribution = "log_uniform_values"\n[parameters.bn]\nvalues = [true, false]\n'
        '[parameters.batch]\nmin = 8\nmax = 32\nq = 8\n')
    yaml_spec, toml_spec = read_spec(str(tmp_path / "a.yaml")), read_spec(str(tmp_path / "a.toml"))
    assert yaml_spec.to_dict() == toml_spec.to_dict()
    assert yaml_spec.metric.goal == "minimize"  # a loss is minimised unless the goal says otherwise
    assert yaml_spec.budgets == {"train_bytes": 2 * 2**30, "macs": 10**9}
    assert [p.distribution for p in yaml_spec.parameters] == ["log_uniform_values", "categorical", "int_uniform"]
    assert [p.field for p in yaml_spec.parameters] == ["lr", "bn", "batch_size"]


@pytest.mark.parametrize("changes, message", [
    ({"methd": "grid"}, "methd: not a tune config key"),
    ({"method": "hyperopt"}, "method: 'hyperopt' is not one of grid, random, bayes"),
    ({"method": "bayes"}, "run_cap: missing; a bayes search needs the number of trials"),
    ({"metric": {"name": "accuracy"}}, "metric.name: 'accuracy' is not one of val_acc"),
    ({"metric": {"name": "val_acc", "goal": "up"}}, "metric.goal: 'up' is not one of maximize, minimize"),
    ({"objectives": ["val_acc", "latency"]}, "objectives: 'latency' is not a cost"),
    ({"objectives": ["val_loss", "macs"]}, "objectives: the first must be the metric 'val_acc'"),
    ({"objectives": ["val_acc", "macs"], "early_terminate": {"type": "hyperband"}},
     "early_terminate: Optuna cannot prune a study with several objectives"),
    ({"early_terminate": {"type": "asha"}}, "early_terminate.type: 'asha' is not one of hyperband, median"),
    ({"parameters": {"lr": {"min": 0.001, "max": 0.1}}}, "parameters.lr: a grid takes values: [...]"),
    ({"parameters": {"growth": {"values": [12, 32]}}}, "parameters.growth: neither a train option nor a parameter "
                                                       "of scratch5"),
    ({"parameters": {"lr": {"values": [0.0, 0.1]}}}, "parameters.lr: 0.0 is out of range (need a finite number > 0)"),
    ({"parameters": {"m": {"values": [0, 4]}}}, "parameters.m:"),
    ({"parameters": {"conv_filters": {"values": [[32, 64], [64, 32]]}}}, "parameters.conv_filters.values: [32, 64] "
                                                                         "is not a number, true/false or text"),
    ({"parameters": {"m": {"values": [4, 4]}}}, "parameters.m.values: a choice is listed twice"),
    ({"parameters": {"lr": {"values": [0.1], "min": 1}}}, "parameters.lr: values lists the choices"),
    ({"parameters": {"hw": {"values": [32]}, "img_size": {"values": [64]}}}, "parameters.img_size: sets img_size as "
                                                                             "hw does"),
    ({"parameters": {"h": {"values": [32]}}}, "parameters.h: the input side is searched as hw"),
    ({"train": {"optimiser": "sgd"}}, "train.optimiser: not a train option a study sets"),
    ({"train": {"batch_size": 0}}, "train.batch_size: 0 is out of range (need an integer ≥ 1)"),
    ({"epochs": 0}, "epochs: 0 is out of range (need an integer ≥ 1)"),
    ({"network": "resnet9000"}, "resnet9000"),
    ({"max_macs": "lots"}, "max_macs: 'lots' is out of range"),
    ({"max_params": 0}, "max_params: 0 is out of range"),
    ({"max_train_bytes": "nan"}, "max_train_bytes: nan is out of range"),
    ({"run_cap": 0}, "run_cap: 0 is out of range"),
    ({"heartbeat": 0}, "heartbeat: 0 is out of range"),
])
def test_each_problem_is_one_line_naming_its_key(changes, message):
    with pytest.raises(CnncostError) as raised:
        spec_with(**changes)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("body, message", [
    ({"min": 0.1, "max": 0.01}, "min 0.1 must be below max 0.01"),
    ({"min": 0, "max": 1, "distribution": "log_uniform_values"}, "log_uniform_values needs min > 0"),
    ({"min": 0.0, "max": 1.0, "distribution": "q_uniform"}, "q_uniform needs its step q"),
    ({"min": 0.0, "max": 1.0, "q": 0.3, "distribution": "q_uniform"}, "is not a whole number of steps 0.3"),
    ({"min": 0.5, "max": 2, "distribution": "int_uniform"}, "int_uniform needs whole-number min and max"),
    ({"min": 0.0, "max": 1.0, "distribution": "normal"}, "'normal' is not one of int_uniform"),
    ({"min": float("nan"), "max": 1.0}, "parameters.x.min: nan is not a finite number"),
    ({"max": 1.0}, "give values: [...], value: ..., or both min and max"),
    ({"values": [1], "probabilities": [1.0]}, "parameters.x.probabilities: not supported"),
])
def test_distribution_bounds_are_checked(body, message):
    with pytest.raises(CnncostError, match="parameters.x") as raised:
        space.parse_parameter("x", body, "random")
    assert message in str(raised.value)


def test_distributions_map_onto_optuna_as_wandb_defines_them():
    import optuna

    bodies = {"a": {"min": 1, "max": 4}, "b": {"min": 0.0, "max": 1.0}, "c": {"min": 0.0, "max": 1.0, "q": 0.25,
                                                                                   "distribution": "q_uniform"},
              "d": {"min": -2.0, "max": 0.0, "distribution": "log_uniform"}, "e": {"values": ["x", "y"]}}
    parameters = [space.parse_parameter(name, body, "random") for name, body in bodies.items()]
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(30):
        trial = study.ask()
        drawn = {p.name: p.suggest(trial) for p in parameters}
        assert drawn["a"] in (1, 2, 3, 4) and isinstance(drawn["a"], int)
        assert 0.0 <= drawn["b"] <= 1.0
        assert drawn["c"] in (0.0, 0.25, 0.5, 0.75, 1.0)
        assert math.exp(-2.0) - 1e-12 <= drawn["d"] <= 1.0  # log_uniform: min and max are exponents
        assert drawn["e"] in ("x", "y")
        study.tell(trial, 0.0)


def test_the_command_line_of_a_trial_gives_the_same_configuration(tmp_path, monkeypatch):
    """What `tune report` prints as the best run's command parses back into the trial's own configuration."""
    import shlex

    from cnncost.cli import main

    spec = spec_with(parameters={"m": {"values": [4]}, "padding": {"value": "same"}, "bn": {"values": [True]},
                                 "lr": {"values": [0.003]}, "augment": {"values": [True]},
                                 "in_channels": {"values": [1]}},
                     train={"img_size": 32, "synthetic_size": 40, "device": "cpu", "cache": False, "plots": False,
                            "weight_decay": 1e-4, "optimizer": "sgd"})
    config = trial_config(spec, {"m": 4, "bn": True, "lr": 0.003, "augment": True, "in_channels": 1}, out="x")
    line = command_line(config, out=str(tmp_path / "best"))
    assert "--set in_channels=1" in line  # train has no option of its own for it
    seen = []
    monkeypatch.setattr("zoo.training.run.train", lambda given: seen.append(given))
    assert main(shlex.split(line)[1:]) == 0
    again = seen[0]
    assert {**again.to_dict(), "out": "x", "quiet": True} == config.to_dict()


@settings(max_examples=150)
@given(st.dictionaries(st.sampled_from(["method", "metric", "parameters", "run_cap", "network", "epochs", "train",
                                        "max_macs", "objectives", "early_terminate", "seed", "strategy", "name"]),
                       st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                                    lambda inner: st.lists(inner, max_size=3)
                                    | st.dictionaries(st.sampled_from(["name", "goal", "values", "value", "min",
                                                                       "max", "m", "lr", "type", "q"]), inner,
                                                      max_size=3), max_leaves=8)))
def test_hostile_configs_are_refused_in_one_line_or_accepted(document):
    """No config, however odd, gets past the parser as anything but a checked spec or one CnncostError line."""
    try:
        spec = parse_spec(document)
    except CnncostError as error:
        assert "\n" not in str(error) and str(error)
        return
    assert spec.method in ("grid", "random", "bayes") and spec.objectives


HOSTILE_FILES = {
    "binary.yaml": b"\x00\xff\xfe garbage \x80",
    "list.yaml": b"- method\n- grid\n",
    "tabs.yaml": b"method:\tgrid\n  metric: [\n",
    "bomb.yaml": b"a: &a [x, x, x]\nb: &b [*a, *a, *a]\nc: &c [*b, *b, *b]\nmethod: *c\n",
    "bad.toml": b"method = grid\n[[",
    "huge.yaml": b"method: grid\nmetric: val_acc\nnetwork: scratch5\nparameters: {m: {values: [" + b"9" * 400 + b"]}}\n",
    "python.yaml": b"method: !!python/object/apply:os.system ['echo owned']\n",
    "empty.yaml": b"",
    "notes.txt": b"method: grid\n",
}


@pytest.mark.parametrize("name", sorted(HOSTILE_FILES))
def test_hostile_config_files_are_one_line_errors_and_write_nothing(tmp_path, capsys, name):
    from cnncost.cli import main

    path = tmp_path / name
    path.write_bytes(HOSTILE_FILES[name])
    assert main(["tune", str(path), "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and error.count("\n") == 1 and "Traceback" not in error, error
    assert "owned" not in error and not (tmp_path / "out").exists()  # refused before any study was made


@pytest.mark.parametrize("args, message", [
    (["tune", "report"], "DIR: give the study folder"),
    (["tune", "report", "NOWHERE"], "holds no study.db"),
    (["tune", "report", ".", "--top", "0"], "--top: 0 is out of range"),
    (["tune", "report", "--storage", "sqlite:////nonexistent/dir/x.db"], "--storage: cannot open"),
])
def test_report_of_no_study_is_a_one_line_error(tmp_path, capsys, monkeypatch, args, message):
    from cnncost.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1, error
