"""Options shared by the commands, and their translation into builder keywords."""

from __future__ import annotations

import functools
import inspect
from typing import Annotated, Any, List, Optional

import typer

from ..errors import CnncostError

DEFAULT_ARCH = "scratch5"
Arch = Annotated[str, typer.Argument(help="architecture: a zoo name (zoo. prefix accepted), an architecture "
                                          "file (*.toml) or module:SPEC")]
M = Annotated[Optional[int], typer.Option("--m", help="filters in the first conv layer")]
K = Annotated[Optional[int], typer.Option("--k", help="kernel size k (k×k)")]
N = Annotated[Optional[int], typer.Option("--n", help="neurons in the dense layer")]
# Formulas name the input size H and W, so those spellings are accepted too (--H 100 = --h 100).
HW = Annotated[Optional[int], typer.Option("--hw", "--HW", help="input height and width (square input)")]
H = Annotated[Optional[int], typer.Option("--h", "--H", help="input height (H in formulas)")]
W = Annotated[Optional[int], typer.Option("--w", "--W", help="input width (W in formulas)")]
Classes = Annotated[Optional[int], typer.Option("--classes", help="output classes")]
InChannels = Annotated[Optional[int], typer.Option("--in-channels", help="input channels")]
PaddingOpt = Annotated[Optional[str], typer.Option("--padding", help="conv padding: valid or same")]
Org = Annotated[Optional[str], typer.Option("--org", help="filter organisation: same, double or half")]
BN = Annotated[Optional[bool], typer.Option("--bn/--no-bn", help="BatchNorm after each conv")]
DropoutOpt = Annotated[Optional[float], typer.Option("--dropout", help="dropout rate (no cost)")]
ActivationOpt = Annotated[Optional[str], typer.Option("--activation", help="activation function")]
Aux = Annotated[Optional[bool], typer.Option("--aux-logits/--no-aux-logits",
                                             help="auxiliary classifiers (GoogLeNet, Inception-v3; training only)")]
IncludeTop = Annotated[Optional[bool], typer.Option(
    "--include-top/--no-include-top", help="keep the classifier top (--no-include-top: end at the last feature map, "
                                           "as Keras' include_top=False)")]
Head = Annotated[Optional[str], typer.Option(
    "--head", metavar="keep|gap|flatten",
    help="classifier top: keep the network's own, or replace it by a global average pool (gap) or a flatten, "
         "then one dense layer of --classes outputs")]
Json = Annotated[bool, typer.Option("--json", help="print JSON instead of tables")]
Set = Annotated[Optional[List[str]], typer.Option(
    "--set", metavar="NAME=VALUE",
    help="set any parameter the architecture declares, e.g. an architecture file's symbol: "
         "--set growth=12 (repeatable)")]
Module = Annotated[Optional[str], typer.Option(
    "--module", metavar="SPEC",
    help="count a PyTorch module instead of ARCH: package.module:factory or path/to/file.py:factory "
         "(same as ARCH = module:SPEC; imports torch)")]


# The options that describe one training step (cnncost.trainstep), declared once: every command that
# reports a step's cost takes them all through ``step_options``.
STEP_OPTIONS = {
    "strategy": Annotated[Optional[str], typer.Option(
        "--strategy", help="training strategy: scratch, last-layer, head, partial:K, full (default scratch)")],
    "batch": Annotated[Optional[int], typer.Option("--batch", help="samples per training step (default 1)")],
    "optimizer": Annotated[Optional[str], typer.Option(
        "--optimizer", help="sgd, momentum, adam or adamw: its state is counted (default sgd)")],
    "dtype": Annotated[Optional[str], typer.Option(
        "--dtype", help="fp32, or autocast to bf16 or fp16 (default fp32)")],
    "device": Annotated[Optional[str], typer.Option(
        "--device", help="cuda or cpu: where the step runs, which changes what dropout and autocast save "
                         "(default cuda)")],
}


# Each step option alone, for a command that takes some of them as they are (sweep grids the batch).
StepStrategy, StepOptimizer, StepDtype, StepDevice = (STEP_OPTIONS[name] for name in
                                                      ("strategy", "optimizer", "dtype", "device"))


def step_from(given: dict, batch: Any = 1):
    """The ``trainstep.Step`` of the step options the user gave; ``batch`` when --batch is not given (a
    symbol for closed forms)."""
    from ..trainstep import parse_step

    options = {name: value for name, value in given.items() if value is not None}
    return parse_step(**{"batch": batch, **options})


def step_options(command):
    """Give ``command`` every step option in place of its ``step_given`` parameter, which then receives
    the step options the user gave (absent ones left out)."""
    return _options_in_place(command, "step_given", STEP_OPTIONS,
                             lambda chosen: {k: v for k, v in chosen.items() if v is not None})


def flag(name: str) -> str:
    """The command-line spelling of a parameter (in_channels -> --in-channels): the one mapping
    from the library's parameter names to this CLI's options."""
    return "--" + name.replace("_", "-")


# The options that set an architecture's parameters, declared once: every command that builds a
# network takes them all through ``architecture_options``.
ARCHITECTURE_OPTIONS = {
    "m": M, "k": K, "n": N, "hw": HW, "h": H, "w": W, "classes": Classes, "in_channels": InChannels,
    "padding": PaddingOpt, "org": Org, "bn": BN, "dropout": DropoutOpt, "activation": ActivationOpt,
    "aux_logits": Aux, "include_top": IncludeTop, "head": Head,
}


def hyperparameters(**options) -> dict:
    """The architecture options the user actually gave, as builder keywords (``--hw`` sets both h and w)."""
    unknown = set(options) - set(ARCHITECTURE_OPTIONS)
    if unknown:
        raise TypeError(f"not architecture options: {sorted(unknown)}")
    hw, h, w = options.pop("hw", None), options.get("h"), options.get("w")
    if hw is not None and (h is not None or w is not None):
        raise CnncostError("--hw: give either --hw or --h/--w, not both")
    if hw is not None:
        options["h"] = options["w"] = hw
    return {key: value for key, value in options.items() if value is not None}


def architecture_options(command):
    """Give ``command`` every architecture option in place of its ``given`` parameter, which then
    receives the options the user gave as builder keywords (see ``hyperparameters``)."""
    return _options_in_place(command, "given", ARCHITECTURE_OPTIONS, lambda chosen: hyperparameters(**chosen))


def _options_in_place(command, slot: str, options: dict, collect):
    """``command`` with the parameter ``slot`` replaced by one keyword option per entry of ``options``;
    ``slot`` receives ``collect({name: value})``."""
    signature = inspect.signature(command, eval_str=True)
    parameters = []
    for parameter in signature.parameters.values():
        if parameter.name == slot:
            parameters += [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None,
                                             annotation=annotation)
                           for name, annotation in options.items()]
        else:
            parameters.append(parameter)

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        chosen = {name: kwargs.pop(name, None) for name in options}
        return command(*args, **{slot: collect(chosen)}, **kwargs)

    # typer reads the signature (inspect follows __signature__) and the type hints.
    wrapper.__signature__ = signature.replace(parameters=parameters)
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


def check_settings(spec, given, items: Optional[list]) -> dict:
    """The ``--set`` items as {name: value text}: declared by the architecture, not in ``given``."""
    raw = settings(items)
    for name in raw:
        if spec.param(name) is None:
            accepted = ", ".join(p.name for p in spec.params)
            raise CnncostError(f"--set {name}: {spec.name} has no parameter {name!r} (accepted: {accepted})")
        if name in given:
            raise CnncostError(f"--set {name}: {name} is given twice (as --set and as an option)")
    return raw


def with_settings(spec, given: dict, items: Optional[list]) -> dict:
    """``given`` plus the ``--set`` values, typed and checked by their declarations."""
    from ..arch import check_value

    result = dict(given)
    for name, text in check_settings(spec, given, items).items():
        try:
            result[name] = check_value(spec, spec.param(name), _typed(spec.param(name), text))
        except CnncostError as error:  # the registry says "--name: ..."; the user wrote --set name=...
            raise CnncostError("--set " + str(error).removeprefix("--")) from None
    return result


def _typed(param, text: str):
    """Text as the declaration's type: true/false for switches; check_value converts numbers."""
    if isinstance(param.default, bool):
        lowered = text.lower()
        if lowered not in ("true", "false", "1", "0", "yes", "no"):
            raise CnncostError(f"--set {param.name}: {text!r} is not true/false")
        return lowered in ("true", "1", "yes")
    return text
