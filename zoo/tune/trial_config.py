"""A trial's ``cnncost train`` configuration: the study's fixed options, then the trial's parameters.

Also the inverse, for people: the same configuration as a ready ``cnncost train`` command line.
"""

from __future__ import annotations

import dataclasses
import shlex

from cnncost import archs
from cnncost.arch import ParameterError, check_value, spelled_as
from cnncost.errors import CnncostError

from ..runtime.config import TrainConfig
from ..runtime.fields import command_words
from .spec import config_key

# Network parameters ``cnncost train`` takes as options of their own; any other is given with --set.
TRAIN_NETWORK_FLAGS = ("m", "k", "n", "org", "bn", "activation", "padding", "include_top", "head")
NOT_SHOWN = ("arch", "out", "resume", "quiet", "hyperparameters")


def base_config(spec, out: str) -> TrainConfig:
    """The options every trial shares: network, strategy, data, epochs, ``train`` and the constants."""
    config = TrainConfig(arch=spec.network, strategy=spec.strategy, data=spec.data, epochs=spec.epochs, out=out,
                         quiet=True, **spec.train)
    return with_parameters(config, spec.constants, spec)


def trial_config(spec, params: dict, out: str) -> TrainConfig:
    """Trial ``params`` ({config name: value}) applied over the study's shared options."""
    return with_parameters(base_config(spec, out), params, spec)


def with_parameters(config: TrainConfig, params: dict, spec) -> TrainConfig:
    """``config`` with each parameter set on its train option or network design variable."""
    from .space import ALIASES, TRAIN_FIELDS

    train, network = {}, dict(config.hyperparameters)
    for name, value in params.items():
        field = ALIASES.get(name.replace("-", "_"), name.replace("-", "_"))
        if field in TRAIN_FIELDS:
            train[field] = value
        else:
            network[field] = value
    return dataclasses.replace(config, hyperparameters=network, **train)


def check_parameters(spec) -> None:
    """Every searched name is a train option or a parameter the network declares, and every listed choice
    is in that option's range on its own (a combination may still be invalid: its trial is pruned)."""
    arch = archs.get(spec.network)
    base = base_config(spec, out="check")
    for name in spec.constants:
        _check_one(arch, base, spec, name, spec.constants[name])
    for parameter in spec.parameters:
        choices = parameter.values if parameter.values is not None else (parameter.low, parameter.high)
        if parameter.distribution == "log_uniform":
            choices = ()  # exponents, not values: the suggested value is checked by its trial
        for value in choices:
            _check_one(arch, base, spec, parameter.name, value)


def _check_one(arch, base: TrainConfig, spec, name: str, value) -> None:
    """One value of parameter ``name``: a one-line error naming ``parameters.NAME`` when out of range."""
    from .space import ALIASES, TRAIN_FIELDS

    field = ALIASES.get(name.replace("-", "_"), name.replace("-", "_"))
    try:
        if field in TRAIN_FIELDS:
            dataclasses.replace(base, **{field: value}).check()
            return
        declared = arch.param(field)
        if declared is None:
            accepted = ", ".join(p.name for p in arch.params if p.name not in ("h", "w", "classes"))
            raise ParameterError(field, f"neither a train option nor a parameter of {arch.name} "
                                        f"(its parameters: {accepted})")
        check_value(arch, declared, value)
    except ParameterError as error:  # the config's own words: parameters.NAME, and other settings by their keys
        with spelled_as(config_key, "a key"):
            raise CnncostError(f"parameters.{name}: {error.why()}") from None
    except CnncostError as error:  # a refusal that names no setting
        raise CnncostError(f"parameters.{name}: {error}") from None


def command_line(config: TrainConfig, out: str = "runs/best") -> str:
    """``cnncost train ...`` that trains ``config`` again (into ``out``); defaults are left out."""
    default = TrainConfig(arch=config.arch)
    words = ["cnncost", "train", config.arch]
    for field in dataclasses.fields(TrainConfig):
        value = getattr(config, field.name)
        if field.name in NOT_SHOWN or value == getattr(default, field.name):
            continue
        words += command_words(TrainConfig, field.name, value)
    for name, value in config.hyperparameters.items():
        words += _network_words(name, value)
    return " ".join(shlex.quote(word) for word in words + ["--out", out])


def _network_words(name: str, value) -> list:
    if name in TRAIN_NETWORK_FLAGS:
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            return [flag if value else "--no-" + flag[2:]]
        return [flag, _text(value)]
    return ["--set", f"{name}={_text(value)}"]


def _text(value) -> str:
    """A value as an option's text: true/false for switches, repr-exact floats."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)
