"""View of a verification: per-layer table with a mark per cell, totals, notes."""

from __future__ import annotations

OK, BAD = "✓", "✗"


def _cell(cell) -> str:
    """A cell as rich markup (its values escaped: a shape or note may hold brackets)."""
    from rich.markup import escape

    if cell is None:
        return ""
    value = escape(f"{cell.engine:,}" if isinstance(cell.engine, int) else str(cell.engine))
    if cell.ok:
        return f"{value} {OK}"
    reference = escape(f"{cell.reference:,}" if isinstance(cell.reference, int) else str(cell.reference))
    return f"[red]{value} {BAD} {reference}[/red]"


def columns(verification) -> list:
    """Columns present in any row, in a stable order."""
    order = ["output", "params", "buffers", "MACs", "fvcore", "ptflops"]
    present = {c for row in verification.layers for c in row.cells} | set(verification.totals)
    return [c for c in order if c in present]


def verify_table(verification, limit=None) -> tuple:
    """Engine value per cell, ✓ when the reference agrees, ✗ and the reference when not; fitted to
    ``limit`` columns: (rich Table, width it needs, note naming left-out columns or "")."""
    from rich.markup import escape

    from .rich_fit import SECTION, fitted_table

    cols = columns(verification)
    titles = [("layer", "left"), ("type", "left")] + [(c, "right") for c in cols]
    rows: list = [([escape(row.name), escape(row.type), *(_cell(row.cells.get(c)) for c in cols)], None)
            for row in verification.layers]
    rows += [SECTION, (["total", "", *(_cell(verification.totals.get(c)) for c in cols)], "bold")]
    # Least telling first: the tools' columns, buffers, output shape, type; layer, params and MACs stay,
    # and so does any column holding a mismatch (a ✗ is never hidden).
    order = [2 + cols.index(c) for c in ("ptflops", "fvcore", "buffers", "output") if c in cols] + [1]
    failing = frozenset(2 + i for i, c in enumerate(cols) if not all(
        cell.ok for cell in [row.cells.get(c) for row in verification.layers] + [verification.totals.get(c)]
        if cell is not None))
    return fitted_table(titles, rows, drop=tuple(order), keep=failing, limit=limit, box=None,
                        header_style="bold", pad_edge=False)


def verify_json(verification) -> dict:
    """JSON: every cell as {engine, reference, ok}."""
    def cells(d):
        return {k: {"engine": c.engine, "reference": c.reference, "ok": c.ok} for k, c in d.items()}

    return {"network": verification.network, "ok": verification.ok,
            "layers": [{"name": r.name, "type": r.type, "cells": cells(r.cells)} for r in verification.layers],
            "totals": cells(verification.totals), "notes": verification.notes}
