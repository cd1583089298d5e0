"""A fast fixed-width text table, for tables with hundreds of rows.

rich's Table measures every cell through its console machinery (~1.5 ms per
row); resnet152's 320-row table took 0.5 s that way. Here a row costs a few
microseconds. Bold header and total when writing to a terminal. The table fits
``COLUMNS`` (or the terminal) as ``fit`` decides: columns left out, least important
first, and named under it; a prose column wrapped; numbers and names never cut.
"""

from __future__ import annotations

import sys

from . import fit

BOLD, RESET = "\033[1m", "\033[0m"
_UNSET = object()


def render(columns: list, rows: list, total: list | None = None, color: bool | None = None,
           drop: tuple = (), prose: int | None = None, width=_UNSET) -> str:
    """Columns are (title, "left"|"right"); rows and total are lists of strings.

    ``drop``: column indices that may be left out to fit ``width`` (least important first);
    ``prose``: the index of a column that wraps instead; ``width``: the columns to fit
    (default: ``fit.available_width()``, None for no limit).
    """
    color = sys.stdout.isatty() if color is None else color
    limit = fit.available_width() if width is _UNSET else width
    body = rows + ([total] if total else [])
    natural = [max([len(title)] + [len(r[i]) for r in body]) for i, (title, _) in enumerate(columns)]
    words = fit.prose_minimum(r[prose] for r in body) if prose is not None else fit.PROSE_MIN
    fitted = fit.choose(natural, drop, limit, 2, prose, words)
    keep = fitted.keep
    widths = [fitted.prose_width if i == prose else natural[i] for i in keep]

    def lines(cells: list) -> list:
        """One row as one or more lines (its prose cell wrapped)."""
        cells = [cells[i] for i in keep]
        if prose in keep and fitted.prose_width is not None:
            at = keep.index(prose)
            wrapped = fit.wrap(cells[at], fitted.prose_width)
            rows_of = [cells[:at] + [part] + cells[at + 1:] if n == 0 else
                       [""] * at + [part] + [""] * (len(cells) - at - 1) for n, part in enumerate(wrapped)]
        else:
            rows_of = [cells]
        return [_line(r, widths, [columns[i][1] for i in keep]) for r in rows_of]

    def bold(text: str) -> str:
        return f"{BOLD}{text}{RESET}" if color else text

    head = _line([columns[i][0] for i in keep], widths, [columns[i][1] for i in keep])
    out = [bold(head)] + [line for r in rows for line in lines(r)]
    if total:
        out += ["─" * len(head), *(bold(line) for line in lines(total))]
    note = fit.dropped_line([columns[i][0] for i in fitted.dropped], limit)
    return "\n".join(out + ([note] if note else []))


def _line(cells: list, widths: list, justify: list) -> str:
    parts = [c.rjust(w) if j == "right" else c.ljust(w) for c, w, j in zip(cells, widths, justify)]
    return "  ".join(parts).rstrip()
