"""``cnncost memory``: what one training step holds in memory, component by component, and the largest batch
that fits a given memory."""

from __future__ import annotations

import json
import re
from typing import Optional

import typer

from .. import engine
from ..arch import resolve
from ..errors import CnncostError
from ..render import count_view, memory_view
from . import options as o
from .app import app, friendly

UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
         "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def parse_bytes(text: str) -> int:
    """'24GiB', '80 GB', '16000MiB' or a plain number of bytes; anything else is a one-line error."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*", text or "")
    unit = match.group(2).lower() if match else ""
    if not match or (unit and unit not in UNITS):
        raise CnncostError(f"--gpu-memory: {text!r} is not a size; write e.g. 24GiB, 80GB or 16000MiB "
                           "(units B, kB, MB, GB, TB, KiB, MiB, GiB, TiB)")
    size = int(float(match.group(1)) * UNITS[unit or "b"])
    if size < 1:
        raise CnncostError(f"--gpu-memory: {text!r} is no memory at all; give a size above 0")
    return size


@app.command()
@friendly
@o.network_options
@o.step_options
def memory(arch: o.Arch = o.DEFAULT_ARCH, given: o.Given = o.FILLED, step_given: dict = o.FILLED,
           module: o.Module = None, json_out: o.Json = False,
           gpu_memory: Optional[str] = typer.Option(None, "--gpu-memory", metavar="SIZE",
                                                    help="memory to fit, e.g. 24GiB: prints the largest batch "
                                                         "that fits")):
    """Memory of one training step: parameters, gradients, optimizer state and saved tensors, exactly."""
    from ..trainstep import analyze_step

    step = o.step_from(step_given)
    limit = parse_bytes(gpu_memory) if gpu_memory is not None else None
    spec = o.resolved(arch, module)
    config = resolve(spec, given.for_arch(spec))
    table = engine.analyze(spec.build(**config))
    cost = analyze_step(table, step)
    if json_out:
        typer.echo(json.dumps(memory_view.memory_json(spec.name, config, cost, limit), indent=2))
        return
    typer.echo(count_view.header(spec.name, config, table.network.input_shape))
    typer.echo(f"one training step: {memory_view.step_words(step)}")
    typer.echo(memory_view.memory_table(cost))
    for line in memory_view.batch_lines(cost, limit, gpu_memory):
        typer.echo(line)
