"""Grid options: lists (``16,32,64``) and ranges (``16:256:16``), validated per architecture.

Sizes are checked before anything is materialised: a range's length is known
from its ends, so ``--m 1:100000000`` is refused without building the list.
"""

from __future__ import annotations

import itertools
import re

from ..arch import ParameterError, check_value
from ..errors import CnncostError

MAX_CONFIGS = 100_000_000  # evaluated in bounded chunks, but ~1 minute per 10⁸ even at full speed
MAX_VALUES = 1_000_000  # values of one option (each is kept as a Python int: ~36 MB at this limit)
MAX_STRUCTURES = 256  # combinations of non-symbolic options: each needs its own derivation (~0.15 s)
MAX_DIGITS = 30  # whole numbers are written with ASCII digits, at most this many
_WHOLE = re.compile(rf"\+?[0-9]{{1,{MAX_DIGITS}}}", re.ASCII)


def parse_values(arch, name: str, text: str, label: str | None = None, param=None) -> list:
    """The values of one option: comma-separated items, each a value or an inclusive range a:b[:step].

    ``label`` is the option as the user spelled it (``hw`` for the ``h`` parameter); ``param``: the declaration
    of a value that is not the architecture's (the batch size of a step).
    """
    param = param or arch.param(name)
    label = label or name
    whole = isinstance(param.default, int) and not isinstance(param.default, bool)
    values: list = []  # ranges and one-value lists, chained at the end
    count = 0
    for item in (part.strip() for part in str(text).split(",")):
        if not item:
            raise ParameterError(label, f"empty item in {text!r}")
        if ":" in item and not param.choices:
            start, stop, step = _range(label, item)
            count += (stop - start) // step + 1
            _check_count(label, count)
            for end in (start, stop):  # the declaration bounds values from below: the ends suffice
                _checked(arch, param, label, end)
            values.append(range(start, stop + 1, step))
        else:
            count += 1
            _check_count(label, count)
            value = _integer(param, label, item) if whole else _typed(param, item)
            values.append([_checked(arch, param, label, value)])
    return list(dict.fromkeys(itertools.chain.from_iterable(values)))  # keep order, drop repeats


def _check_count(label: str, count: int) -> None:
    if count > MAX_VALUES:
        raise ParameterError(label, f"more than {MAX_VALUES:,} values; narrow the range or use a step")


def _checked(arch, param, label: str, value):
    """The declaration's check of one value, its message naming the parameter as the user gave it (``hw``
    for ``h``)."""
    try:
        return check_value(arch, param, value)
    except ParameterError as error:
        raise ParameterError(label, error.complaint, error.listed) from None


def _integer(param, label: str, text: str) -> int:
    """A whole number written with ASCII digits (``int`` would take '²', '١' or '1_0')."""
    if not _WHOLE.fullmatch(text):
        raise ParameterError(label, f"{text!r} is not a whole number (need an integer ≥ {param.minimum}, "
                                    f"at most {MAX_DIGITS} digits 0-9)")
    return int(text)


def _range(label: str, item: str) -> tuple:
    parts = [p.strip() for p in item.split(":")]
    if len(parts) not in (2, 3) or not all(_WHOLE.fullmatch(p) for p in parts):
        raise ParameterError(label, f"{item!r} is not a range start:stop[:step] of whole numbers "
                                    f"(at most {MAX_DIGITS} digits 0-9 each)")
    start, stop, step = (int(p) for p in parts + ["1"] * (3 - len(parts)))
    if step < 1 or stop < start:
        raise ParameterError(label, f"range {item!r} needs start ≤ stop and step ≥ 1")
    return start, stop, step


def _typed(param, value):
    if isinstance(param.default, bool):
        lowered = str(value).lower()
        if lowered not in ("true", "false", "1", "0", "yes", "no"):
            raise ParameterError(param.name, f"{value!r} is not true/false")
        return lowered in ("true", "1", "yes")
    return value


def grid_size(values: dict) -> int:
    """Number of configurations of a grid (name -> list of values); refused above MAX_CONFIGS."""
    total = 1
    for options in values.values():
        total *= len(options)
    if total > MAX_CONFIGS:
        raise CnncostError(f"sweep: {total:,} configurations is more than the limit of {MAX_CONFIGS:,}; "
                           "narrow a range")
    return total


def structures(arch, values: dict) -> list:
    """Every combination of the non-symbolic options (padding, org, bn, classes, ...)."""
    fixed = [p.name for p in arch.params if not p.symbolic and p.name in values]
    count = 1
    for name in fixed:
        count *= len(values[name])
    if count > MAX_STRUCTURES:
        raise CnncostError(f"sweep: {count:,} combinations of {', '.join('--' + n.replace('_', '-') for n in fixed)} "
                           f"each need their own derivation; the limit is {MAX_STRUCTURES:,}")
    return [dict(zip(fixed, combo)) for combo in itertools.product(*(values[n] for n in fixed))]
