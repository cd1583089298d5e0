"""The layer types of an architecture file and the validation of its ``[[layers]]``.

Each type lists its fields as data (kind, default, minimum; a leaf type's with its kind in
``cnncost.kinds``); validation turns
the raw TOML into ``Layer`` records whose expressions are already parsed and
whose names are already checked, so building a network only evaluates.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from . import expr as E
from . import values as v
from ..kinds import ARCHFILE_TYPES
from ..kinds.base import REQUIRED, Field
from .locate import Source
from .reserved import MODULE_ATTRIBUTES, RESERVED

_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_]*")


class Expr(NamedTuple):
    """A parsed expression and where it was written."""

    text: str
    tree: tuple
    path: tuple  # data path of the field, for errors
    minimum: int = 1  # smallest value allowed once the symbols have values


class Branch(NamedTuple):
    """One branch of a concat: its optional name and its layers."""

    name: str | None
    layers: tuple
    path: tuple


class Layer(NamedTuple):
    """One validated layer table."""

    type: str
    name: str | None  # as written (relative to the enclosing scope); None: generated
    fields: dict  # field -> validated value (Expr, tuples of Expr, bool, float, Layer tuples)
    path: tuple  # data path, e.g. ("layers", 2, "body", 0)


# Leaf types come from the layer kinds (cnncost.kinds); the containers are the file format's own.
TYPES: dict = {
    **{name: t.fields for name, t in ARCHFILE_TYPES.items()},
    "repeat": {"times": Field("static", REQUIRED, 0), "index": Field("index", "i"), "flat": Field("bool", False),
               "layers": Field("layers")},
    "residual": {"body": Field("layers"), "shortcut": Field("layers", ()), "after": Field("layers", ())},
    "concat": {"branches": Field("branches")},
    "sequence": {"layers": Field("layers")},
}
MAX_REPEAT = 10_000  # a larger repeat count is surely a typo


class Names(NamedTuple):
    """The names an expression may use at one place in the file."""

    all: frozenset  # symbols and enclosing repeat indices
    fixed: frozenset  # those with a known integer value: fixed symbols and indices
    indices: frozenset  # enclosing repeat indices


def read_layers(source: Source, document: dict, symbolic: frozenset, fixed: frozenset) -> tuple:
    """The validated top-level ``[[layers]]``."""
    if "layers" not in document:
        raise source.error(("file",), "no [[layers]]: an architecture needs at least one layer")
    return _layer_list(source, ("layers",), document["layers"], Names(symbolic | fixed, fixed, frozenset()))


def _layer_list(source: Source, path: tuple, value: Any, names: Names, empty_ok: bool = False) -> tuple:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise source.error(path, f"expected an array of layer tables, got {v.describe(value)}")
    if not value and not empty_ok:
        raise source.error(path, "expected at least one layer")
    return tuple(_layer(source, path + (i,), item, names) for i, item in enumerate(value))


def _layer(source: Source, path: tuple, item: dict, names: Names) -> Layer:
    if "type" not in item:
        raise source.error(path, "missing field 'type' (the layer type: " + ", ".join(TYPES) + ")")
    kind = v.string(source, path + ("type",), item["type"])
    if kind not in TYPES:
        raise source.error(path + ("type",), f"unknown layer type {kind!r}{v.suggest(kind, TYPES)} "
                                             f"(types: {', '.join(TYPES)})")
    schema = TYPES[kind]
    v.table(source, path, item, ("type", "name", *schema), f"a {kind} layer")
    name = layer_name(source, path + ("name",), item["name"]) if "name" in item else None
    inner = _with_index(source, path, item, names) if kind == "repeat" else names
    fields = {}
    for field, spec in schema.items():
        at = path + (field,)
        if field not in item:
            if spec.default is REQUIRED:
                raise source.error(path, f"missing field {field!r} for a {kind} layer")
            fields[field] = literal(spec.default, at, spec.minimum)
        elif field == "index":
            fields[field] = item[field]  # checked by _with_index
        else:
            scope = names if field == "times" else inner  # the index is not known in its own count
            fields[field] = _CHECKS[spec.kind](source, at, item[field], scope, spec)
    return Layer(kind, name, fields, path)


def layer_name(source: Source, path: tuple, value: Any) -> str:
    """A layer name: dot-separated segments that torch accepts as module names."""
    value = v.string(source, path, value)
    for segment in value.split("."):
        if not _SEGMENT.fullmatch(segment):
            raise source.error(path, f"{value!r} is not a valid layer name (dot-separated parts of "
                                     "letters, digits and _, each starting with a letter or digit)")
        if segment in MODULE_ATTRIBUTES:
            raise source.error(path, f"{value!r}: {segment!r} is a torch.nn.Module attribute and "
                                     "cannot name a layer; choose another")
    return value


def _with_index(source: Source, path: tuple, item: dict, names: Names) -> Names:
    """The names inside a repeat: the enclosing ones plus its index."""
    index = v.symbol_name(source, path + ("index",), item.get("index", "i"), RESERVED, "repeat index")
    if index in names.all:
        what = "an enclosing repeat's index" if index in names.indices else "a symbol of this file"
        raise source.error(path + ("index",), f"repeat index {index!r} is already {what}; "
                                              "give this repeat another, e.g. index = \"j\"")
    return Names(names.all | {index}, names.fixed | {index}, names.indices | {index})


def literal(value: Any, path: tuple, minimum: int = 1) -> Any:
    """A default as a validated value (whole numbers become expressions)."""
    return Expr(str(value), ("int", value), path, minimum) if type(value) is int else value


# --- field kinds -----------------------------------------------------------------

def _expr(source: Source, path: tuple, value: Any, names: Names, spec: Field) -> Expr:
    """A whole number or an expression string in the symbols in scope."""
    if type(value) is int:
        if value < spec.minimum:
            raise source.error(path, f"{value} is out of range (need a whole number ≥ {spec.minimum})")
        return literal(value, path, spec.minimum)
    if not isinstance(value, str):
        raise source.error(path, f"expected a whole number or an expression string, got {v.describe(value)}")
    try:
        tree = E.parse(value)
    except E.ExprError as error:
        raise source.error(path, str(error)) from None
    unknown = sorted(E.names(tree) - names.all)
    if unknown:
        known = ", ".join(sorted(names.all)) or "none declared"
        raise source.error(path, f"unknown symbol {unknown[0]!r} in {value!r}{v.suggest(unknown[0], names.all)} "
                                 f"(known here: {known}; declare symbols in [symbols])")
    symbolic = sorted(E.exponent_names(tree) - names.fixed)
    if symbolic:
        raise source.error(path, f"exponent uses {symbolic[0]!r}, which stays a symbol in formulas "
                                 "(exponents may use numbers, repeat indices and symbolic = false symbols)")
    return Expr(value, tree, path, spec.minimum)


def _static(source: Source, path: tuple, value: Any, names: Names, spec: Field) -> Expr:
    """An expression whose value is always known: a repeat count."""
    result = _expr(source, path, value, names, spec)
    symbolic = sorted(E.names(result.tree) - names.fixed)
    if symbolic:
        raise source.error(path, f"uses {symbolic[0]!r}, which stays a symbol in formulas; a repeat count "
                                 "must be known (use numbers, repeat indices and symbolic = false symbols)")
    return result


def _tuple(size: int, source: Source, path: tuple, value: Any, names: Names, spec: Field) -> Any:
    """An expression, or an array of ``size`` expressions."""
    if not isinstance(value, list):
        return _expr(source, path, value, names, spec)
    if len(value) != size:
        raise source.error(path, f"expected one value or an array of {size}, got {len(value)} values")
    return tuple(_expr(source, path + (i,), item, names, spec) for i, item in enumerate(value))


def _padding(source: Source, path: tuple, value: Any, names: Names, spec: Field) -> Any:
    """"same", "valid", or one or two expressions."""
    return value if value in ("same", "valid") else _tuple(2, source, path, value, names, spec)


def _branches(source: Source, path: tuple, value: Any, names: Names, spec: Field) -> tuple:
    """An array of branches, each an array of layers or ``{name = "...", layers = [...]}``."""
    if not isinstance(value, list) or not value:
        raise source.error(path, f"expected an array of branches, got {v.describe(value)}")
    result = []
    for i, branch in enumerate(value):
        at, name = path + (i,), None
        if isinstance(branch, dict):
            v.table(source, at, branch, ("name", "layers"), "a branch")
            name = layer_name(source, at + ("name",), branch["name"]) if "name" in branch else None
            if "layers" not in branch:
                raise source.error(at, "missing field 'layers' for a branch")
            branch, at = branch["layers"], at + ("layers",)
        # An empty branch passes its input through: concat([x, f(x)]) as in DenseNet.
        result.append(Branch(name, _layer_list(source, at, branch, names, empty_ok=True), at))
    return tuple(result)


_CHECKS = {
    "expr": _expr,
    "static": _static,
    "pair": lambda *args: _tuple(2, *args),
    "quad": lambda *args: _tuple(4, *args),
    "padding": _padding,
    "bool": lambda source, path, value, names, spec: v.boolean(source, path, value),
    "prob": lambda source, path, value, names, spec: v.number(source, path, value, 0.0, 1.0, True),
    "eps": lambda source, path, value, names, spec: v.number(source, path, value, 0.0, 1.0, False),
    "layers": lambda source, path, value, names, spec: _layer_list(source, path, value, names,
                                                                   spec.default is not REQUIRED),
    "branches": _branches,
}

