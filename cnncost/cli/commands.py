"""The commands: each parses options, calls the library and hands the result to a view."""

from __future__ import annotations

import json
from typing import Optional

import typer

from .. import archs, engine
from ..conventions import CONVENTIONS, DEFAULT_CONVENTION, convention
from ..errors import CnncostError
from ..render import count_view
from . import options as o
from .app import app, friendly

ALL = "all"


@app.command()
@friendly
@o.architecture_options
def count(arch: o.Arch = o.DEFAULT_ARCH, given: dict = None, set_: o.Set = None,
          module: o.Module = None, json_out: o.Json = False,
          convention_name: str = typer.Option(DEFAULT_CONVENTION, "--convention",
                                              help="headline total: " + ", ".join(CONVENTIONS)),
          all_layers: bool = typer.Option(False, "--all-layers", help="also list activations, dropout, flatten")):
    """Count parameters and operations, layer by layer, for concrete sizes (no torch, no sympy)."""
    headline = convention(convention_name).name
    spec = archs.get(o.arch_name(arch, module))
    config = archs.resolve(spec, o.with_settings(spec, given, set_))
    table = engine.analyze(spec.build(**config))
    if json_out:
        typer.echo(json.dumps(count_view.count_json(spec.name, config, table), indent=2))
        return
    typer.echo(count_view.header(spec.name, config, table.network.input_shape))
    typer.echo(count_view.layer_table(table, all_layers))
    typer.echo()
    typer.echo(count_view.totals_table(table, headline))


@app.command()
@friendly
@o.architecture_options
def formula(arch: o.Arch = o.DEFAULT_ARCH, given: dict = None, set_: o.Set = None,
            module: o.Module = None, json_out: o.Json = False,
            symbolic: bool = typer.Option(True, "--symbolic",
                                          help="keep every variable not given as a symbol (default)"),
            quantity: str = typer.Option("params,macs", "--quantity",
                                         help="comma-separated conventions, or 'all': " + ", ".join(CONVENTIONS)),
            divisible: int = typer.Option(None, "--divisible", min=2,
                                          help="assume H and W are multiples of this number and simplify"),
            latex: bool = typer.Option(False, "--latex", help="print LaTeX"),
            use_cache: bool = typer.Option(True, "--cache/--no-cache", help="reuse formulas derived before"),
            strategy: Optional[str] = typer.Option(None, "--strategy",
                                                   help="also the trainable and frozen parameters under a training "
                                                        "strategy: scratch, last-layer, head, partial:K, full")):
    """Closed-form formulas (exact, floors included) for parameters and operation counts."""
    from .. import cache

    quantities = _quantities(quantity)
    spec = archs.get(o.arch_name(arch, module))
    given = archs.resolve(spec, o.with_settings(spec, given, set_), keep_symbolic=True)
    view = "json" if json_out else "latex" if latex else "text"
    if strategy is not None:
        from ..finetune import parse_strategy

        strategy = str(parse_strategy(strategy))  # checked before anything is derived
    entry = cache.key({"arch": spec.name, "fingerprint": spec.fingerprint, "given": given, "divisible": divisible,
                       "quantities": quantities, "view": view, "strategy": strategy})
    text = cache.get(entry) if use_cache else None
    if text is None:
        text = _render_formula(spec, given, divisible, quantities, view, strategy)
        if use_cache:
            cache.put(entry, text)
    typer.echo(text)


def _render_formula(spec, given: dict, divisible: int | None, quantities: list, view: str,
                    strategy: str | None = None) -> str:
    """Derive and render; sympy is imported only here."""
    from .. import symbolic as sym
    from ..render import formula_view

    derivation = sym.derive(spec.name, given, divisible)
    if strategy is not None:
        quantities = quantities + sym.add_strategy_split(derivation, strategy)
    if view == "json":
        return json.dumps(formula_view.json_view(derivation, quantities), indent=2)
    if view == "latex":
        return formula_view.latex_view(derivation, quantities)
    coefficient = {sym.symbol(p.name) for p in spec.params if p.name in ("m", "n")}
    return formula_view.text_view(derivation, spec, quantities, coefficient)


def _quantities(text: str) -> list:
    names = list(CONVENTIONS) if text.strip() == ALL else [q.strip() for q in text.split(",") if q.strip()]
    for name in names:
        if name not in CONVENTIONS:
            raise CnncostError(f"--quantity: unknown quantity {name!r}; choose from {', '.join(CONVENTIONS)} or all")
    if not names:
        raise CnncostError("--quantity: give at least one quantity")
    return names
