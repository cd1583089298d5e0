"""Every leaf layer kind cnncost counts, one record each (``base.Kind``), gathered from the family files.

Adding a kind is one family file (or an entry in one) plus its test cases: see
docs/contributing.md. Everything else — the engine, the tool conventions, architecture
files, the zoo's torch builder and the torch.fx importer — looks kinds up here.
"""

from __future__ import annotations

from typing import Any

from ..errors import CnncostError
from . import arithmetic, conv, dense, elementwise, layout, norm, pool, preprocess, resample, reshape
from .base import ArchType, Counts, Field, FxForms, Kind, Unsupported

FAMILIES = (conv, dense, pool, norm, elementwise, reshape, resample, arithmetic, layout, preprocess)
KINDS: dict[type, Kind] = {kind.node: kind for family in FAMILIES for kind in family.KINDS}
ARCHFILE_TYPES: dict[str, ArchType] = {t.name: t for kind in KINDS.values() for t in kind.archfile}

__all__ = ["ARCHFILE_TYPES", "ArchType", "Counts", "FAMILIES", "Field", "FxForms", "KINDS", "Kind", "Unsupported",
           "kind_for"]


def kind_for(node: Any) -> Kind:
    """The kind of a leaf node; an unknown layer type is an error, never a zero."""
    try:
        return KINDS[type(node)]
    except KeyError:
        raise CnncostError(f"{getattr(node, 'name', node)}: no counting rule for layer type "
                           f"{type(node).__name__}") from None
