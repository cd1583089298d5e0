"""``cnncost check``: audit a claimed formula or number against the engine."""

from __future__ import annotations

import json
from typing import Optional

import typer

from ..conventions import CONVENTIONS, STEP_QUANTITIES
from ..errors import CnncostError
from . import options as o
from .app import app, friendly


@app.command()
@friendly
@o.network_options
@o.step_options
def check(claim: Optional[str] = typer.Argument(None, help="the claimed formula or number"),
          arch: o.Arch = o.DEFAULT_ARCH,
          quantity: Optional[str] = typer.Option(
              None, "--quantity", help="what the claim counts: " + ", ".join(CONVENTIONS) + ", "
              + ", ".join(STEP_QUANTITIES) + " (default: the claim's unit word, as in '4.1 GMACs', else params)"),
          layer: Optional[str] = typer.Option(None, "--layer", help="the claim is about this layer only"),
          given: o.Given = o.FILLED, step_given: dict = o.FILLED,
          module: Optional[str] = typer.Option(
              None, "--module", metavar="SPEC",
              help="check against a PyTorch module (package.module:factory or path/to/file.py:factory; "
                   "imports torch); with --claims: allows claims whose arch is module:SPEC"),
          json_out: o.Json = False,
          claims: Optional[str] = typer.Option(None, "--claims", help="a TOML file of many claims"),
          markdown: bool = typer.Option(False, "--markdown", help="with --claims: a Markdown report"),
          tolerance: float = typer.Option(0.0, "--tolerance",  # range checked by the audit: nan too
                                          help="a number claim within this relative error (0 to 1) is "
                                               "accepted (rounded figures)")):
    """Is a claimed formula or number right? If not: the difference, why, and a counterexample.

    EQUAL is a proof (floors split into residue classes); NOT EQUAL comes with a counterexample.

    NOT PROVEN: neither was found; the output says what was checked.

    Exit 0: EQUAL (with --claims: every claim). Exit 1: NOT EQUAL or NOT PROVEN. Exit 2: bad input.
    """
    from ..claims import run

    if claims:
        header, items = run.load(claims)
        run.refuse_modules(claims, items, {module} if module else set())
        results = [run.check_item(item, o.resolve_name) for item in items]
        typer.echo(run.batch_markdown(header, results) if markdown else run.batch_text(results, json_out),
                   nl=not markdown)
        raise typer.Exit(0 if all(r["equal"] for r in results) else 1)
    if claim is None:
        raise CnncostError("CLAIM: give a formula or a number to check (or --claims FILE)")
    name = o.arch_name(arch, module)
    spec = o.resolve_name(name) if given.settings else None
    options: dict = given if spec is None else given.for_arch(spec)
    o.step_from(step_given)  # each step option checked before anything is derived
    run.check_quantity(quantity, layer)  # before the architecture is read (without --set), as always
    result = run.check_one(claim, spec or o.resolve_name(name), quantity, layer, options, tolerance, step_given)
    typer.echo(json.dumps(result, indent=2, default=str) if json_out else run.single_text(result))
    raise typer.Exit(0 if result["equal"] else 1)
