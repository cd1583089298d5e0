"""Views of a numeric CostTable: the per-layer table, totals with conventions, JSON."""

from __future__ import annotations

from . import plain_table
from ..conventions import CONVENTIONS, QUANTITIES, STEP_QUANTITIES, totals

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


def visible_rows(table, all_layers: bool, shown: set | frozenset = frozenset()) -> list:
    """Rows worth showing: free layers and reshapes only with ``all_layers`` or when named in ``shown``."""
    return [r for r in table.layers if all_layers or r.name in shown or not (r.free or r.type in HIDDEN_TYPES)]


def layer_table(table, all_layers: bool = False, step=None) -> str:
    """The per-layer table with a total row (plain text: fast for hundreds of rows); with ``step`` (a
    trainstep.StepCost) also each layer's training-step FLOPs and the bytes it saves for backward (a layer
    that saves something is shown even if free)."""
    keys = ["params"] + (["buffers"] if table.total("buffers") != 0 else []) + ["macs", "mults", "adds"]
    titles = {"params": "params", "buffers": "buffers", "macs": "MACs", "mults": "mults", "adds": "adds"}
    columns = [("layer", "left"), ("type", "left"), ("output", "left")] + [(titles[k], "right") for k in keys]
    steps = {row.name: row for row in step.layers} if step is not None else {}
    saved = {name: step.step.batch * row.saved_per_sample + row.saved_fixed for name, row in steps.items()}
    if step is not None:
        columns += [("train FLOPs", "right"), ("saved bytes", "right")]
    rows, shown = [], {name for name, size in saved.items() if size != 0}
    for r in visible_rows(table, all_layers, shown):
        cells = [r.name + (" (aux)" if r.auxiliary else ""), r.type, shape_text(r.output_shape),
                 *(f"{getattr(r, k):,}" for k in keys)]
        if step is not None:
            row = steps.get(r.name)
            cells += [f"{step.step.batch * row.flops:,}", f"{saved[r.name]:,}"] if row else ["—", "—"]
        rows.append(cells)
    total = ["total", "", "", *(f"{table.total(k):,}" for k in keys)]
    if step is not None:  # the layers' saved bytes, without the loss's (the step table adds it)
        total += [f"{step.train_flops:,}", f"{sum(saved.values()):,}"]
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


def step_table(step) -> str:
    """Every training-step quantity's total with its meaning (``conventions.STEP_QUANTITIES``)."""
    values = step.quantities()
    rows = [[name, f"{values[name]:,}", unit, meaning] for name, (unit, meaning, _) in STEP_QUANTITIES.items()]
    return plain_table.render([("step quantity", "left"), ("total", "right"), ("unit", "left"), ("meaning", "left")],
                              rows, prose=3)


def count_json(arch_name: str, config: dict, table, step=None) -> dict:
    """The JSON document of ``cnncost count --json`` (all integers); with ``step`` (a trainstep.StepCost) its
    options, totals and per-layer figures under "step"."""
    layers = [{"name": r.name, "type": r.type, "output_shape": list(r.output_shape),
               **{q: getattr(r, q) for q in QUANTITIES}} for r in table.layers]
    document = {"arch": arch_name, "config": config, "layers": layers, "totals": totals(table)}
    if step is not None:
        s = step.step
        document["step"] = {
            "strategy": str(s.strategy), "batch": s.batch, "optimizer": s.optimizer, "dtype": s.dtype,
            "device": s.device, "totals": step.quantities(),
            "layers": [{"name": row.name, "trains": row.trains, "training": row.training,
                        "train_flops": s.batch * row.flops, "forward_flops": s.batch * row.forward_flops,
                        "input_grad_flops": s.batch * row.input_grad_flops,
                        "weight_grad_flops": s.batch * row.weight_grad_flops,
                        "saved_bytes": s.batch * row.saved_per_sample + row.saved_fixed} for row in step.layers]}
    return document
