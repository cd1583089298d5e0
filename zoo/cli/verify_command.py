"""``cnncost verify``: the engine against the instantiated torch module and fvcore (and ptflops), layer by layer.

A zoo command: ``zoo.plugin`` lists this module, and cnncost imports it only when ``verify`` is asked for.
"""

from __future__ import annotations

import json

import typer

from cnncost import engine
from cnncost.arch import resolve
from cnncost.cli import options as o
from cnncost.cli.app import app, friendly
from cnncost.cli.zoo_commands import wide_console
from cnncost.errors import CnncostError
from cnncost.render.count_view import shape_text


@app.command()
@friendly
@o.network_options
def verify(arch: o.Arch = o.DEFAULT_ARCH, given: o.Given = o.FILLED, module: o.Module = None,
           json_out: o.Json = False):
    """Engine vs the instantiated torch module vs fvcore (vs ptflops), layer by layer; exit 1 on any mismatch."""
    spec = o.resolved(arch, module)
    network = spec.build(**resolve(spec, given.for_arch(spec)))
    engine.analyze(network)  # invalid configurations fail here, before the tools are imported
    try:
        from zoo.verify import verify as run_verify
    except ImportError as error:
        raise CnncostError(f"verify needs torch, fvcore and ptflops: pip install 'cnncost[torch]' ({error})") from None
    from cnncost.render.verify_view import verify_json

    result = run_verify(network)
    if json_out:
        typer.echo(json.dumps(verify_json(result), indent=2))
    else:
        _print(spec.name, network, result)
    raise typer.Exit(0 if result.ok else 1)


def _print(name: str, network, result) -> None:
    """The verification as a fitted table, its notes and the verdict."""
    from cnncost.render.fit import available_width
    from cnncost.render.verify_view import verify_table

    limit = available_width()
    table, needed, note = verify_table(result, limit)
    console = wide_console(needed, limit)
    console.print(f"{name} · input {shape_text(network.input_shape)} · engine value, "
                  f"✓ when the reference agrees, ✗ and the reference when not")
    console.print(table)
    if note:
        console.print(note, style="dim")
    for note in result.notes:
        console.print(f"note: {note}", style="dim")
    console.print("[bold green]all agree[/]" if result.ok else "[bold red]MISMATCH[/]")
