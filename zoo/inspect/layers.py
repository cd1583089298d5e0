"""Layer names: the engine's hierarchical leaf names (``features.0``, ``layer4.1.conv2``), resolved and listed.

Every leaf layer of a SpecModule is a module at its engine name
(``model._leaves[name]``); the engine's table gives its shapes, in execution
order. Auxiliary heads run in training mode only, so they are never offered.
"""

from __future__ import annotations

import re

from torch import nn

from cnncost.errors import CnncostError

LISTED = 40  # names an error lists before saying how many more there are


def leaf_names(subject) -> list:
    """Every leaf that runs at inference, in execution order."""
    return [row.name for row in subject.table.layers if not row.auxiliary]


def conv_names(subject) -> list:
    """The Conv2d leaves, in execution order."""
    return [name for name in leaf_names(subject) if isinstance(subject.model._leaves[name], nn.Conv2d)]


def spatial_names(subject) -> list:
    """Leaves whose output is a stack of maps (C × H × W): the ones guided backpropagation can start from."""
    return [row.name for row in subject.table.layers if not row.auxiliary and len(row.output_shape) == 3]


def output_shape(subject, name: str) -> tuple:
    """The engine's output shape of leaf ``name`` (without the batch dimension)."""
    return next(tuple(row.output_shape) for row in subject.table.layers if row.name == name)


def resolve(subject, name: str, valid: list, kind: str, option: str = "--layer") -> str:
    """``name`` if it is one of ``valid`` (layers of ``kind``); otherwise a one-line error listing them."""
    if name in valid:
        return name
    kinds = plural(kind)
    if not valid:
        raise CnncostError(f"{option}: {subject.name} has no {kinds}")
    if name in subject.model._leaves:
        what = type(subject.model._leaves[name]).__name__
        raise CnncostError(f"{option}: {name!r} is a {what}, not a {kind} of {subject.name}; "
                           f"{kinds}: {listing(valid)}")
    raise CnncostError(f"{option}: {name!r} is not a layer of {subject.name}; {kinds}: {listing(valid)}")


def plural(kind: str) -> str:
    """'conv layer' -> 'conv layers', 'layer with a spatial output' -> 'layers with a spatial output'."""
    head, _, tail = kind.partition(" with ")
    return head + "s" + (f" with {tail}" if tail else "")


def listing(names: list) -> str:
    """'a, b, c' — or the first LISTED names and how many more."""
    if len(names) <= LISTED:
        return ", ".join(names)
    return ", ".join(names[:LISTED]) + f", … and {len(names) - LISTED} more"


def parse_names(text: str) -> list:
    """'conv1, conv3,res.conv' -> ['conv1', 'conv3', 'res.conv'] (empty items dropped, order kept, no repeats)."""
    return list(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))


INDEX_ITEM = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")


def parse_indices(text: str, count: int, layer: str, option: str = "--filters") -> list:
    """'0-15', '3', '0,4,9' or '0-3,8' -> channel indices, each checked against ``count`` channels."""
    found: list[int] = []
    for item in text.split(","):
        match = INDEX_ITEM.match(item)
        if not match:
            raise CnncostError(f"{option}: {text!r} is not a list of indices (e.g. 0-15 or 0,3,7)")
        first, last = int(match[1]), int(match[2] or match[1])
        if last < first:
            raise CnncostError(f"{option}: {item.strip()} is an empty range (write {last}-{first})")
        if last >= count:
            raise CnncostError(f"{option}: {text} is out of range for {layer} (0–{count - 1})")
        found += range(first, last + 1)
    return list(dict.fromkeys(found))
