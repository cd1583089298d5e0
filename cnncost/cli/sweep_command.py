"""``cnncost sweep``: the cost of every configuration of a hyperparameter grid."""

from __future__ import annotations

from typing import List, Optional

import typer

from ..arch import Param
from ..conventions import CONVENTIONS, STEP_QUANTITIES
from ..sweep import grid as grid_module
from . import options as o
from .app import app, friendly


BATCH = Param("batch", 1, "samples per training step")  # declared here: a step's, not a network's, parameter


def _grid(help_text: str):
    return typer.Option(None, help=help_text + " (comma list; ranges a:b[:step])")


@app.command()
@friendly
def sweep(arch: o.Arch = o.DEFAULT_ARCH,
          m: Optional[str] = _grid("filters"), k: Optional[str] = _grid("kernel sizes"),
          n: Optional[str] = _grid("dense neurons"), hw: Optional[str] = _grid("square input sizes"),
          h: Optional[str] = _grid("input heights"), w: Optional[str] = _grid("input widths"),
          classes: Optional[str] = _grid("classes"),
          in_channels: Optional[str] = typer.Option(None, "--in-channels", help="input channels (comma list)"),
          padding: Optional[str] = _grid("paddings"), org: Optional[str] = _grid("filter organisations"),
          bn: Optional[str] = _grid("BatchNorm true/false"), activation: Optional[str] = _grid("activations"),
          aux_logits: Optional[str] = typer.Option(None, "--aux-logits", help="true/false (comma list)"),
          set_: Optional[List[str]] = typer.Option(None, "--set", metavar="NAME=VALUES",
                                                   help="values of any declared parameter, e.g. an architecture "
                                                        "file's symbol: --set growth=8,12,16 (repeatable)"),
          module: o.Module = None,
          batch: Optional[str] = _grid("batch sizes of the training-step quantities"),
          strategy: o.StepStrategy = None, optimizer: o.StepOptimizer = None, dtype: o.StepDtype = None,
          device: o.StepDevice = None,
          quantity: str = typer.Option("params,macs", "--quantity",
                                       help="comma list of: " + ", ".join(CONVENTIONS) + ", "
                                            + ", ".join(STEP_QUANTITIES) + "; or all"),
          sort: Optional[str] = typer.Option(None, "--sort", help="column to sort by (default: the first quantity)"),
          descending: bool = typer.Option(False, "--desc", help="largest first"),
          limit: int = typer.Option(20, "--limit", min=1, help="rows shown in the table"),
          csv_path: Optional[str] = typer.Option(None, "--csv", help="write every row to this CSV file"),
          json_out: bool = typer.Option(False, "--json", help="print every row as JSON")):
    """Every combination's parameters and operation counts, from compiled closed forms."""
    from ..sweep import run

    spec = o.resolved(arch, module)
    given = dict(m=m, k=k, n=n, hw=hw, h=h, w=w, classes=classes, in_channels=in_channels, padding=padding,
                 org=org, bn=bn, activation=activation, aux_logits=aux_logits)
    values = _grid_values(spec, {name: text for name, text in given.items() if text is not None}, set_)
    if batch is not None:
        values["batch"] = grid_module.parse_values(spec, "batch", batch, param=BATCH)
    step = o.step_from({"strategy": strategy, "optimizer": optimizer, "dtype": dtype, "device": device})
    grid = run.plan(spec, values, [q.strip() for q in quantity.split(",") if q.strip()], step)
    _write(run.Stream(grid), sort, descending, limit, csv_path, json_out)


def _write(stream, sort: Optional[str], descending: bool, limit: int, csv_path: Optional[str], json_out: bool):
    """Feed the grid, chunk by chunk, to the views asked for; every check happens before the first chunk."""
    from ..sweep import views

    key = sort or stream.quantities[0]
    views.check_sort(stream.plan, key)
    if not (csv_path or json_out):
        top = views.Top(key, descending, limit)
        for columns in stream.chunks():
            top.add(columns)
        typer.echo(views.text(stream, top, limit))
        return
    whole = views.sorts_whole_grid(stream.plan, sort is not None)
    label = f"{key} {'descending' if descending else 'ascending'}" if whole else "grid"
    sink = views.CsvFile(csv_path, stream.plan.columns) if csv_path else None
    try:
        out = views.JsonOut(lambda text: typer.echo(text, nl=False), stream, label) if json_out else None
        for columns in views.ordered_chunks(stream, key, descending, whole):
            for view in (sink, out):
                if view is not None:
                    view.add(columns)
        if sink is not None:
            sink.finish(stream.invalid)
    except BaseException:  # an error or Ctrl-C: no half-written CSV is left behind
        if sink is not None:
            sink.abandon()
        raise
    if out is not None:
        out.finish(stream)
    else:
        note = "" if whole else f" (in grid order: sorting more than {views.MEMORY_LIMIT:,} configurations " \
                                "would need them all in memory)"
        typer.echo(f"wrote {sink.rows:,} valid and {len(stream.invalid):,} invalid rows to {csv_path}{note}")


def _grid_values(spec, given: dict, set_: Optional[List[str]]) -> dict:
    """Each gridded option's values, by option name (``hw`` zips H and W), ``--set`` ones included."""
    from ..errors import CnncostError
    from ..sweep import grid

    if "hw" in given and ("h" in given or "w" in given):
        raise CnncostError("--hw: give either --hw or --h/--w, not both")
    values = {}
    for name, text in given.items():
        key = "h" if name == "hw" else name
        if spec.param(key) is None:
            raise CnncostError(f"--{name.replace('_', '-')}: not an option of {spec.name}")
        values[name] = grid.parse_values(spec, key, text, label=name)
    taken = set(values) | ({"h", "w"} if "hw" in values else set())
    for name, text in o.check_settings(spec, taken, set_).items():
        try:
            values[name] = grid.parse_values(spec, name, text)
        except CnncostError as error:  # grid says "--name: ..."; the user wrote --set name=...
            raise CnncostError("--set " + str(error).removeprefix("--")) from None
    return values
