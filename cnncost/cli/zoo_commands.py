"""``cnncost zoo`` (the networks we ship) and ``cnncost verify`` (engine vs torch vs tools)."""

from __future__ import annotations

import json

import typer

from .. import archs, engine
from ..errors import CnncostError
from ..render.count_view import shape_text
from . import options as o
from .app import app, friendly


def _console(needed: int = 0, limit: int | None = None):
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
    console = _console(needed, limit)
    console.print(t)
    if note:
        console.print(note, style="dim")
    console.print("params = PyTorch trainable parameters · MACs = multiply-accumulates of conv/linear, "
                  "bias excluded, at the default input", style="dim")


def _escape(cells: list) -> list:
    """Plain text as rich markup (a source may hold brackets)."""
    from rich.markup import escape

    return [escape(cell) for cell in cells]


@app.command()
@friendly
@o.architecture_options
def verify(arch: o.Arch = o.DEFAULT_ARCH, given: dict = None, set_: o.Set = None,
           module: o.Module = None, json_out: o.Json = False):
    """Engine vs the instantiated torch module vs fvcore (vs ptflops), layer by layer; exit 1 on any mismatch."""
    spec = archs.get(o.arch_name(arch, module))
    network = spec.build(**archs.resolve(spec, o.with_settings(spec, given, set_)))
    engine.analyze(network)  # invalid configurations fail here, before torch is imported
    try:
        from zoo.verify import verify as run_verify
    except ImportError as error:
        raise CnncostError(f"verify needs torch, fvcore and ptflops: pip install 'cnncost[torch]' ({error})") from None
    from ..render.verify_view import verify_json, verify_table

    result = run_verify(network)
    if json_out:
        typer.echo(json.dumps(verify_json(result), indent=2))
    else:
        from ..render.fit import available_width

        limit = available_width()
        table, needed, note = verify_table(result, limit)
        console = _console(needed, limit)
        console.print(f"{spec.name} · input {shape_text(network.input_shape)} · engine value, "
                      f"✓ when the reference agrees, ✗ and the reference when not")
        console.print(table)
        if note:
            console.print(note, style="dim")
        for note in result.notes:
            console.print(f"note: {note}", style="dim")
        console.print("[bold green]all agree[/]" if result.ok else "[bold red]MISMATCH[/]")
    raise typer.Exit(0 if result.ok else 1)
