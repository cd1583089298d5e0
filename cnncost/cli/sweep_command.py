"""``cnncost sweep``: the cost of every configuration of a hyperparameter grid."""

from __future__ import annotations

from typing import Optional

import typer

from ..arch import Param
from ..conventions import CONVENTIONS, STEP_QUANTITIES
from ..sweep import grid as grid_module
from . import options as o
from .app import app, friendly


BATCH = Param("batch", 1, "samples per training step")  # declared here: a step's, not a network's, parameter


@app.command()
@friendly
@o.network_options(grids=True)
def sweep(arch: o.Arch = o.DEFAULT_ARCH, given: o.Given = o.FILLED,
          module: o.Module = None,
          batch: Optional[str] = typer.Option(None, help="batch sizes of the training-step quantities (comma list; "
                                                         "ranges a:b[:step])"),
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
    values = _grid_values(spec, given)
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
        assert sink is not None  # without --json the grid goes to --csv (the table case returned above)
        note = "" if whole else f" (in grid order: sorting more than {views.MEMORY_LIMIT:,} configurations " \
                                "would need them all in memory)"
        typer.echo(f"wrote {sink.rows:,} valid and {len(stream.invalid):,} invalid rows to {csv_path}{note}")


def _grid_values(spec, given: o.Given) -> dict:
    """Each gridded option's values, by option name (``hw`` zips H and W), ``--set`` ones included."""
    from ..errors import CnncostError

    if "hw" in given and ("h" in given or "w" in given):
        raise CnncostError("--hw: give either --hw or --h/--w, not both")
    values = {}
    for name, text in given.items():
        key = "h" if name == "hw" else name
        if spec.param(key) is None:
            raise CnncostError(f"{o.flag(name)}: not an option of {spec.name}")
        values[name] = grid_module.parse_values(spec, key, text, label=name)
    return o.merge_settings(spec, values, given.settings, lambda param, text: grid_module.parse_values(
        spec, param.name, text), taken={"h", "w"} if "hw" in values else ())
