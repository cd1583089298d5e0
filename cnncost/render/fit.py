"""Fitting a table to the terminal without cutting a number or a name.

A table that is wider than the space it has loses whole columns, least important
first, and says which in one line under it; a column of prose (a meaning, a source)
wraps onto more lines instead. A number or a layer name is never shortened: when
even the essential columns do not fit, the lines run long and the terminal wraps
them, every character still there. Plain logic, no rich (``count`` stays fast).
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import NamedTuple

PROSE_MIN = 20  # a prose column wraps to no narrower than this


def available_width() -> int | None:
    """The width to fit: ``COLUMNS`` when set to a positive number, else the terminal's;
    None (no limit) when writing to a pipe or a file without ``COLUMNS``."""
    text = os.environ.get("COLUMNS", "").strip()
    if text.isdigit() and int(text) > 0:
        return int(text)
    if sys.stdout.isatty():
        return shutil.get_terminal_size().columns
    return None


class Fitted(NamedTuple):
    """Which columns a table keeps, and how wide its prose column may be."""

    keep: list  # indices of the kept columns, in their order
    dropped: list  # indices of the left-out columns
    prose_width: int | None  # the prose column's width (None: no prose column kept)


def choose(widths: list, drop_order: tuple = (), limit: int | None = None, gap: int = 2,
           prose: int | None = None, prose_min: int = PROSE_MIN) -> Fitted:
    """Keep columns so the table fits ``limit``: drop those in ``drop_order`` (least important
    first) while it does not; ``widths`` are the natural widths, ``gap`` the space between
    columns, ``prose`` the index of a column that may wrap, to ``prose_min`` at the least
    (give its longest word when that is longer: words are never broken)."""
    keep = list(range(len(widths)))

    def least(column: int) -> int:
        return min(widths[column], prose_min) if column == prose else widths[column]

    def need(columns: list) -> int:
        return sum(least(c) for c in columns) + gap * max(len(columns) - 1, 0)

    dropped = []
    for column in drop_order:
        if limit is None or need(keep) <= limit:
            break
        if column in keep:
            keep.remove(column)
            dropped.append(column)
    prose_width = None
    if prose is not None and prose in keep:
        rest = need([c for c in keep if c != prose]) + gap * (len(keep) > 1)
        room = widths[prose] if limit is None else limit - rest
        prose_width = max(least(prose), min(widths[prose], room))
    return Fitted(keep, dropped, prose_width)


def prose_minimum(cells) -> int:
    """The narrowest a prose column may wrap to: ``PROSE_MIN``, or its longest word."""
    return max([PROSE_MIN] + [len(word) for cell in cells for word in cell.split()])


def dropped_line(titles: list, limit: int | None) -> str:
    """The note under a table naming the columns left out ("" when none were), wrapped to ``limit``."""
    if not titles:
        return ""
    text = f"(left out to fit {limit} columns: {', '.join(titles)}; --json or a wider COLUMNS shows them)"
    return "\n".join(wrap(text, limit))


def wrap(text: str, limit: int | None) -> list:
    """Prose as lines of at most ``limit`` characters, broken at spaces only (a long word stays whole)."""
    import textwrap

    if limit is None:
        return [text]
    return textwrap.wrap(text, max(limit, 1), break_long_words=False, break_on_hyphens=False) or [""]


def console_width(needed: int, limit: int | None, default: int) -> int:
    """The width to give a rich console: what the fitted table needs, at least ``limit`` (or
    ``default`` when there is none), so rich never shortens a cell to fit."""
    return max(needed, limit or default)
