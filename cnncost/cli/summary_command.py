"""``cnncost summary``: a Keras-style summary (layers, output shapes, Param #, MACs) with named totals.

torch is imported only for ``--module`` (through the zoo plugin's ``module:`` form).
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from .. import engine
from ..arch import resolve
from ..errors import CnncostError
from . import options as o
from .app import app, friendly

AllLayers = Annotated[bool, typer.Option("--all-layers", help="also list activations (Keras folds them into layers)")]


@app.command()
@friendly
@o.network_options
@o.step_options
def summary(arch: o.Arch = o.DEFAULT_ARCH, given: o.Given = o.FILLED, step_given: dict = o.FILLED,
            module: o.Module = None, json_out: o.Json = False, all_layers: AllLayers = False,
            shapes: Annotated[str, typer.Option("--shapes", metavar="auto|torch|keras",
                                                help="output shapes as torch (C×H×W) or Keras ((None, H, W, C)) "
                                                     "prints them; auto: Keras' for the keras_* networks")] = "auto"):
    """Keras-style model summary with MACs per layer; totals in the PyTorch and Keras conventions. --strategy
    splits the parameters as `cnncost train --strategy` would; --batch, --optimizer, --dtype or --device adds one
    training step's cost."""
    from ..render import summary_view as view

    if shapes not in ("auto", *view.SHAPE_STYLES):
        raise CnncostError(f"--shapes: {shapes!r} is not a shape style; choose auto, torch or keras")
    spec = o.resolved(arch, module)
    style = ("keras" if spec.name.startswith("keras_") else "torch") if shapes == "auto" else shapes
    config = resolve(spec, given.for_arch(spec))
    network = spec.build(**config)
    table = engine.analyze(network)
    strategy = step_given.get("strategy")
    step = _step_cost(table, step_given)
    split = view.strategy_split(network, table, strategy) if strategy else None
    entries = view.summary_entries(network, table, all_layers, view.trainable_names(split) if split else None)
    if json_out:
        result = view.summary_json(spec.name, config, network, table, entries)
        if split:
            result["strategy"] = split
        if step is not None:
            result["step"] = {"options": _step_options(step.step), **step.quantities()}
        typer.echo(json.dumps(result, indent=2))
        return
    from ..render.fit import available_width

    items = view.nest(entries, view.composite_types(network.layers))
    limit = available_width()
    rendered, needed, note = view.summary_table(items, strategy=bool(split), limit=limit, shapes=style)
    grid, grid_width = view.totals_grid(table, split)
    console = _console(max(needed, grid_width), limit)
    console.print(_title(spec.name, network, config), style="bold")
    console.print(rendered)
    if note:
        console.print(note, style="dim")
    console.print()
    console.print(grid)
    if split:
        console.print(view.strategy_line(split))
    if step is not None:
        console.print(_step_line(step))
    console.print(view.legend(all_layers, strategy=bool(split)), style="dim")


def _step_cost(table, step_given: dict):
    """The training step the step options describe, or None when none but --strategy is given (--strategy alone
    keeps its meaning here: the trainable/frozen split)."""
    if not set(step_given) - {"strategy"}:
        return None
    from ..trainstep import analyze_step

    return analyze_step(table, o.step_from(step_given))


def _step_options(step) -> dict:
    return {"strategy": str(step.strategy), "batch": step.batch, "optimizer": step.optimizer, "dtype": step.dtype,
            "device": step.device}


def _step_line(cost) -> str:
    """'Training step (…): 1,234 train FLOPs · saved 12.3 MiB · train-bytes 45.6 MiB' (cnncost memory has the rest)."""
    from ..render.memory_view import human, step_words

    values = cost.quantities()
    return (f"Training step ({step_words(cost.step)}): {values['train-flops']:,} train FLOPs · saved tensors "
            f"{human(values['saved-bytes'])} · train-bytes {human(values['train-bytes'])} "
            f"({values['train-bytes']:,} bytes; components: cnncost memory)")


def _title(name: str, network, config: dict) -> str:
    """'Model: smallcnn · m=32 k=3 … · input 3×32×32'."""
    from ..render.count_view import top_words

    settings = " ".join(f"{key}={value}" for key, value in config.items()
                        if key not in ("h", "w", "in_channels", "include_top", "head") and value not in (False, 0.0))
    size = "×".join(str(d) for d in network.input_shape)
    return " · ".join(part for part in (f"Model: {name}", settings, f"input {size}", *top_words(config)) if part)


def _console(needed: int, limit: int | None):
    """A rich console as wide as the fitted table needs (never narrower than ``COLUMNS`` or the
    terminal); piped output without ``COLUMNS`` gets 160 columns, so the total lines stay whole."""
    from rich.console import Console

    from ..render.fit import console_width

    return Console(highlight=False, width=console_width(needed, limit, 160))
