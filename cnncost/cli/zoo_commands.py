"""``cnncost zoo``: the networks we ship.

``cnncost verify`` (engine vs torch vs tools) is the zoo plugin's command (``zoo/cli/verify_command.py``);
it shares ``wide_console`` with this one.
"""

from __future__ import annotations

import json

import typer

from .. import archs, engine
from ..render.count_view import shape_text
from . import options as o
from .app import app, friendly


def wide_console(needed: int = 0, limit: int | None = None):
    """A rich console (imported here: `count` and `formula` never load rich), as wide as the fitted
    table needs; piped output without COLUMNS gets 120 columns, so notes keep to one line."""
    from rich.console import Console

    from ..render.fit import console_width

    return Console(highlight=False, width=console_width(needed, limit, 120))


@app.command("zoo")
@friendly
def zoo_list(json_out: o.Json = False):
    """The networks cnncost knows: default input, parameters, MACs, provenance."""
    rows = []
    for name in archs.names():
        spec = archs.get(name)
        table = engine.analyze(spec.build(**archs.resolve(spec, {})))
        rows.append({"name": name, "input": list(table.network.input_shape),
                     "params": table.total("params"), "macs": table.total("macs"),
                     "source": spec.source, "torchvision": spec.torchvision})
    if json_out:
        typer.echo(json.dumps(rows, indent=2))
        return
    from ..render.fit import available_width
    from ..render.rich_fit import fitted_table

    columns = [("name", "left"), ("input", "left"), ("params", "right"), ("MACs", "right"),
               ("torchvision state_dict", "left"), ("source", "left")]
    cells = [([r["name"], shape_text(r["input"]), f"{r['params']:,}", f"{r['macs']:,}", r["torchvision"] or "—",
               r["source"]], None) for r in rows]
    limit = available_width()
    # Narrow: the source (prose) wraps; then the torchvision name, the input and the MACs go, in that order.
    t, needed, note = fitted_table(columns, [(_escape(c), s) for c, s in cells], drop=(4, 1, 3), prose=5,
                                   limit=limit, box=None, header_style="bold", pad_edge=False)
    console = wide_console(needed, limit)
    console.print(t)
    if note:
        console.print(note, style="dim")
    console.print("params = PyTorch trainable parameters · MACs = multiply-accumulates of conv/linear, "
                  "bias excluded, at the default input", style="dim")


def _escape(cells: list) -> list:
    """Plain text as rich markup (a source may hold brackets)."""
    from rich.markup import escape

    return [escape(cell) for cell in cells]
