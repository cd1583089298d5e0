"""Grid options: lists (``16,32,64``) and ranges (``16:256:16``), validated per architecture."""

from __future__ import annotations

import itertools

from ..archs import registry
from ..errors import CnncostError

MAX_CONFIGS = 50_000_000  # a grid larger than this is surely a typo (memory: ~8 bytes × quantities each)


def parse_values(arch, name: str, text: str) -> list:
    """The values of one option: comma-separated items, each a value or an inclusive range a:b[:step]."""
    param = arch.param(name)
    values = []
    for item in (part.strip() for part in str(text).split(",")):
        if not item:
            raise CnncostError(f"--{name}: empty item in {text!r}")
        if ":" in item and not param.choices:
            values += _range(name, item)
        else:
            values.append(item)
    checked = [registry.check_value(arch, param, _typed(param, v)) for v in values]
    return list(dict.fromkeys(checked))  # keep order, drop repeats


def _range(name: str, item: str) -> list:
    parts = item.split(":")
    if len(parts) not in (2, 3) or not all(p.strip().lstrip("+").isdigit() for p in parts):
        raise CnncostError(f"--{name}: {item!r} is not a range start:stop[:step] of whole numbers")
    start, stop, step = (int(p) for p in parts + ["1"] * (3 - len(parts)))
    if step < 1 or stop < start:
        raise CnncostError(f"--{name}: range {item!r} needs start ≤ stop and step ≥ 1")
    return list(range(start, stop + 1, step))


def _typed(param, value):
    if isinstance(param.default, bool):
        lowered = str(value).lower()
        if lowered not in ("true", "false", "1", "0", "yes", "no"):
            raise CnncostError(f"--{param.name}: {value!r} is not true/false")
        return lowered in ("true", "1", "yes")
    return value


def grid_size(values: dict) -> int:
    """Number of configurations of a grid (name -> list of values)."""
    total = 1
    for options in values.values():
        total *= len(options)
    if total > MAX_CONFIGS:
        raise CnncostError(f"sweep: {total:,} configurations is more than {MAX_CONFIGS:,}; narrow a range")
    return total


def structures(arch, values: dict) -> list:
    """Every combination of the non-symbolic options (padding, org, bn, classes, ...)."""
    fixed = [p.name for p in arch.params if not p.symbolic and p.name in values]
    return [dict(zip(fixed, combo)) for combo in itertools.product(*(values[n] for n in fixed))]
