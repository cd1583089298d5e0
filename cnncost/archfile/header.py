"""The ``[network]`` and ``[symbols]`` tables: the input, and the parameters a file declares."""

from __future__ import annotations

import os
from typing import NamedTuple

from ..arch import Param, input_size_params
from . import values as v
from .locate import Source
from .reserved import RESERVED

NETWORK_FIELDS = ("name", "description", "input")
SYMBOL_FIELDS = ("default", "min", "meaning", "symbolic")


class Header(NamedTuple):
    """What the file says about the network as a whole."""

    name: str  # the network's name (the file's stem unless given)
    description: str
    params: tuple  # Param declarations: h, w, in_channels, then the file's symbols
    symbolic: frozenset  # symbols kept as symbols in formulas
    fixed: frozenset  # symbols always bound to a number (usable in repeat counts and exponents)


def read_header(source: Source, document: dict) -> Header:
    """Validate ``[network]`` and ``[symbols]`` and declare the parameters."""
    network = v.table(source, ("network",), document.get("network", {}), NETWORK_FIELDS, "[network]")
    stem = os.path.splitext(os.path.basename(source.filename))[0]
    name = v.string(source, ("network", "name"), network.get("name", stem))
    description = v.string(source, ("network", "description"),
                           network.get("description", f"architecture file {source.filename}"))
    channels, height, width = _input(source, network)
    params = input_size_params(height)[:1] + input_size_params(width)[1:] + (
        Param("in_channels", channels, "input channels"),)
    symbols = v.table(source, ("symbols",), document.get("symbols", {}), None, "[symbols]")
    declared = tuple(_symbol(source, key, value) for key, value in symbols.items())
    return Header(name, description, params + declared,
                  frozenset(p.name for p in declared if p.symbolic),
                  frozenset(p.name for p in declared if not p.symbolic))


def _input(source: Source, network: dict) -> tuple:
    """``input = [channels, height, width]``: the defaults of --in-channels, --h and --w."""
    path = ("network", "input")
    if "input" not in network:
        raise source.error(("network",), "missing field 'input' (input = [channels, height, width], "
                                         "e.g. [3, 224, 224])")
    value = network["input"]
    if not isinstance(value, list) or len(value) != 3:
        got = f"{len(value)} values" if isinstance(value, list) else v.describe(value)
        raise source.error(path, f"expected [channels, height, width], got {got}")
    return tuple(v.integer(source, path + (i,), item, 1) for i, item in enumerate(value))


def _symbol(source: Source, name: str, value) -> Param:
    """One ``[symbols]`` entry: ``m = 64`` or ``m = {default = 64, min = 1, meaning = "..."}``."""
    path = ("symbols", name)
    v.symbol_name(source, path, name, RESERVED, "symbol")
    default_path = path + ("default",) if isinstance(value, dict) else path  # m = 64 is the short form
    if not isinstance(value, dict):
        value = {"default": value}
    else:
        v.table(source, path, value, SYMBOL_FIELDS, f"symbol {name!r}")
    symbolic = v.boolean(source, path + ("symbolic",), value.get("symbolic", True))
    # A symbol is a positive integer in formulas; only a fixed one may be 0.
    low = 1 if symbolic else 0
    minimum = v.integer(source, path + ("min",), value.get("min", low), low)
    if "default" not in value:
        raise source.error(path, "missing field 'default' (the value used when none is given)")
    default = v.integer(source, default_path, value["default"], minimum)
    meaning = v.string(source, path + ("meaning",), value.get("meaning", name))
    return Param(name, default, meaning, minimum=minimum, symbolic=symbolic, meaning=meaning)
