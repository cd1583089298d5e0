"""A tune config file (YAML or TOML) as a checked ``TuneSpec``.

The schema is wandb's sweep schema, which students already write — ``method``, ``metric``,
``parameters``, ``early_terminate``, ``run_cap`` — plus cnncost's keys: the network, strategy,
data and epochs of every trial, the fixed ``train`` options, cost ``objectives`` and budgets
(``max_macs``, ``max_params``, ``max_train_flops``, ``max_train_bytes``). The file is data: it is
parsed (``yaml.safe_load`` / ``tomllib``), never executed.

Every problem is one line naming the key and what it may be.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

from cnncost.arch import ParameterError, spelled_as
from cnncost.errors import CnncostError

from ..runtime.config import TrainConfig
from .space import parse_parameter

METHODS = ("grid", "random", "bayes")
GOALS = ("maximize", "minimize")
# Per-epoch metrics of a cnncost train run (report.epoch_row) a study may optimise and prune on.
EPOCH_METRICS = {"val_acc": "maximize", "val_topk": "maximize", "val_loss": "minimize",
                 "train_acc": "maximize", "train_loss": "minimize", "val_precision": "maximize",
                 "val_recall": "maximize", "val_f1": "maximize"}
# Exact engine counts of a trial (costs.py), each one a possible further objective (always minimised).
COSTS = ("params", "macs", "flops", "train_flops", "train_bytes", "saved_bytes")
BUDGETS = {"max_params": "params", "max_macs": "macs", "max_train_flops": "train_flops",
           "max_train_bytes": "train_bytes"}
PRUNERS = ("hyperband", "median")
# wandb keys that say where a sweep runs, not what it searches: accepted and not used.
IGNORED_KEYS = ("program", "project", "entity", "description", "command")
# TrainConfig fields a config may not set: the study decides them for every trial.
STUDY_FIELDS = ("arch", "out", "resume", "quiet", "hyperparameters")
TOP_KEYS = ("name", "method", "metric", "objectives", "parameters", "early_terminate", "run_cap", "seed",
            "network", "strategy", "data", "epochs", "train", "heartbeat", *BUDGETS, *IGNORED_KEYS)
DEFAULT_HEARTBEAT = 10  # seconds between a running trial's heartbeats; stale after 3 missed


@dataclass(frozen=True)
class Objective:
    """One value a study optimises: an epoch metric (the first objective) or an exact cost."""

    name: str
    goal: str


@dataclass(frozen=True)
class EarlyTerminate:
    """Pruning from per-epoch validation metrics: Optuna's Hyperband or median pruner."""

    type: str
    min_iter: int = 1
    eta: int = 3


@dataclass(frozen=True)
class TuneSpec:
    """A whole study: what every trial trains and what the search varies."""

    name: str
    method: str
    objectives: tuple  # Objective, the metric first
    parameters: tuple  # space.Parameter, searched
    constants: dict  # parameter name -> fixed value (wandb's ``value``)
    network: str
    strategy: str
    data: str
    epochs: int
    train: dict  # fixed TrainConfig fields
    budgets: dict  # cost name (params, macs, ...) -> the largest value a trial may have
    run_cap: int | None  # trials in the study; None: every grid combination
    seed: int
    early_terminate: EarlyTerminate | None
    heartbeat: int  # seconds between heartbeats of a running trial

    @property
    def metric(self) -> Objective:
        """The per-epoch metric the study optimises (and prunes on)."""
        return self.objectives[0]

    def to_dict(self) -> dict:
        """The spec as the JSON the study stores (``study.user_attrs["cnncost"]``) and ``tune report`` reads."""
        return {"version": 1, "name": self.name, "method": self.method,
                "metric": dataclasses.asdict(self.metric),
                "objectives": [dataclasses.asdict(o) for o in self.objectives],
                "parameters": {p.name: p.as_config() for p in self.parameters},
                "constants": dict(self.constants), "network": self.network, "strategy": self.strategy,
                "data": self.data, "epochs": self.epochs, "train": dict(self.train),
                "budgets": {key: self.budgets[cost] for key, cost in BUDGETS.items() if cost in self.budgets},
                "run_cap": self.run_cap, "seed": self.seed,
                "early_terminate": None if self.early_terminate is None
                else dataclasses.asdict(self.early_terminate)}


def read_spec(path: str) -> TuneSpec:
    """The checked spec of the config file at ``path`` (``*.yaml``/``*.yml`` or ``*.toml``)."""
    return parse_spec(read_document(path), default_name=Path(path).stem)


def read_document(path: str) -> dict:
    """The config file's top-level mapping; a missing file, a syntax error or another shape is one line."""
    file = Path(path).expanduser()
    if file.suffix.lower() not in (".yaml", ".yml", ".toml"):
        raise CnncostError(f"CONFIG: {path} is not a tune config; give a .yaml, .yml or .toml file")
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CnncostError(f"CONFIG: {path} not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise CnncostError(f"CONFIG: cannot read {path} ({error})") from None
    document = _parse_toml(text, path) if file.suffix.lower() == ".toml" else _parse_yaml(text, path)
    if not isinstance(document, dict):
        raise CnncostError(f"CONFIG: {path} must be a mapping of keys (method, metric, parameters, ...), "
                           f"not {type(document).__name__}")
    return document


def _parse_toml(text: str, path: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise CnncostError(f"CONFIG: {path} is not valid TOML: {error}") from None


def _parse_yaml(text: str, path: str):
    import yaml  # PyYAML comes with optuna

    try:
        return yaml.safe_load(text)  # safe_load: plain data only, never a Python object
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise CnncostError(f"CONFIG: {path} is not valid YAML{where}: {problem}") from None


def parse_spec(document: dict, default_name: str = "study") -> TuneSpec:
    """A ``TuneSpec`` from the config's mapping, every key checked."""
    unknown = [key for key in document if key not in TOP_KEYS]
    if unknown:
        raise CnncostError(f"{unknown[0]}: not a tune config key; the keys are " + ", ".join(TOP_KEYS))
    method = _choice(document.get("method"), "method", METHODS)
    objectives = _objectives(document.get("metric"), document.get("objectives"))
    parameters, constants = _parameters(document.get("parameters"), method)
    train = _train(document.get("train"))
    network = _text(document.get("network"), "network", "a zoo name, an architecture file or module:SPEC")
    spec = TuneSpec(
        name=_name(document.get("name", default_name)), method=method, objectives=objectives,
        parameters=parameters, constants=constants, network=network,
        strategy=_text(document.get("strategy", "scratch"), "strategy", "scratch, last-layer, head, partial:K or full"),
        data=_text(document.get("data", "synthetic"), "data", "an image folder or 'synthetic'"),
        epochs=_whole(document.get("epochs", 10), "epochs", 1), train=train,
        budgets=_budgets(document), run_cap=_run_cap(document.get("run_cap"), method),
        seed=_whole(document.get("seed", 0), "seed", 0, 2**32 - 1),
        early_terminate=_early_terminate(document.get("early_terminate"), objectives),
        heartbeat=_whole(document.get("heartbeat", DEFAULT_HEARTBEAT), "heartbeat", 1, 3600))
    check_fixed(spec)
    return spec


def check_fixed(spec: TuneSpec) -> None:
    """The options every trial shares must be valid on their own: a typo there would prune every trial."""
    from .trial_config import base_config, check_parameters

    try:
        base_config(spec, out="check").check()
    except ParameterError as error:  # TrainConfig names its field; the config file has keys
        with spelled_as(config_key, "a key"):
            raise CnncostError(str(error)) from None
    check_parameters(spec)


def config_key(field: str) -> str:
    """The study config's key of a TrainConfig field: the top-level strategy, data and epochs, else train.FIELD."""
    return field if field in ("strategy", "data", "epochs") else "train." + field


def _choice(value, key: str, choices: tuple) -> str:
    if value not in choices:
        raise CnncostError(f"{key}: {_shown(value)} is not one of {', '.join(choices)}")
    return value


def _text(value, key: str, allowed: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise CnncostError(f"{key}: {_shown(value)} is not valid (need {allowed})")
    return value.strip()


def name_problem(value) -> str | None:
    """Why ``value`` is not a study name (printable text without surrounding spaces, at most 200
    characters), or None when it is one."""
    if not isinstance(value, str) or not value.strip() or len(value) > 200 or not value.isprintable():
        return f"{_shown(value)} is not a study name (need printable text, 1 to 200 characters)"
    return None


def _name(value) -> str:
    problem = name_problem(value)
    if problem:
        raise CnncostError(f"name: {problem}")
    return value.strip()


def _whole(value, key: str, low: int, high: int | None = None) -> int:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= low and (high is None or value <= high)
    if not ok:
        allowed = f"an integer ≥ {low}" if high is None else f"an integer from {low} to {high:,}"
        raise CnncostError(f"{key}: {_shown(value)} is out of range (need {allowed})")
    return value


def _objectives(metric, objectives) -> tuple:
    """The metric first, then any cost objectives; ``objectives: [val_acc, macs]`` names both."""
    if metric is None and objectives is None:
        raise CnncostError("metric: missing; give e.g. metric: {name: val_acc, goal: maximize}")
    first = _metric(metric) if metric is not None else None
    names = [] if objectives is None else _objective_names(objectives)
    if first is None:
        if names[0] not in EPOCH_METRICS:
            raise CnncostError(f"objectives: the first must be an epoch metric ({', '.join(EPOCH_METRICS)}), "
                               f"not {names[0]!r}")
        first = Objective(names[0], EPOCH_METRICS[names[0]])
    elif names and names[0] != first.name:
        raise CnncostError(f"objectives: the first must be the metric {first.name!r}, not {names[0]!r}")
    rest = names[1:]
    for name in rest:
        if name not in COSTS:
            raise CnncostError(f"objectives: {name!r} is not a cost; after the metric come costs: " + ", ".join(COSTS))
    if len(set(rest)) != len(rest):
        raise CnncostError("objectives: a cost is named twice")
    return (first, *(Objective(name, "minimize") for name in rest))


def _metric(metric) -> Objective:
    if isinstance(metric, str):
        metric = {"name": metric}
    if not isinstance(metric, dict):
        raise CnncostError(f"metric: {_shown(metric)} is not a mapping; write metric: {{name: val_acc, "
                           "goal: maximize}")
    extra = [key for key in metric if key not in ("name", "goal")]
    if extra:
        raise CnncostError(f"metric.{extra[0]}: not a metric key; the keys are name and goal")
    name = _choice(metric.get("name"), "metric.name", tuple(EPOCH_METRICS))
    goal = _choice(metric.get("goal", EPOCH_METRICS[name]), "metric.goal", GOALS)
    return Objective(name, goal)


def _objective_names(objectives) -> list:
    if not isinstance(objectives, list) or not objectives or not all(isinstance(o, str) for o in objectives):
        raise CnncostError(f"objectives: {_shown(objectives)} is not a list of names, e.g. [val_acc, macs]")
    return objectives


def _parameters(parameters, method: str) -> tuple:
    """(searched Parameters, {name: constant}) from the ``parameters`` mapping."""
    if parameters is None:
        parameters = {}
    if not isinstance(parameters, dict):
        raise CnncostError(f"parameters: {_shown(parameters)} is not a mapping of name: {{values: [...]}}")
    searched: list = []
    constants: dict = {}
    seen: dict = {}
    for name, body in parameters.items():
        parameter = parse_parameter(str(name), body, method)
        if parameter.field in seen:
            raise CnncostError(f"parameters.{name}: sets {parameter.field} as {seen[parameter.field]} does")
        seen[parameter.field] = name
        if parameter.constant is not None:
            constants[parameter.name] = parameter.constant.value
        else:
            searched.append(parameter)
    if method == "grid" and not searched:
        raise CnncostError("parameters: a grid needs at least one parameter with values: [...]")
    return tuple(searched), constants


def _train(train) -> dict:
    """The fixed TrainConfig fields (names with - or _), each a field a study may set."""
    if train is None:
        return {}
    if not isinstance(train, dict):
        raise CnncostError(f"train: {_shown(train)} is not a mapping of train options")
    fields = {f.name for f in dataclasses.fields(TrainConfig)} - set(STUDY_FIELDS)
    result = {}
    for key, value in train.items():
        name = str(key).replace("-", "_")
        if name not in fields:
            raise CnncostError(f"train.{key}: not a train option a study sets; the options are "
                               + ", ".join(sorted(fields)))
        result[name] = value
    return result


def _budgets(document: dict) -> dict:
    """{cost: limit} from max_params, max_macs, max_train_flops and max_train_bytes ("24GiB" allowed)."""
    budgets = {}
    for key, cost in BUDGETS.items():
        if key in document:
            budgets[cost] = _budget(document[key], key)
    return budgets


def _budget(value, key: str) -> int:
    """A whole number ≥ 1: an int, an integral float (1e9), or text such as '1e9' or '24GiB'."""
    if isinstance(value, str):
        value = _budget_text(value, key)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise CnncostError(f"{key}: {_shown(value)} is out of range (need a whole number ≥ 1, e.g. 1e9"
                           + (" or 24GiB)" if key == "max_train_bytes" else ")"))
    return value


def _budget_text(text: str, key: str):
    """'1e9' as a number; for bytes also '24GiB'; anything else stays text (and fails the range check)."""
    try:
        return float(text)  # 'nan' and 'inf' parse, then fail the whole-number check
    except ValueError:
        pass
    if key == "max_train_bytes":
        from cnncost.cli.memory_command import parse_bytes

        try:
            return parse_bytes(text)
        except CnncostError:
            pass
    return text


def _run_cap(value, method: str) -> int | None:
    if value is None:
        if method != "grid":
            raise CnncostError(f"run_cap: missing; a {method} search needs the number of trials (e.g. run_cap: 20)")
        return None
    return _whole(value, "run_cap", 1, 100_000)


def _early_terminate(value, objectives: tuple) -> EarlyTerminate | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise CnncostError(f"early_terminate: {_shown(value)} is not a mapping; write e.g. "
                           "{type: hyperband, min_iter: 2, eta: 3}")
    extra = [key for key in value if key not in ("type", "min_iter", "eta")]
    if extra:
        raise CnncostError(f"early_terminate.{extra[0]}: not supported; the keys are type, min_iter and eta")
    if len(objectives) > 1:
        raise CnncostError("early_terminate: Optuna cannot prune a study with several objectives; drop "
                           "early_terminate or the cost objectives")
    return EarlyTerminate(_choice(value.get("type"), "early_terminate.type", PRUNERS),
                          _whole(value.get("min_iter", 1), "early_terminate.min_iter", 1),
                          _whole(value.get("eta", 3), "early_terminate.eta", 2))


def _shown(value) -> str:
    """A value for an error line, never hundreds of characters."""
    from .space import _shown as shown

    return shown(value)
