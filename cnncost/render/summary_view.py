"""``cnncost summary``: a Keras-style model summary with MACs, nested by module path.

Plain data first (``summary_entries``: every layer, and every residual add and
concatenation, in execution order, with its output shape), then views: a rich
table whose rows nest by dotted name (``layer1`` → ``layer1.0`` → ``conv1``, each
group with its subtotal), the totals in the conventions of ``cnncost.conventions``,
and JSON.

The per-row "Param #" is Keras' (trainable parameters + BatchNorm moving
statistics), so a Keras summary of the same network reads the same numbers; the
totals give the PyTorch count beside it. Under ``--strategy`` the totals are Keras'
after freezing (trainable = the parameters that train; non-trainable = the frozen
ones + the moving statistics) and a "Trainable" column marks each row, as Keras'
``show_trainable`` does: Y trains, N frozen, "part" for a group holding both.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .. import layers as L
from ..conventions import CONVENTIONS, totals
from ..kinds.arithmetic import broadcast
from ..walk import COMPOSITES, Fold, children, fold
from .count_view import shape_text

HIDDEN_TYPES = ("Activation",)  # Keras folds activations into their layer; --all-layers shows them
# The totals under the table: Keras' three lines, then operations; each names its convention.
TOTALS = (("Total params", "keras"), ("Trainable params", "params"), ("Non-trainable params", "buffers"),
          ("MACs", "macs"), ("FLOPs", "flops"))


class Entry(NamedTuple):
    """One row of the summary before nesting: a layer, or the add/concat of a merge."""

    path: str  # dotted name that places it in the hierarchy
    type: str
    output_shape: tuple
    params: Any  # trainable (PyTorch)
    buffers: Any  # BatchNorm moving statistics
    macs: Any  # 0 for auxiliary (training-only) rows, as in CostTable.total
    auxiliary: bool = False
    trains: str = ""  # under a strategy: "Y" trains, "N" frozen, "" no parameters (or no strategy)


def summary_entries(network: L.Network, table: Any, all_layers: bool = False,
                    trainable: frozenset | None = None) -> list:
    """Layers and merges in execution order; activations only with ``all_layers``.

    ``trainable``: the leaf names a strategy trains; each row with parameters is marked Y or N.
    """
    rows = iter(table.layers)  # the engine's rows come in the order of this same walk
    groups = _group_names(table)
    entries: list = []
    fold(network.layers, tuple(network.input_shape), _Entries(rows, groups, entries))
    if trainable is not None:
        entries = [e._replace(trains=_trains(e, trainable)) for e in entries]
    return [e for e in entries if all_layers or e.type not in HIDDEN_TYPES]


def _trains(entry: Entry, trainable: frozenset) -> str:
    """Y or N for a row with parameters; "" for one without, and for training-only heads (no strategy's)."""
    if entry.auxiliary or entry.params == 0:
        return ""
    return "Y" if entry.path in trainable else "N"


def _group_names(table: Any) -> set:
    return {".".join(row.name.split(".")[:i]) for row in table.layers for i in range(1, row.name.count(".") + 1)}


MERGE_TYPES = ("Add", "Sub", "Mul", "Div", "Concat")  # rows that are merges, not layers


class _Entries(Fold):
    """Shapes folded through the tree beside the engine's rows (which come in this same order)."""

    def __init__(self, rows: Any, groups: set, out: list):
        self.rows, self.groups, self.out = rows, groups, out

    def leaf(self, node: Any, x: tuple) -> tuple:
        """The engine's row for this leaf, as an entry."""
        row = next(self.rows)
        self.out.append(Entry(row.name, row.type, row.output_shape, row.params, row.buffers,
                              0 if row.auxiliary else row.macs, row.auxiliary))
        return row.output_shape

    def merge(self, node: L.Residual, body: tuple, shortcut: tuple) -> tuple:
        """The add (or mul, sub, div) itself, its output broadcast as torch does."""
        y = body if node.op == "add" else broadcast(node.name, body, shortcut)
        self._entry(node, node.op.capitalize(), node.op, y)
        return y

    def concat(self, node: L.Concat, outs: list) -> tuple:
        """The concatenation itself."""
        y = (sum(o[0] for o in outs),) + tuple(outs[0][1:])
        self._entry(node, "Concat", "cat", y)
        return y

    def _entry(self, node: Any, kind: str, short: str, y: tuple) -> None:
        """Named inside its block when the block's layers are named under it."""
        path = f"{node.name}.{short}" if node.name in self.groups else node.name
        self.out.append(Entry(path, kind, y, 0, 0, 0))


# --- nesting -------------------------------------------------------------------

class Item(NamedTuple):
    """A displayed row: a layer or a group of consecutive rows sharing a name prefix."""

    label: str  # name relative to the enclosing group
    type: str
    output_shape: tuple
    keras_params: Any
    macs: Any
    children: tuple = ()  # non-empty for a group
    auxiliary: bool = False
    trains: str = ""  # Y, N, part (a group holding both) or ""


def nest(entries: list, composite_types: dict, level: int = 0) -> list:
    """Consecutive entries sharing the next name segment become one group (if two or more)."""
    items, i = [], 0
    while i < len(entries):
        parts = entries[i].path.split(".")
        j = i + 1
        if len(parts) > level + 1:
            while j < len(entries) and _segment(entries[j], level) == parts[level] and \
                    entries[j].path.count(".") > level:
                j += 1
        run = entries[i:j]
        if len(run) == 1:
            items.append(_leaf_item(run[0], ".".join(parts[level:])))
        else:
            prefix = ".".join(parts[:level + 1])
            children = tuple(nest(run, composite_types, level + 1))
            marks = {e.trains for e in run} - {""}
            trains = marks.pop() if len(marks) == 1 else ("part" if marks else "")
            items.append(Item(parts[level], composite_types.get(prefix, ""), run[-1].output_shape,
                              sum(e.params + e.buffers for e in run), sum(e.macs for e in run), children,
                              all(e.auxiliary for e in run), trains))
        i = j
    return items


def _segment(entry: Entry, level: int) -> str | None:
    parts = entry.path.split(".")
    return parts[level] if len(parts) > level else None


def _leaf_item(entry: Entry, label: str) -> Item:
    return Item(label, entry.type, entry.output_shape, entry.params + entry.buffers, entry.macs,
                auxiliary=entry.auxiliary, trains=entry.trains)


def composite_types(nodes: tuple, found: dict | None = None) -> dict:
    """Name -> type of every composite node (Sequential, Residual, Concat, Auxiliary)."""
    found = {} if found is None else found
    for node in nodes:
        if isinstance(node, COMPOSITES):
            found[node.name] = type(node).__name__
            for part in children(node):
                composite_types(part, found)
    return found


# --- views -----------------------------------------------------------------------

def keras_shape_text(shape: tuple) -> str:
    """A shape as Keras prints it: channels last, batch first as None — (None, 112, 112, 64)."""
    dims = (*shape[1:], shape[0]) if len(shape) == 3 else tuple(shape)
    return "(" + ", ".join(("None",) + tuple(str(d) for d in dims)) + ")"


SHAPE_STYLES = {"torch": shape_text, "keras": keras_shape_text}


def summary_table(items: list, strategy: bool = False, limit=None, shapes: str = "torch") -> tuple:
    """The rich table: layer (tree-indented), type, output shape, Param # (Keras), MACs, and with
    ``strategy`` a Trainable column (Y, N, part); fitted to ``limit`` columns:
    (rich Table, the width it needs, the note naming left-out columns or ""). ``shapes``: torch
    (C×H×W) or keras ((None, H, W, C))."""
    from rich import box
    from rich.markup import escape

    from .rich_fit import fitted_table

    columns = [("Layer", "left"), ("Type", "left"), ("Output shape", "left"), ("Param #", "right"),
               ("MACs", "right")] + ([("Trainable", "center")] if strategy else [])
    rows: list = []
    _add_rows(rows, items, "", strategy, SHAPE_STYLES[shapes], top=True)
    rows = [([escape(cell) for cell in cells], style) for cells, style in rows]
    # Narrow: type, then output shape, then MACs go; the layer and its Param # (and Trainable) stay.
    return fitted_table(columns, rows, drop=(1, 2, 4), gap=3, limit=limit, box=box.SIMPLE_HEAD,
                        header_style="bold", pad_edge=False, show_edge=False)


def _add_rows(rows: list, items: list, prefix: str, strategy: bool, shape=shape_text, top: bool = False,
              in_aux: bool = False) -> None:
    for n, item in enumerate(items):
        last = n == len(items) - 1
        branch = "" if top else ("└─ " if last else "├─ ")
        marker = " (aux)" if item.auxiliary and not in_aux else ""  # once per training-only head
        style = "bold" if item.children else ("dim" if item.type in MERGE_TYPES else None)
        cells = [prefix + branch + item.label + marker, item.type, shape(item.output_shape),
                 f"{item.keras_params:,}", "—" if item.auxiliary else f"{item.macs:,}"]
        rows.append((cells + ([item.trains] if strategy else []), style))
        if item.children:
            _add_rows(rows, list(item.children), prefix + ("" if top else ("   " if last else "│  ")), strategy,
                      shape, in_aux=in_aux or item.auxiliary)


def totals_grid(table: Any, split: dict | None = None) -> tuple:
    """Keras' three parameter lines and the operation totals, each naming its convention;
    with a strategy's ``split``, the parameter lines are Keras' after freezing.
    (rich grid, the narrowest width that shows every value and word whole)."""
    from rich.table import Table

    lines = total_lines(table, split)
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(justify="right", no_wrap=True)
    # The meaning wraps at spaces when narrow, never narrower than its longest word (nothing cut).
    longest = max(len(word) for _, _, meaning in lines for word in meaning.split())
    grid.add_column(style="dim", min_width=longest, overflow="fold")
    for label, value, meaning in lines:
        grid.add_row(label + ":", f"{value:,}", meaning)
    labels = max(len(label) + 1 for label, _, _ in lines)
    values = max(len(f"{value:,}") for _, value, _ in lines)
    return grid, labels + values + longest + 2 * 2


def total_lines(table: Any, split: dict | None = None) -> list:
    """(label, value, what it counts) for each line under the table."""
    values = totals(table)
    lines = [(label, values[name], f"{name} = {CONVENTIONS[name].meaning}") for label, name in TOTALS]
    if split is None:
        return lines
    strategy = f"--strategy {split['strategy']}"
    frozen = (("Total params", split["total"], f"trainable + non-trainable under {strategy}"),
              ("Trainable params", split["trainable"], f"parameters that train under {strategy} (requires_grad)"),
              ("Non-trainable params", split["non_trainable"],
               f"{split['frozen']:,} frozen parameters + {split['buffers']:,} BatchNorm moving statistics"))
    return list(frozen) + lines[3:]


def strategy_split(network: L.Network, table: Any, text: str) -> dict:
    """The trainable/frozen split of a training strategy, the layers that train, and Keras' totals
    after freezing: non-trainable = frozen parameters + BatchNorm moving statistics.

    Training-only heads are in no strategy's model (training builds without them), so their
    rows are left out of every number here.
    """
    from .. import finetune

    strategy = finetune.parse_strategy(text)
    names = finetune.trainable_layers(network, strategy)
    trainable, frozen = finetune.trainable_params(table, names)
    buffers = sum((row.buffers for row in table.layers if not row.auxiliary), 0)
    order = [row.name for row in table.layers if row.name in names]
    return {"strategy": str(strategy), "trainable": trainable, "frozen": frozen, "layers": order,
            "buffers": buffers, "non_trainable": frozen + buffers, "total": trainable + frozen + buffers}


def trainable_names(split: dict) -> frozenset:
    """The leaf layers a split trains."""
    return frozenset(split["layers"])


def strategy_line(split: dict) -> str:
    """'--strategy partial:1: trains 2,360,320 of 11,689,512 params (features.34, classifier.0, …)'."""
    total = split["trainable"] + split["frozen"]
    shown = ", ".join(split["layers"][:6]) + (", …" if len(split["layers"]) > 6 else "")
    return (f"--strategy {split['strategy']}: trains {split['trainable']:,} of {total:,} params "
            f"(PyTorch convention; {split['frozen']:,} frozen) in {_layers(len(split['layers']))}: {shown}")


def _layers(count: int) -> str:
    return f"{count} layer" if count == 1 else f"{count} layers"


def legend(all_layers: bool, strategy: bool = False) -> str:
    """What the columns count, under the totals."""
    shown = "" if all_layers else " · activations hidden (--all-layers)"
    marks = "\nTrainable: Y trains, N frozen, part = a group holding both (blank: no parameters)" if strategy else ""
    return ("Param # = trainable + BatchNorm moving statistics (Keras) · MACs = conv/linear multiply-accumulates, "
            f"bias excluded\nbold rows: groups of the rows under them, with subtotals{shown}{marks}")


def summary_json(arch_name: str, config: dict, network: L.Network, table: Any, entries: list) -> dict:
    """Every row (layers and merges, execution order) and every total, as integers."""
    values = totals(table)
    rows = [{"name": e.path, "type": e.type, "output_shape": list(e.output_shape), "params": e.params,
             "buffers": e.buffers, "keras_params": e.params + e.buffers, "macs": e.macs, "auxiliary": e.auxiliary,
             **({"trainable": e.trains == "Y"} if e.trains else {})}
            for e in entries]
    return {"arch": arch_name, "network": network.name, "config": config,
            "input_shape": list(network.input_shape), "layers": rows,
            "totals": {name: values[name] for _, name in TOTALS},
            "conventions": {name: CONVENTIONS[name].meaning for _, name in TOTALS}}
