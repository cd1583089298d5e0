"""A rich table fitted to the terminal as ``fit`` decides: whole columns left out, never a cut cell.

rich shortens a table that is too wide by cutting cells (``1,814,073,3…``); here the
columns are chosen first, from the plain widths of their cells, and the console is
made wide enough for what is kept, so rich never has to shorten anything.
"""

from __future__ import annotations

from typing import Any, cast

from . import fit

SECTION = None  # a row that is a section divider
_UNSET = object()


def fitted_table(columns: list, rows: list, drop: tuple = (), prose: int | None = None, gap: int = 2,
                 keep: frozenset = frozenset(), limit: Any = _UNSET, **table_options: Any) -> tuple:
    """(rich Table, the width it needs, the note naming left-out columns or "").

    ``columns``: (title, justify) pairs; ``rows``: (cells, style) pairs of markup strings, or
    ``SECTION``; ``drop``: indices that may be left out, least important first, except those in
    ``keep`` (e.g. a column showing a mismatch); ``prose``: a column that wraps instead;
    ``gap``: the space rich puts between columns with this box (2 without a box, 3 with
    SIMPLE_HEAD's dividers); ``limit``: the width to fit (default ``fit.available_width()``).
    """
    from rich.table import Table
    from rich.text import Text

    limit = fit.available_width() if limit is _UNSET else limit
    plain = [[Text.from_markup(cell).cell_len for cell in cells] for cells, _ in filter(None, rows)]
    natural = [max([len(title)] + [widths[i] for widths in plain]) for i, (title, _) in enumerate(columns)]
    words = fit.PROSE_MIN if prose is None else fit.prose_minimum(
        Text.from_markup(cells[prose]).plain for cells, _ in filter(None, rows))
    fitted = fit.choose(natural, tuple(c for c in drop if c not in keep), limit, gap, prose, words)
    table = Table(**table_options)
    for i in fitted.keep:
        title, justify = columns[i]
        if i == prose:  # prose wraps at spaces to its width; everything else stays whole
            table.add_column(title, justify=justify, width=fitted.prose_width, overflow="fold")
        else:
            table.add_column(title, justify=justify, no_wrap=True, overflow="fold", min_width=natural[i])
    for row in rows:
        if row is SECTION:
            table.add_section()
            continue
        cells, style = row
        table.add_row(*(cells[i] for i in fitted.keep), style=style)
    # fit gives the prose column a width whenever it keeps it, so no width here is None
    widths = [cast(int, fitted.prose_width) if i == prose else natural[i] for i in fitted.keep]
    needed = sum(widths) + gap * max(len(widths) - 1, 0)
    return table, needed, fit.dropped_line([columns[i][0] for i in fitted.dropped], limit)
