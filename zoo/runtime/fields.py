"""How a ``TrainConfig`` field declares itself: its help line, its range and its command-line spelling.

Each field of ``TrainConfig`` that ``cnncost train`` takes is declared once, with ``option(...)``; from
that one declaration come ``cnncost train``'s option (``zoo/cli/train_options.py``), the field's range
check (``check_field``) and the words ``cnncost tune`` writes to train a trial again. Errors name the
field (``epochs: 0 is out of range``); the CLI spells it as its option (``--epochs: ...``).

No torch here: the CLI reads these declarations to build ``cnncost train --help``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import typing
from dataclasses import dataclass
from typing import Any, Callable

from cnncost.arch import ParameterError, flag

KEY = "cnncost"  # the key of a field's metadata that holds its Option
FIELD_DEFAULT = "<the field's default>"  # an Option's cli_default when the option's default is the field's


@dataclass(frozen=True)
class Integer:
    """A whole number (not a bool) with low ≤ value (≤ high); ``high`` may be a function of the config."""

    low: int
    high: int | Callable[[Any], int] | None = None

    def holds(self, value, config) -> bool:
        high = self._high(config)
        is_int = isinstance(value, int) and not isinstance(value, bool)
        return is_int and value >= self.low and (high is None or value <= high)

    def need(self, config) -> str:
        high = self._high(config)
        return f"an integer ≥ {self.low:,}" if high is None else f"an integer from {self.low:,} to {high:,}"

    def _high(self, config) -> int | None:
        return self.high(config) if callable(self.high) else self.high


@dataclass(frozen=True)
class Real:
    """A finite real number in a range: low < or ≤ value, and value < or ≤ high (NaN and ±inf fail every one)."""

    low: float
    high: float | None = None
    low_open: bool = False  # low < value (else low ≤ value)
    high_open: bool = True  # value < high (else value ≤ high)
    word: str = "value"  # the range's name for the value (--ema's DECAY)
    lead: str = ""  # words before a two-sided range ("a decay with ")

    def holds(self, value, config) -> bool:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return False
        try:
            if not math.isfinite(value):
                return False
        except OverflowError:  # an int beyond every float
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = self.high is None or (value < self.high if self.high_open else value <= self.high)
        return above and below

    def need(self, config) -> str:
        low = f"{self.low:g}"
        if self.high is None:
            return f"a finite number {'>' if self.low_open else '≥'} {low}"
        return (f"{self.lead}{low} {'<' if self.low_open else '≤'} {self.word} "
                f"{'<' if self.high_open else '≤'} {self.high:g}")


@dataclass(frozen=True)
class Choice:
    """One of a fixed list of words."""

    values: tuple

    def holds(self, value, config) -> bool:
        return isinstance(value, str) and value in self.values

    def need(self, config) -> str:
        return "one of " + ", ".join(self.values)


@dataclass(frozen=True)
class Switch:
    """True or false (a --x flag, or a --x/--no-x pair)."""

    def holds(self, value, config) -> bool:
        return isinstance(value, bool)

    def need(self, config) -> str:
        return "true or false"


Check = Integer | Real | Choice | Switch


@dataclass(frozen=True)
class Option:
    """What ``cnncost train`` makes of one field: its help line, its range and how it is spelled."""

    help: str
    check: Check | None = None  # None: checked by hand in TrainConfig.check (it depends on other fields)
    flags: tuple = ()  # the option's spellings; () is the field's own (--batch-size), or --x/--no-x for a switch
    metavar: str | None = None
    cli_default: Any = FIELD_DEFAULT  # the option's default when it differs from the field's (None: derived)
    searchable: bool = True  # a tune study may vary it (not: what names the run, where it goes, how it is logged)


def option(default: Any, help: str, check: Check | None = None, **spelling: Any) -> Any:
    """A ``TrainConfig`` field with ``default``, declared as an option with ``help`` and range ``check``."""
    return dataclasses.field(default=default, metadata={KEY: Option(help, check, **spelling)})


def declared(cls) -> dict:
    """Every field of the dataclass ``cls`` declared with ``option``: {name: Option}, in field order."""
    return {f.name: f.metadata[KEY] for f in dataclasses.fields(cls) if KEY in f.metadata}


def field_default(cls, name: str) -> Any:
    """The default of field ``name`` of the dataclass ``cls``."""
    return cls.__dataclass_fields__[name].default


def value_type(cls, name: str) -> type:
    """bool, int, float or str: the annotation of field ``name`` without its None."""
    hint = _hints(cls)[name]
    inner = [arg for arg in typing.get_args(hint) if arg is not type(None)] or [hint]
    return inner[0]


@functools.cache
def _hints(cls) -> dict:
    """The dataclass's annotations, evaluated once (``cnncost train``'s options read one per field)."""
    return typing.get_type_hints(cls)


def spellings(cls, name: str, default: Any = FIELD_DEFAULT) -> tuple:
    """The command-line names of field ``name``'s option: the declaration's own, else the field's flag; a switch
    that may be on by default (or unset, None) is a --x/--no-x pair. ``default``: the option's, if not the field's."""
    names = declared(cls)[name].flags or (flag(name),)
    default = field_default(cls, name) if default == FIELD_DEFAULT else default
    if value_type(cls, name) is bool and default is not False:
        return (f"{names[0]}/--no-{names[0][2:]}", *names[1:])
    return names


def command_words(cls, name: str, value: Any) -> list:
    """The words that give field ``name`` the value ``value`` on the command line (``cnncost tune`` writes them
    to train a trial again): --x VALUE, --x / --no-x for a switch, or nothing for a false one-word switch."""
    on, _, off = spellings(cls, name)[0].partition("/")
    if value_type(cls, name) is not bool:
        return [on, _text(value)]
    if value:
        return [on]
    return [off] if off else []


def _text(value: Any) -> str:
    """A value as an option's text: repr-exact floats."""
    return repr(value) if isinstance(value, float) else str(value)


def check_fields(config) -> None:
    """Every declared field of ``config`` in its range (a None value of an optional field is in it), in field
    order; else the ParameterError naming the first field out of range."""
    for name, declaration in declared(type(config)).items():
        value = getattr(config, name)
        check = declaration.check
        if check is not None and not (value is None and _optional(config, name)):
            check_field(config, name, check)


def check_field(config, name: str, check: Check) -> None:
    """``config.name`` within ``check``'s range; else the ParameterError that names the field and states it."""
    value = getattr(config, name)
    if not check.holds(value, config):
        raise ParameterError(name, f"{shown(value)} is out of range (need {check.need(config)})")


def _optional(config, name: str) -> bool:
    """Whether the field's default is None (so None means "not given")."""
    return field_default(type(config), name) is None


def shown(value) -> str:
    """A value for an error line: digit groups for ints, never hundreds of digits."""
    if isinstance(value, int) and not isinstance(value, bool):
        digits = len(str(abs(value)))
        return f"{value:,}" if digits <= 30 else f"a {digits}-digit integer"
    return repr(value)
