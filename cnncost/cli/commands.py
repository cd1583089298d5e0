"""The commands: each parses options, calls the library and hands the result to a view."""

from __future__ import annotations

import json

import typer

from .. import engine
from ..arch import resolve
from ..conventions import ALL, CONVENTIONS, DEFAULT_CONVENTION, check_quantity, convention
from ..errors import CnncostError
from ..render import count_view
from . import options as o
from .app import app, friendly


@app.command()
@friendly
@o.network_options
@o.step_options
def count(arch: o.Arch = o.DEFAULT_ARCH, given: o.Given = o.FILLED, step_given: dict = o.FILLED,
          module: o.Module = None, json_out: o.Json = False,
          convention_name: str = typer.Option(DEFAULT_CONVENTION, "--convention",
                                              help="headline total: " + ", ".join(CONVENTIONS)),
          all_layers: bool = typer.Option(False, "--all-layers", help="also list activations, dropout, flatten")):
    """Count parameters and operations, layer by layer, for concrete sizes (no torch, no sympy); with any
    step option (--strategy, --batch, ...) also one training step's FLOPs and memory."""
    headline = convention(convention_name).name
    step = o.step_from(step_given) if step_given else None
    spec = o.resolved(arch, module)
    config = resolve(spec, given.for_arch(spec))
    table = engine.analyze(spec.build(**config))
    cost = None
    if step is not None:
        from ..trainstep import analyze_step

        cost = analyze_step(table, step)
    if json_out:
        typer.echo(json.dumps(count_view.count_json(spec.name, config, table, cost), indent=2))
        return
    typer.echo(count_view.header(spec.name, config, table.network.input_shape))
    typer.echo(count_view.layer_table(table, all_layers, cost))
    typer.echo()
    typer.echo(count_view.totals_table(table, headline))
    if cost is not None:
        from ..render.memory_view import step_words

        typer.echo()
        typer.echo(f"one training step: {step_words(step)}")
        typer.echo(count_view.step_table(cost))


@app.command()
@friendly
@o.network_options
@o.step_options
def formula(arch: o.Arch = o.DEFAULT_ARCH, given: o.Given = o.FILLED, step_given: dict = o.FILLED,
            module: o.Module = None, json_out: o.Json = False,
            symbolic: bool = typer.Option(True, "--symbolic",
                                          help="keep every variable not given as a symbol (default)"),
            quantity: str = typer.Option("params,macs", "--quantity",
                                         help="comma-separated conventions, or 'all': " + ", ".join(CONVENTIONS)),
            divisible: int = typer.Option(None, "--divisible", min=2,
                                          help="assume H and W are multiples of this number and simplify"),
            latex: bool = typer.Option(False, "--latex", help="print LaTeX"),
            use_cache: bool = typer.Option(True, "--cache/--no-cache", help="reuse formulas derived before")):
    """Closed-form formulas (exact, floors included) for parameters and operation counts; with --strategy also
    the trainable and frozen parameters, and the training-step quantities (train-flops, saved-bytes, ...) in
    the batch size B unless --batch is given."""
    from .. import cache

    quantities = _quantities(quantity)
    spec = o.resolved(arch, module)
    values = resolve(spec, given.for_arch(spec), keep_symbolic=True)
    view = "json" if json_out else "latex" if latex else "text"
    step = o.step_from(step_given, batch=step_given.get("batch", 1))  # checked before anything is derived
    strategy = str(step.strategy) if "strategy" in step_given else None
    entry = cache.key({"arch": spec.name, "fingerprint": spec.fingerprint, "given": values, "divisible": divisible,
                       "quantities": quantities, "view": view, "strategy": strategy,
                       "step": {k: str(v) for k, v in sorted(step_given.items())}})
    text = cache.get(entry) if use_cache else None
    if text is None:
        text = _render_formula(spec, values, divisible, quantities, view, strategy, step_given)
        if use_cache:
            cache.put(entry, text)
    typer.echo(text)


def _render_formula(spec, given: dict, divisible: int | None, quantities: list, view: str,
                    strategy: str | None = None, step_given: dict | None = None) -> str:
    """Derive and render; sympy is imported only here."""
    from .. import symbolic as sym
    from ..conventions import STEP_QUANTITIES
    from ..render import formula_view

    derivation = sym.derive(spec, given, divisible)
    if strategy is not None:
        quantities = quantities + sym.add_strategy_split(derivation, strategy)
    stepwise = [q for q in quantities if q in STEP_QUANTITIES]
    if stepwise:
        sym.add_step_quantities(derivation, o.step_from(step_given or {}, batch=sym.symbol("batch")), stepwise)
    if view == "json":
        return json.dumps(formula_view.json_view(derivation, quantities), indent=2)
    if view == "latex":
        return formula_view.latex_view(derivation, quantities)
    coefficient = {sym.symbol(p.name) for p in spec.params if p.name in ("m", "n")}
    return formula_view.text_view(derivation, spec, quantities, coefficient)


def _quantities(text: str) -> list:
    """The --quantity names: conventions, training-step quantities, or 'all' (every convention)."""
    names = list(CONVENTIONS) if text.strip() == ALL else [q.strip() for q in text.split(",") if q.strip()]
    for name in names:
        check_quantity(name, all_alone=True)
    if not names:
        raise CnncostError("--quantity: give at least one quantity")
    return names
