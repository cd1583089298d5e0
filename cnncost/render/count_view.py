"""Views of a numeric CostTable: the per-layer rich table, totals with conventions, JSON."""

from __future__ import annotations

from rich.table import Table

from ..conventions import CONVENTIONS, QUANTITIES, totals

HIDDEN_TYPES = ("Flatten",)  # shape bookkeeping, never any cost


def shape_text(shape: tuple) -> str:
    """C×H×W or F."""
    return "×".join(str(d) for d in shape)


def header(arch_name: str, config: dict) -> str:
    """One line naming the architecture, its hyperparameters and its input."""
    c = {k: v for k, v in config.items() if v is not False and v != 0.0}  # omit switched-off options
    size = f"input {c.pop('in_channels', 3)}×{c.pop('h')}×{c.pop('w')}"
    parts = " ".join(f"{k}={v}" for k, v in c.items() if k not in ("padding", "org", "activation"))
    extras = " · ".join(f"{k} {c[k]}" for k in ("padding", "org", "activation") if k in c)
    return " · ".join(p for p in (arch_name, parts, size, extras) if p)


def visible_rows(table, all_layers: bool) -> list:
    """Rows worth showing: free layers and reshapes only with ``all_layers``."""
    return [r for r in table.layers if all_layers or not (r.free or r.type in HIDDEN_TYPES)]


def layer_table(table, all_layers: bool = False) -> Table:
    """The per-layer table with a total row."""
    show_buffers = table.total("buffers") != 0
    t = Table(box=None, header_style="bold", pad_edge=False)
    for col in ("layer", "type", "output"):
        t.add_column(col)
    numeric = ["params"] + (["buffers"] if show_buffers else []) + ["MACs", "mults", "adds"]
    for col in numeric:
        t.add_column(col, justify="right")
    keys = ["params"] + (["buffers"] if show_buffers else []) + ["macs", "mults", "adds"]
    for row in visible_rows(table, all_layers):
        t.add_row(row.name, row.type, shape_text(row.output_shape), *(f"{getattr(row, k):,}" for k in keys))
    t.add_section()
    t.add_row("total", "", "", *(f"{table.total(k):,}" for k in keys), style="bold")
    return t


def totals_table(table, headline: str) -> Table:
    """Every convention's total, the headline first, each with its meaning."""
    values = totals(table)
    t = Table(box=None, show_header=False, pad_edge=False)
    t.add_column("convention")
    t.add_column("total", justify="right")
    t.add_column("meaning", style="dim")
    order = [headline] + [name for name in CONVENTIONS if name != headline]
    for name in order:
        style = "bold" if name == headline else None
        t.add_row(name, f"{values[name]:,}", CONVENTIONS[name].meaning, style=style)
    return t


def count_json(arch_name: str, config: dict, table) -> dict:
    """The JSON document of ``cnncost count --json`` (all integers)."""
    layers = [{"name": r.name, "type": r.type, "output_shape": list(r.output_shape),
               **{q: getattr(r, q) for q in QUANTITIES}} for r in table.layers]
    return {"arch": arch_name, "config": config, "layers": layers, "totals": totals(table)}
