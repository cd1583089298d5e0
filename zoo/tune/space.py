"""The search space: each ``parameters`` entry of a tune config as an Optuna distribution.

wandb's forms are accepted: ``value`` (a constant), ``values`` (categorical), ``min``/``max`` with
``distribution`` one of int_uniform, uniform, q_uniform, log_uniform_values or log_uniform (whose
min and max are natural-log exponents, as in wandb). When ``distribution`` is left out, two integer
bounds mean int_uniform and any other bounds uniform, as wandb infers.

A parameter names a ``cnncost train`` option (lr, batch_size, optimizer, weight_decay, augment, ...;
``learning_rate``/``max_lr``, ``batch``, ``hw`` and ``grad_clip`` are accepted for lr, batch_size, img_size
and clip_grad) or, otherwise,
a design variable of the network (m, k, n, org, bn, activation, ...), which ``trial_config`` checks
against the network's declared parameters.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

from cnncost.errors import CnncostError

from ..runtime.config import TrainConfig
from ..runtime.fields import declared

DISTRIBUTIONS = ("categorical", "constant", "int_uniform", "uniform", "q_uniform", "log_uniform_values",
                 "log_uniform")
# The reports' and wandb users' spellings of train options (report 004 writes max_lr and grad_clip).
ALIASES = {"learning_rate": "lr", "max_lr": "lr", "batch": "batch_size", "hw": "img_size", "grad_clip": "clip_grad"}
# Train options a trial may vary (the others are the study's: which network, where the run goes, ...).
# Which they are is part of each field's declaration (fields.Option.searchable).
TRAIN_FIELDS = frozenset(name for name, declaration in declared(TrainConfig).items() if declaration.searchable)
BODY_KEYS = ("value", "values", "min", "max", "q", "distribution")


@dataclass(frozen=True)
class Constant:
    """A parameter fixed for every trial (wandb's ``value``)."""

    value: Any


@dataclass(frozen=True)
class Parameter:
    """One searched (or constant) parameter of the study."""

    name: str  # as the config spells it: the key of trial.params
    field: str  # the TrainConfig field or the network parameter it sets
    target: str  # "train" or "network"
    distribution: str
    values: tuple | None = None  # categorical choices
    low: float | int | None = None
    high: float | int | None = None
    q: float | int | None = None
    constant: Constant | None = None

    def as_config(self) -> dict:
        """The parameter in the config's own form (what the study stores)."""
        if self.distribution == "categorical":
            assert self.values is not None  # parse_parameter gives every categorical parameter its values
            return {"values": list(self.values)}
        body = {"min": self.low, "max": self.high, "distribution": self.distribution}
        return body if self.q is None else {**body, "q": self.q}

    def suggest(self, trial) -> Any:
        """This parameter's value for an Optuna trial (fixed when the trial was queued with it)."""
        if self.distribution == "categorical":
            assert self.values is not None  # as in as_config
            return trial.suggest_categorical(self.name, list(self.values))
        if self.distribution == "int_uniform":
            return trial.suggest_int(self.name, self.low, self.high, step=self.q or 1)
        if self.distribution == "log_uniform":  # wandb: e^min .. e^max
            assert self.low is not None and self.high is not None  # parse_parameter sets a range's bounds
            return trial.suggest_float(self.name, math.exp(self.low), math.exp(self.high), log=True)
        return trial.suggest_float(self.name, self.low, self.high, log=self.distribution == "log_uniform_values",
                                   step=self.q)


def parse_parameter(name: str, body, method: str) -> Parameter:
    """A ``parameters`` entry checked: its name's target and its distribution's bounds."""
    key = f"parameters.{name}"
    if not isinstance(body, dict):
        raise CnncostError(f"{key}: {_shown(body)} is not a mapping; write {{values: [...]}}, {{value: ...}} or "
                           "{min: ..., max: ...}")
    extra = [k for k in body if k not in BODY_KEYS]
    if extra:
        raise CnncostError(f"{key}.{extra[0]}: not supported; a parameter takes " + ", ".join(BODY_KEYS))
    field = ALIASES.get(name.replace("-", "_"), name.replace("-", "_"))
    target = "train" if field in TRAIN_FIELDS else "network"
    if field in ("h", "w", "classes"):
        raise CnncostError(f"{key}: the input side is searched as hw (H = W); the classes come from the data")
    common: dict[str, Any] = dict(name=name, field=field, target=target)
    if "value" in body:
        if len(body) != 1:
            raise CnncostError(f"{key}: value fixes the parameter; it takes no other key")
        return Parameter(**common, distribution="constant", constant=Constant(_choice_value(body["value"], key)))
    if "values" in body:
        return _categorical(body, key, common)
    if method == "grid":
        raise CnncostError(f"{key}: a grid takes values: [...] (min and max are for random and bayes)")
    return _ranged(body, key, common)


def _categorical(body: dict, key: str, common: dict) -> Parameter:
    values = body["values"]
    others = [k for k in body if k not in ("values", "distribution")]
    if others or body.get("distribution", "categorical") != "categorical":
        raise CnncostError(f"{key}: values lists the choices; it takes no {others[0] if others else 'distribution'}")
    if not isinstance(values, list) or not values:
        raise CnncostError(f"{key}.values: {_shown(values)} is not a non-empty list of choices")
    checked = tuple(_choice_value(v, key + ".values") for v in values)
    if len({(type(v), v) for v in checked}) != len(checked):
        raise CnncostError(f"{key}.values: a choice is listed twice")
    return Parameter(**common, distribution="categorical", values=checked)


def _choice_value(value, key: str):
    """A choice Optuna can store: a number, true/false, text or null (a list such as [32, 64] is not)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if _finite_number(value):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        raise CnncostError(f"{key}: {_shown(value)} is out of range (Optuna stores integers within ±2^63)")
    raise CnncostError(f"{key}: {_shown(value)} is not a number, true/false or text (Optuna stores only those; "
                       "a list such as conv_filters [32, 64, ...] becomes m with org same, double or half)")


def _finite_number(value) -> bool:
    """A finite float, or an int a 64-bit store (and a float) can hold; never a bool."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) < 2**63
    return isinstance(value, float) and math.isfinite(value)


def _ranged(body: dict, key: str, common: dict) -> Parameter:
    if "min" not in body or "max" not in body:
        raise CnncostError(f"{key}: give values: [...], value: ..., or both min and max")
    low, high, q = body["min"], body["max"], body.get("q")
    for bound, value in (("min", low), ("max", high), ("q", q)):
        if value is not None and not _finite_number(value):
            raise CnncostError(f"{key}.{bound}: {_shown(value)} is not a finite number")
    integral = isinstance(low, int) and isinstance(high, int)
    distribution = body.get("distribution", "int_uniform" if integral else "uniform")
    if distribution not in DISTRIBUTIONS or distribution in ("categorical", "constant"):
        raise CnncostError(f"{key}.distribution: {_shown(distribution)} is not one of int_uniform, uniform, q_uniform, "
                           "log_uniform_values, log_uniform")
    if not low < high:
        raise CnncostError(f"{key}: min {low} must be below max {high}")
    if distribution == "int_uniform" and not integral:
        raise CnncostError(f"{key}: int_uniform needs whole-number min and max")
    if distribution == "log_uniform_values" and low <= 0:
        raise CnncostError(f"{key}.min: log_uniform_values needs min > 0, not {low}")
    _check_q(key, distribution, low, high, q)
    return Parameter(**common, distribution=distribution, low=low, high=high, q=q)


def _check_q(key: str, distribution: str, low, high, q) -> None:
    """q is the step of q_uniform (required) and of int_uniform (optional); it must divide max − min."""
    if q is None:
        if distribution == "q_uniform":
            raise CnncostError(f"{key}.q: q_uniform needs its step q")
        return
    if distribution not in ("q_uniform", "int_uniform"):
        raise CnncostError(f"{key}.q: only q_uniform and int_uniform take a step q")
    if q <= 0 or (distribution == "int_uniform" and not isinstance(q, int)):
        whole = " (whole)" if distribution == "int_uniform" else ""
        raise CnncostError(f"{key}.q: {_shown(q)} is not a step > 0{whole}")
    steps = (high - low) / q
    if abs(steps - round(steps)) > 1e-9 * max(1.0, abs(steps)):
        raise CnncostError(f"{key}.q: max − min ({high} − {low}) is not a whole number of steps {q}")


def _shown(value) -> str:
    """A value for an error line, never hundreds of characters (a 400-digit integer is shown by its length)."""
    if isinstance(value, int) and not isinstance(value, bool) and len(str(abs(value))) > 30:
        return f"a {len(str(abs(value)))}-digit integer"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def grid_points(parameters: tuple) -> list:
    """Every combination of the categorical parameters' values, the first parameter varying slowest."""
    names = [p.name for p in parameters]
    return [dict(zip(names, combination)) for combination in itertools.product(*(p.values for p in parameters))]
