"""The core types of an architecture: ``Arch`` (a builder plus its declared parameters) and ``Param``.

A builder takes the input size (``h``, ``w``) and the architecture's hyperparameters — ints, or
sympy symbols on the symbolic path — and returns a ``layers.Network``. Parameters are declared as
data so the CLI, validation and documentation all read the same declaration.

This module imports no family: an architecture file (``cnncost.archfile``) or a user's module
(the zoo plugin) builds an ``Arch`` without registering the zoo's families; ``cnncost.archs``
holds the registered ones, and ``cnncost.resolve`` turns a user's name into an ``Arch``.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Any, Callable, Iterator, NamedTuple

from .errors import CnncostError

# How an architecture name says "import this nn.Module factory" (read by the zoo plugin's resolver).
MODULE_PREFIX = "module:"


def keyword(name: str) -> str:
    """The Python spelling of a parameter: its builder keyword (in_channels)."""
    return name


def flag(name: str) -> str:
    """The command-line spelling of a parameter (in_channels -> --in-channels): the one mapping from the
    library's parameter names to the CLI's options (the CLI spells errors with it: ``spelled_as``)."""
    return "--" + name.replace("_", "-")


# How errors name parameters: by keyword for Python callers; the CLI installs its flags.
# "name": a Callable[[str], str], "option": a str; one dict so spelled_as saves and restores both at once
_SPELLING: dict[str, Any] = {"name": keyword, "option": "a parameter"}

# A complaint's reference to another parameter: {param:resume}
_PARAM_PLACEHOLDER = re.compile(r"\{param:([a-z_][a-z0-9_]*)\}")


class ParameterError(CnncostError):
    """A bad value for one declared parameter.

    The message names parameters however the caller spells them: ``m: 0 is out of range``
    from the Python API, ``--m: 0 is out of range`` on the command line (see :func:`spelled_as`).
    ``complaint`` may refer to other parameters as ``{listed}`` (all of ``listed``, joined) or
    ``{param:NAME}`` (one, spelled like the rest: ``continue it with {param:resume}``), and to the
    word for a parameter as ``{option}``. Nothing else in it is a placeholder: a complaint quotes
    user text (a path such as ``runs/{a}``) as it is. ``parameter`` may be several names, for a
    complaint about them together (``then_epochs/then_lr: ...``).
    """

    def __init__(self, parameter: str | tuple, complaint: str, listed: tuple = ()):
        super().__init__(parameter, complaint, listed)
        self.parameter, self.complaint, self.listed = parameter, complaint, tuple(listed)

    def __str__(self) -> str:
        names = (self.parameter,) if isinstance(self.parameter, str) else self.parameter
        return "/".join(_SPELLING["name"](n) for n in names) + ": " + self.why()

    def why(self) -> str:
        """The complaint as it is printed, without the parameter's name (for a caller that names the
        setting its own way: ``parameters.lr: ...`` in a tune config)."""
        spell = _SPELLING["name"]
        # Only these placeholders: str.format would read a user's braces as fields (and raise)
        complaint = _PARAM_PLACEHOLDER.sub(lambda found: spell(found.group(1)), self.complaint)
        return complaint.replace("{listed}", ", ".join(spell(n) for n in self.listed)).replace(
            "{option}", _SPELLING["option"])


@contextmanager
def spelled_as(name: Callable[[str], str], option: str) -> Iterator[None]:
    """Within the block, parameter errors name parameters with ``name`` (the CLI: --in-channels)
    and call one ``option`` ("an option")."""
    saved = dict(_SPELLING)
    _SPELLING.update(name=name, option=option)
    try:
        yield
    finally:
        _SPELLING.update(saved)


class Param(NamedTuple):
    """One hyperparameter an architecture accepts."""

    name: str  # option name (--name) and builder keyword
    default: Any  # value used when the user gives none
    help: str  # one line for --help and error messages
    choices: tuple = ()  # allowed values for a choice parameter
    minimum: int = 1  # smallest allowed integer
    symbolic: bool = False  # a design variable that formulas keep as a symbol
    meaning: str = ""  # what the symbol stands for, for formula output
    span: tuple = (0.0, 1.0)  # a float parameter's allowed range: low ≤ value < high (a rate by default)
    multiple: int = 1  # an integer parameter's values must be multiples of this (YOLOv3's input: 32)

    @property
    def value_type(self) -> type:
        """The type of the parameter's values, as its default has it: bool, int, float, or str (a choice)."""
        return type(self.default)


# What a parameter name means across the families that declare it, where their own help lines differ (each
# says it for its network: k is the seed networks' kernel size and DenseNet's growth rate): one line true of
# every declaration, for a list of every family's parameters (the CLI's options). A name whose declarations
# agree needs no entry.
SHARED_HELP = {
    "h": "input height (H in formulas)",
    "w": "input width (W in formulas)",
    "m": "filters in the first conv layer",
    "k": "kernel size k (k×k); DenseNet: the growth rate k",
    "n": "neurons in the dense layer (an MLP: in each hidden layer)",
    "classes": "output classes",
    "padding": "conv padding",
    "dropout": "dropout rate (no cost)",
    "width_mult": "width multiplier: every channel count × this, rounded to a multiple of 8",
    "alpha": "width multiplier: the channel widths × this (Keras' alpha, MNASNet's depth multiplier)",
}


class Arch(NamedTuple):
    """An architecture: a registered family, an architecture file, or a user's module."""

    name: str
    build: Callable[..., Any]  # (h=..., w=..., **hyperparameters) -> layers.Network
    params: tuple  # Param declarations, including h and w
    description: str
    source: str  # where the architecture comes from (paper or report)
    torchvision: str | None = None  # manifest key when state_dict-compatible with torchvision
    # For architectures read from outside the registry (a file, a user's module): a digest
    # of their content, so cached formulas are never reused after the source changes.
    fingerprint: str = ""
    # For families whose published checkpoints use older key names (DenseNet's ``norm.1``):
    # a pure function from a checkpoint key to this network's key, kept in the family's file.
    legacy_key: Callable[[str], str] | None = None

    def param(self, name: str) -> Param | None:
        """The declaration of one parameter, or None."""
        return next((p for p in self.params if p.name == name), None)


def as_arch(arch: Any) -> Arch:
    """``arch`` itself, or for a name (the Python callers' shorthand: ``derive("scratch5")``) the
    ``Arch`` the one resolver gives (``cnncost.resolve``, imported here only for a name).

    Library functions call this once at their entry and pass the ``Arch`` on; the CLI passes
    an ``Arch`` it resolved itself.
    """
    if not isinstance(arch, str):
        return arch
    from .resolve import resolve_arch  # the edge: registry names, files, plugins' prefixes

    return resolve_arch(arch)


def resolve(arch: Arch, given: dict, keep_symbolic: bool = False) -> dict:
    """Validated builder keywords: user values checked, defaults filled in.

    With ``keep_symbolic``, design variables the user did not give are left out
    (the caller binds them to symbols).
    """
    unknown = sorted(set(given) - {p.name for p in arch.params})
    if unknown:
        raise ParameterError(unknown[0], "not {option} of " + arch.name + " (it takes {listed})",
                             tuple(p.name for p in arch.params))
    values = {}
    for p in arch.params:
        if p.name in given:
            values[p.name] = check_value(arch, p, given[p.name])
        elif not (keep_symbolic and p.symbolic):
            values[p.name] = p.default
    return values


def check_value(arch: Arch, p: Param, value: Any) -> Any:
    """One value checked against its declaration; bad values are one-line errors."""
    if p.choices:
        if value not in p.choices:
            raise ParameterError(p.name, f"{value!r} is not allowed for {arch.name}; choose one of "
                                         + ", ".join(map(str, p.choices)))
        return value
    if isinstance(p.default, bool):
        return bool(value)
    if isinstance(p.default, float):
        return _check_float(p, value)
    return _check_int(p, value)


def _check_int(p: Param, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        elif isinstance(value, str) and _ascii_whole(value):
            digits = len(value.strip().removeprefix("+"))
            if digits > MAX_DIGITS:
                raise ParameterError(p.name, f"a {digits}-digit number is out of range (at most {MAX_DIGITS} digits)")
            value = int(value)
        else:
            raise ParameterError(p.name, f"{value!r} is not a whole number (need an integer ≥ {p.minimum})")
    if value < p.minimum:
        raise ParameterError(p.name, f"{value} is out of range (need an integer ≥ {p.minimum})")
    if value % p.multiple:
        raise ParameterError(p.name, f"{value} is out of range (need a multiple of {p.multiple})")
    return value


MAX_DIGITS = 30  # far beyond any real size, and far below int()'s 4,300-digit conversion limit


def _ascii_whole(text: str) -> bool:
    """Whether ``text`` is a plain decimal whole number: ASCII digits only (``'²'.isdigit()`` is
    true, yet ``int('²')`` fails)."""
    digits = text.strip().removeprefix("+")
    return digits.isascii() and digits.isdigit()


def _check_float(p: Param, value: Any) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ParameterError(p.name, f"{value!r} is not a number") from None
    low, high = p.span
    if not low <= value < high:  # also false for nan
        raise ParameterError(p.name, f"{value} is out of range (need {low:g} ≤ value < {high:g})")
    return value


# Input-size parameters shared by every image architecture.
def input_size_params(default: int, multiple: int = 1) -> tuple:
    """The ``h``/``w`` declarations with the architecture's default size (and, for networks whose
    branches meet only at such sizes, the multiple every size must be)."""
    more = f" (a multiple of {multiple})" if multiple > 1 else ""
    return (
        Param("h", default, "input height in pixels" + more, symbolic=True, meaning="input height",
              minimum=multiple, multiple=multiple),
        Param("w", default, "input width in pixels" + more, symbolic=True, meaning="input width",
              minimum=multiple, multiple=multiple),
    )
