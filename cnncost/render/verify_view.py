"""View of a verification: per-layer table with a mark per cell, totals, notes."""

from __future__ import annotations

from rich.table import Table

OK, BAD = "✓", "✗"


def _cell(cell) -> str:
    if cell is None:
        return ""
    value = f"{cell.engine:,}" if isinstance(cell.engine, int) else str(cell.engine)
    if cell.ok:
        return f"{value} {OK}"
    reference = f"{cell.reference:,}" if isinstance(cell.reference, int) else str(cell.reference)
    return f"[red]{value} {BAD} {reference}[/red]"


def columns(verification) -> list:
    """Columns present in any row, in a stable order."""
    order = ["output", "params", "buffers", "MACs", "fvcore", "ptflops"]
    present = {c for row in verification.layers for c in row.cells} | set(verification.totals)
    return [c for c in order if c in present]


def verify_table(verification) -> Table:
    """Engine value per cell, ✓ when the reference agrees, ✗ and the reference when not."""
    cols = columns(verification)
    t = Table(box=None, header_style="bold", pad_edge=False)
    t.add_column("layer")
    t.add_column("type")
    for c in cols:
        t.add_column(c, justify="right")
    for row in verification.layers:
        t.add_row(row.name, row.type, *(_cell(row.cells.get(c)) for c in cols))
    t.add_section()
    t.add_row("total", "", *(_cell(verification.totals.get(c)) for c in cols), style="bold")
    return t


def verify_json(verification) -> dict:
    """JSON: every cell as {engine, reference, ok}."""
    def cells(d):
        return {k: {"engine": c.engine, "reference": c.reference, "ok": c.ok} for k, c in d.items()}

    return {"network": verification.network, "ok": verification.ok,
            "layers": [{"name": r.name, "type": r.type, "cells": cells(r.cells)} for r in verification.layers],
            "totals": cells(verification.totals), "notes": verification.notes}
