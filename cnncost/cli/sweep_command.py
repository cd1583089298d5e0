"""``cnncost sweep``: the cost of every configuration of a hyperparameter grid."""

from __future__ import annotations

import json
from typing import Optional

import typer

from .. import archs
from ..conventions import CONVENTIONS
from .app import app, friendly

def _grid(help_text: str):
    return typer.Option(None, help=help_text + " (comma list; ranges a:b[:step])")


@app.command()
@friendly
def sweep(arch: str = typer.Argument("scratch5", help="architecture name"),
          m: Optional[str] = _grid("filters"), k: Optional[str] = _grid("kernel sizes"),
          n: Optional[str] = _grid("dense neurons"), hw: Optional[str] = _grid("square input sizes"),
          h: Optional[str] = _grid("input heights"), w: Optional[str] = _grid("input widths"),
          classes: Optional[str] = _grid("classes"),
          in_channels: Optional[str] = typer.Option(None, "--in-channels", help="input channels (comma list)"),
          padding: Optional[str] = _grid("paddings"), org: Optional[str] = _grid("filter organisations"),
          bn: Optional[str] = _grid("BatchNorm true/false"), activation: Optional[str] = _grid("activations"),
          aux_logits: Optional[str] = typer.Option(None, "--aux-logits", help="true/false (comma list)"),
          quantity: str = typer.Option("params,macs", "--quantity", help="comma list of: " + ", ".join(CONVENTIONS)),
          sort: Optional[str] = typer.Option(None, "--sort", help="column to sort by (default: the first quantity)"),
          descending: bool = typer.Option(False, "--desc", help="largest first"),
          limit: int = typer.Option(20, "--limit", min=1, help="rows shown in the table"),
          csv_path: Optional[str] = typer.Option(None, "--csv", help="write every row to this CSV file"),
          json_out: bool = typer.Option(False, "--json", help="print every row as JSON")):
    """Every combination's parameters and operation counts, from compiled closed forms."""
    from ..errors import CnncostError
    from ..sweep import grid, views
    from ..sweep.run import sweep as run_sweep

    spec = archs.get(arch)
    given = dict(m=m, k=k, n=n, hw=hw, h=h, w=w, classes=classes, in_channels=in_channels, padding=padding,
                 org=org, bn=bn, activation=activation, aux_logits=aux_logits)
    if hw is not None and (h is not None or w is not None):
        raise CnncostError("--hw: give either --hw or --h/--w, not both")
    values = {}
    for name, text in given.items():
        if text is None:
            continue
        key = "h" if name == "hw" else name
        if spec.param(key) is None:
            raise CnncostError(f"--{name.replace('_', '-')}: not an option of {spec.name}")
        values[name] = grid.parse_values(spec, key, text)
    quantities = [q.strip() for q in quantity.split(",") if q.strip()]
    result = run_sweep(spec.name, values, quantities)
    key = sort or quantities[0]
    if csv_path:
        rows = views.write_csv(result, csv_path, key, descending)
        typer.echo(f"wrote {rows:,} valid and {len(result.invalid):,} invalid rows to {csv_path}")
    if json_out:
        typer.echo(json.dumps(views.as_json(result, key, descending), indent=1))
    elif not csv_path:
        typer.echo(views.text(result, key, descending, limit))
