"""Options shared by the commands, and their translation into builder keywords.

The network's options are generated from the parameters the registered families declare (``cnncost.arch.Param``:
name, value type, help), one per name, and a command takes them all through ``network_options``; the training
step's through ``step_options``. ``--set NAME=VALUE`` reaches any declared parameter (an architecture file's
symbols too) and meets the options in one place, ``merge_settings``.
"""

from __future__ import annotations

import functools
import inspect
from typing import Annotated, Any, Callable, Iterable, List, NamedTuple, Optional

import typer

from ..arch import flag  # noqa: F401  (options.flag: the CLI's spelling of a parameter, used by its commands)
from ..errors import CnncostError

DEFAULT_ARCH = "scratch5"
Arch = Annotated[str, typer.Argument(help="architecture: a zoo name (zoo. prefix accepted), an architecture "
                                          "file (*.toml) or module:SPEC")]
Json = Annotated[bool, typer.Option("--json", help="print JSON instead of tables")]
Set = Annotated[Optional[List[str]], typer.Option(
    "--set", metavar="NAME=VALUE",
    help="set any parameter the architecture declares, e.g. an architecture file's symbol: "
         "--set growth=12 (repeatable)")]
SetGrid = Annotated[Optional[List[str]], typer.Option(  # cnncost sweep's: a list of values per parameter
    "--set", metavar="NAME=VALUES",
    help="values of any declared parameter, e.g. an architecture file's symbol: --set growth=8,12,16 (repeatable)")]
Module = Annotated[Optional[str], typer.Option(
    "--module", metavar="SPEC",
    help="count a PyTorch module instead of ARCH: package.module:factory or path/to/file.py:factory "
         "(same as ARCH = module:SPEC; imports torch)")]


# The default of a command's parameter that network_options or step_options replaces (``given``,
# ``step_given``): typer never sees it and the command is always called with the collected value. None at run
# time; typed Any so that the parameter keeps the type of the value it receives.
FILLED: Any = None


# The options that describe one training step (cnncost.trainstep), declared once: every command that
# reports a step's cost takes them all through ``step_options``. Each is also a name of its own (aliases
# mypy can read), for a command that takes some of them as they are (sweep grids the batch).
StepStrategy = Annotated[Optional[str], typer.Option(
    "--strategy", help="training strategy: scratch, last-layer, head, partial:K, full (default scratch)")]
StepOptimizer = Annotated[Optional[str], typer.Option(
    "--optimizer", help="sgd, momentum, adam or adamw: its state is counted (default sgd)")]
StepDtype = Annotated[Optional[str], typer.Option(
    "--dtype", help="fp32, or autocast to bf16 or fp16 (default fp32)")]
StepDevice = Annotated[Optional[str], typer.Option(
    "--device", help="cuda or cpu: where the step runs, which changes what dropout and autocast save "
                     "(default cuda)")]
STEP_OPTIONS = {
    "strategy": StepStrategy,
    "batch": Annotated[Optional[int], typer.Option("--batch", help="samples per training step (default 1)")],
    "optimizer": StepOptimizer,
    "dtype": StepDtype,
    "device": StepDevice,
}


def step_from(given: dict, batch: Any = 1):
    """The ``trainstep.Step`` of the step options the user gave; ``batch`` when --batch is not given (a
    symbol for closed forms)."""
    from ..trainstep import parse_step

    options = {name: value for name, value in given.items() if value is not None}
    return parse_step(**{"batch": batch, **options})


def step_options(command):
    """Give ``command`` every step option in place of its ``step_given`` parameter, which then receives
    the step options the user gave (absent ones left out)."""
    return options_in_place(command, "step_given", STEP_OPTIONS,
                             lambda chosen: {k: v for k, v in chosen.items() if v is not None})


# --- the network's options: one per parameter the registered families declare, generated from the declarations.

# Spellings beyond a parameter's own flag: formulas name the input size H and W, so --H 100 = --h 100.
ALIASES = {"h": ("--H",), "w": ("--W",)}
# A square input (h = w): the CLI's shorthand of its own, declared by no family.
HW_OPTION = ("--hw", "--HW")
HW_HELP = "input height and width (square input)"
# Where --help lists them: apart from each command's own options.
PANEL = "Network parameters"


class NetworkParam(NamedTuple):
    """One parameter name as the registered families that declare it agree on it: what its option needs."""

    name: str
    value_type: type  # bool (a --x/--no-x switch), int, float or str
    help: str
    choices: tuple  # the values a choice parameter takes (its help names them), or ()


def network_params() -> dict:
    """Every parameter a registered family declares, by name: the default architecture's first (the options a
    user meets first), then the others in the order the families, by name, first declare them."""
    from .. import archs

    declared: dict = {}
    for arch_name in [DEFAULT_ARCH, *archs.names()]:
        for param in archs.get(arch_name).params:
            declared.setdefault(param.name, {}).setdefault(arch_name, param)
    return {name: _agreed(name, list(by_arch.values())) for name, by_arch in declared.items()}


def _agreed(name: str, declarations: list) -> NetworkParam:
    """What every declaration of ``name`` says: one value type (else one option could not take them all), the
    shared help line (``arch.SHARED_HELP``, or the declarations' own when they agree) and every choice."""
    from ..arch import SHARED_HELP

    types = {param.value_type for param in declarations}
    if len(types) > 1:
        raise TypeError(f"parameter {name!r} is declared with values of several types "
                        f"({', '.join(sorted(t.__name__ for t in types))}): one option cannot take them all")
    helps = dict.fromkeys(param.help for param in declarations)
    choices = tuple(dict.fromkeys(choice for param in declarations for choice in param.choices))
    text = SHARED_HELP.get(name) or "; ".join(helps)
    if not all(str(choice) in text for choice in choices):  # the help names the values, or the option does
        text += f" ({', '.join(map(str, choices))})"
    return NetworkParam(name, types.pop(), text, choices)


def _value_option(param: NetworkParam):
    """The option that sets one parameter: a --x/--no-x switch for a true/false one, else one value."""
    spelled = flag(param.name)
    if param.value_type is bool:
        return Annotated[Optional[bool], typer.Option(f"{spelled}/--no-{spelled[2:]}", help=param.help,
                                                      rich_help_panel=PANEL)]
    kind = param.value_type if param.value_type in (int, float) else str
    return Annotated[Optional[kind], typer.Option(spelled, *ALIASES.get(param.name, ()), help=param.help,
                                                  rich_help_panel=PANEL)]


def _grid_option(param: NetworkParam):
    """The option that gives one parameter's values in a grid (``cnncost sweep``): text, parsed per
    architecture by ``cnncost.sweep.grid``; whole numbers take ranges too."""
    whole = param.value_type is int
    more = " (comma list; ranges a:b[:step])" if whole else " (comma list)"
    return Annotated[Optional[str], typer.Option(flag(param.name), *ALIASES.get(param.name, ()),
                                                 help=param.help + more, rich_help_panel=PANEL)]


def _generated(option: Callable, hw) -> dict:
    """Every parameter's option, made by ``option``, by builder keyword; ``hw`` (the square input) just
    before h."""
    table: dict = {}
    for name, param in NETWORK_PARAMS.items():
        if name == "h":
            table["hw"] = hw
        table[name] = option(param)
    return table


NETWORK_PARAMS = network_params()
NETWORK_OPTIONS = _generated(_value_option, Annotated[Optional[int], typer.Option(
    *HW_OPTION, help=HW_HELP, rich_help_panel=PANEL)])
NETWORK_GRID_OPTIONS = _generated(_grid_option, Annotated[Optional[str], typer.Option(
    *HW_OPTION, help="square input sizes (comma list; ranges a:b[:step])", rich_help_panel=PANEL)])
class Given(dict):
    """The network options a user gave, as builder keywords (``hyperparameters``), with the ``--set`` items
    beside them: ``for_arch`` merges the two for one architecture, so ``--m 8`` and ``--set m=8`` are one."""

    def __init__(self, options: dict, settings: Optional[list] = None):
        super().__init__(options)
        self.settings = list(settings or ())

    def for_arch(self, spec) -> dict:
        """The options plus the ``--set`` values, typed and checked by ``spec``'s declarations."""
        return with_settings(spec, self, self.settings)


def hyperparameters(**options) -> dict:
    """The network options the user actually gave, as builder keywords (``--hw`` sets both h and w)."""
    unknown = set(options) - set(NETWORK_OPTIONS)
    if unknown:
        raise TypeError(f"not architecture options: {sorted(unknown)}")
    hw, h, w = options.pop("hw", None), options.get("h"), options.get("w")
    if hw is not None and (h is not None or w is not None):
        raise CnncostError("--hw: give either --hw or --h/--w, not both")
    if hw is not None:
        options["h"] = options["w"] = hw
    return {key: value for key, value in options.items() if value is not None}


def network_options(command=None, *, with_set: bool = True, grids: bool = False, exclude: tuple = ()):
    """Give ``command`` an option for every parameter a registered family declares (and ``--set``, unless
    ``with_set`` is false) in place of its ``given`` parameter, which then receives a ``Given``: the options
    the user gave as builder keywords, and the ``--set`` items. With ``grids`` (``cnncost sweep``) each option
    takes a list of values, as text, and ``given`` holds the texts the user gave by option name (``hw`` too).

    Usable bare (``@network_options``) or with arguments (``@network_options(with_set=False)``); a command
    keeps any option of its own, and one whose name a parameter's option takes is a duplicate-name error at
    import. ``exclude`` leaves out the options of parameters the command sets itself (``cnncost train``: the
    input size and the classes, from its data).
    """
    if command is None:
        return functools.partial(network_options, with_set=with_set, grids=grids, exclude=exclude)
    table = {name: option for name, option in (NETWORK_GRID_OPTIONS if grids else NETWORK_OPTIONS).items()
             if name not in exclude}
    if with_set:
        table["set_"] = SetGrid if grids else Set

    def collect(chosen: dict) -> Given:
        items = chosen.pop("set_", None)
        given = {k: v for k, v in chosen.items() if v is not None} if grids else hyperparameters(**chosen)
        return Given(given, items)

    return options_in_place(command, "given", table, collect)


def options_in_place(command, slot: str, options: dict, collect, defaults: Optional[dict] = None):
    """``command`` with the parameter ``slot`` replaced by one keyword option per entry of ``options``
    ({name: Annotated type}), each defaulting to ``defaults[name]`` (else None); ``slot`` receives
    ``collect({name: value})``. The one way a generated option reaches a command (network, step and
    training options)."""
    defaults = defaults or {}
    signature = inspect.signature(command, eval_str=True)
    parameters = []
    for parameter in signature.parameters.values():
        if parameter.name == slot:
            parameters += [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                             default=defaults.get(name), annotation=annotation)
                           for name, annotation in options.items()]
        else:
            parameters.append(parameter)

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        chosen = {name: kwargs.pop(name, defaults.get(name)) for name in options}
        return command(*args, **{slot: collect(chosen)}, **kwargs)

    # typer reads the signature (inspect follows __signature__) and the type hints.
    # a function's __signature__ is read by inspect but not declared on functions in typeshed
    wrapper.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in parameters if p.annotation is not inspect.Parameter.empty}
    return wrapper


def arch_name(arch: str, module: Optional[str]) -> str:
    """ARCH, or ``module:SPEC`` for ``--module SPEC`` (which leaves no room for another ARCH)."""
    if module is None:
        return arch
    if arch != DEFAULT_ARCH:
        raise CnncostError(f"--module: give either ARCH ({arch}) or --module, not both")
    from ..arch import MODULE_PREFIX

    return MODULE_PREFIX + module


def resolved(arch: str, module: Optional[str]):
    """The ``Arch`` that ARCH (or ``--module SPEC``) names, resolved once for the whole command."""
    return resolve_name(arch_name(arch, module))


def resolve_name(name: str):
    """The ``Arch`` a name denotes, through ``cnncost.archs.get``: the one resolver (``cnncost.resolve``),
    which reads zoo names, architecture files and plugins' prefixes."""
    from .. import archs

    return archs.get(name)


def settings(items: Optional[list]) -> dict:
    """``--set NAME=VALUE`` items as {name: value text}; a name set twice is an error."""
    result: dict = {}
    for item in items or ():
        name, equals, text = item.partition("=")
        name = name.strip().replace("-", "_")
        if not equals or not name or not text.strip():
            raise CnncostError(f"--set {item}: expected NAME=VALUE, e.g. --set growth=12")
        if name in result:
            raise CnncostError(f"--set {name}: given twice")
        result[name] = text.strip()
    return result


def with_settings(spec, given: dict, items: Optional[list]) -> dict:
    """``given`` plus the ``--set`` values, typed and checked by their declarations (a parameter given both
    ways with the same value is given once)."""
    from ..arch import check_value

    return merge_settings(spec, given, items, lambda param, text: check_value(spec, param, _typed(param, text)))


def merge_settings(spec, given: dict, items: Optional[list], parse: Callable, taken: Iterable = ()) -> dict:
    """``given`` plus each ``--set NAME=TEXT`` item as ``parse(declaration, TEXT)``: the one place where an
    option and ``--set`` meet. An item must name a parameter ``spec`` declares; naming one that ``given``
    already holds is the same thing when the values agree, and an error when they differ (or when the name
    is in ``taken``: set by another option, as --hw sets h and w)."""
    result = dict(given)
    raw = settings(items)
    for name in raw:
        if spec.param(name) is None:
            accepted = ", ".join(p.name for p in spec.params)
            raise CnncostError(f"--set {name}: {spec.name} has no parameter {name!r} (accepted: {accepted})")
    for name, text in raw.items():
        if name in taken:
            raise _given_twice(name, "as --set and by an option that sets it too")
        value = _set_value(parse, spec.param(name), text, name in result)
        if name in result and result[name] != value:
            raise _given_twice(name)
        result[name] = value
    return result


def _set_value(parse: Callable, param, text: str, given_too: bool):
    """One ``--set`` item's value; a bad one beside the option's own value is that clash (the first thing to fix)."""
    try:
        return parse(param, text)
    except CnncostError as error:
        if given_too:
            raise _given_twice(param.name) from None
        # The parser names the parameter ("--name: ..."); the user wrote --set name=...
        raise CnncostError("--set " + str(error).removeprefix("--")) from None


def _given_twice(name: str, how: str = "as --set and as an option, with different values") -> CnncostError:
    """The error for a parameter that ``--set`` and another option both set (``how``)."""
    return CnncostError(f"--set {name}: {name} is given twice ({how})")


def _typed(param, text: str):
    """Text as the declaration's type: true/false for switches; check_value converts numbers."""
    if isinstance(param.default, bool):
        lowered = text.lower()
        if lowered not in ("true", "false", "1", "0", "yes", "no"):
            raise CnncostError(f"--set {param.name}: {text!r} is not true/false")
        return lowered in ("true", "1", "yes")
    return text
