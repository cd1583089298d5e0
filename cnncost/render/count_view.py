"""Views of a numeric CostTable: the per-layer table, totals with conventions, JSON."""

from __future__ import annotations

from . import plain_table
from ..conventions import CONVENTIONS, QUANTITIES, totals

HIDDEN_TYPES = ("Flatten",)  # shape bookkeeping, never any cost


def shape_text(shape: tuple) -> str:
    """C×H×W or F."""
    return "×".join(str(d) for d in shape)


def header(arch_name: str, config: dict, input_shape: tuple | None = None) -> str:
    """One line naming the architecture, its hyperparameters and its input (C×H×W, from
    ``input_shape`` when given: a converted module declares no in_channels)."""
    top = top_words(config)
    config = {k: v for k, v in config.items() if k not in ("include_top", "head")}
    c = {k: v for k, v in config.items() if v is not False and v != 0.0}  # omit switched-off options
    channels, height, width = c.pop("in_channels", 3), c.pop("h"), c.pop("w")
    if input_shape is not None and len(input_shape) == 3:
        channels, height, width = input_shape
    size = f"input {channels}×{height}×{width}"
    parts = " ".join(f"{k}={v}" for k, v in c.items() if k not in ("padding", "org", "activation"))
    extras = " · ".join([f"{k} {c[k]}" for k in ("padding", "org", "activation") if k in c] + top)
    return " · ".join(p for p in (arch_name, parts, size, extras) if p)


def top_words(config: dict) -> list:
    """How a header says what became of the classifier top: 'without top', 'head gap' (nothing by default)."""
    words = [] if config.get("include_top", True) else ["without top"]
    return words + ([f"head {config['head']}"] if config.get("head", "keep") != "keep" else [])


def visible_rows(table, all_layers: bool) -> list:
    """Rows worth showing: free layers and reshapes only with ``all_layers``."""
    return [r for r in table.layers if all_layers or not (r.free or r.type in HIDDEN_TYPES)]


def layer_table(table, all_layers: bool = False) -> str:
    """The per-layer table with a total row (plain text: fast for hundreds of rows)."""
    keys = ["params"] + (["buffers"] if table.total("buffers") != 0 else []) + ["macs", "mults", "adds"]
    titles = {"params": "params", "buffers": "buffers", "macs": "MACs", "mults": "mults", "adds": "adds"}
    columns = [("layer", "left"), ("type", "left"), ("output", "left")] + [(titles[k], "right") for k in keys]
    rows = [[r.name + (" (aux)" if r.auxiliary else ""), r.type, shape_text(r.output_shape),
             *(f"{getattr(r, k):,}" for k in keys)] for r in visible_rows(table, all_layers)]
    total = ["total", "", "", *(f"{table.total(k):,}" for k in keys)]
    # Too narrow: the least telling columns go first (adds and mults follow from MACs); layer,
    # params and MACs stay. The indices follow the columns above.
    order = [columns.index((t, "right")) for t in ("adds", "mults", "buffers") if (t, "right") in columns]
    return plain_table.render(columns, rows, total, drop=tuple(order + [1, 2]))


def totals_table(table, headline: str) -> str:
    """Every convention's total, the headline first, each with its meaning."""
    values = totals(table)
    order = [headline] + [name for name in CONVENTIONS if name != headline]
    rows = [[name, f"{values[name]:,}", CONVENTIONS[name].meaning] for name in order]
    return plain_table.render([("convention", "left"), ("total", "right"), ("meaning", "left")], rows, prose=2)


def count_json(arch_name: str, config: dict, table) -> dict:
    """The JSON document of ``cnncost count --json`` (all integers)."""
    layers = [{"name": r.name, "type": r.type, "output_shape": list(r.output_shape),
               **{q: getattr(r, q) for q in QUANTITIES}} for r in table.layers]
    return {"arch": arch_name, "config": config, "layers": layers, "totals": totals(table)}
