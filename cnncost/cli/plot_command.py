"""``cnncost plot``: how a cost grows with one variable, one line per architecture, on one chart.

sympy and matplotlib are imported only when the command runs, so ``cnncost count``
never loads them.
"""

from __future__ import annotations

import os
from typing import List

import typer

from ..arch import resolve
from ..conventions import CONVENTIONS, STEP_QUANTITIES, check_quantity, unit
from ..errors import CnncostError
from . import options as o
from .app import app, friendly

FORMATS = (".png", ".svg", ".pdf")
MAX_POINTS = 100_000


@app.command()
@friendly
@o.network_options(with_set=False)  # several architectures: each takes the options it declares
@o.step_options
def plot(arch: List[str] = typer.Argument(..., help="architectures, one line each (zoo. prefix accepted)"),
         vary: str = typer.Option(..., "--vary", help="the variable on the x axis: hw (H = W), h, w, m, k or n; "
                                                      "batch for a training-step quantity"),
         start: int = typer.Option(..., "--from", help="first value of the varied variable"),
         stop: int = typer.Option(..., "--to", help="last value (inclusive)"),
         step: int = typer.Option(1, "--step", help="spacing of the values"),
         quantity: str = typer.Option("macs", "--quantity", help="one of: " + ", ".join(CONVENTIONS) + ", "
                                      + ", ".join(STEP_QUANTITIES)),
         out: str = typer.Option(..., "--out", help="chart file: .png, .svg or .pdf"),
         given: o.Given = o.FILLED, step_given: dict = o.FILLED):
    """Chart a cost against one design variable, exact at every point, leading terms in the legend."""
    check_out(out)
    xs = _points(start, stop, step)
    check_quantity(quantity)
    _check_not_given(vary, step_given)
    training_step = o.step_from(step_given)
    from ..render import plot as charts

    charts.require_matplotlib()
    stepwise = quantity in STEP_QUANTITIES
    specs = [charts.check_vary(o.resolved(name, None), vary, stepwise) for name in arch]
    _check_used(given, specs)
    _check_not_given(vary, given)
    label = charts.axis_label(specs[0], vary)
    all_series = []
    for spec in specs:
        mine = {key: value for key, value in given.items() if spec.param(key)}
        s = charts.series(spec, vary, xs, quantity, mine, training_step)
        needs = f" (valid only where {' and '.join(s.needs)})" if s.needs else ""
        if not s.xs:
            raise CnncostError(f"{spec.name}: no valid point for {label} from {start} to {stop}{needs}")
        if s.skipped:
            typer.echo(f"note: {spec.name}: skipped {s.skipped} of {len(xs)} points where the network "
                       f"is invalid{needs}", err=True)
        all_series.append(s)
    fixed = ", ".join(f"{key}={value}" for key, value in given.items())
    what = unit(quantity) if not stepwise else (
        f"{quantity} of one step (--strategy {training_step.strategy}, {training_step.optimizer}, "
        f"{training_step.dtype}, {training_step.device}" + (f", batch {training_step.batch})" if vary != "batch"
                                                             else ")"))
    title = (f"{what} as {label.split(' (')[0]} grows; "
             + (f"{fixed}, other variables at defaults" if fixed else "other variables at their defaults"))
    charts.draw(all_series, label, quantity, out, title)
    total = sum(len(s.xs) for s in all_series)
    typer.echo(f"wrote {out}: {total} points, {len(all_series)} "
               f"architecture{'s' if len(all_series) > 1 else ''}")


def check_out(path: str) -> None:
    """``--out`` checked before any work: a known extension, in an existing writable directory."""
    if os.path.splitext(path)[1].lower() not in FORMATS:
        raise CnncostError(f"--out: {path!r} must end in {', '.join(FORMATS)}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK | os.X_OK):
        raise CnncostError(f"--out: cannot write into {folder!r} (not a writable directory)")
    if os.path.isdir(path):
        raise CnncostError(f"--out: {path!r} is a directory")


def _points(start: int, stop: int, step: int) -> range:
    if step < 1:
        raise CnncostError(f"--step: {step} is out of range (need an integer ≥ 1)")
    if start < 1:
        raise CnncostError(f"--from: {start} is out of range (need an integer ≥ 1)")
    if start > stop:
        raise CnncostError(f"--from {start} is greater than --to {stop}")
    xs = range(start, stop + 1, step)
    if len(xs) > MAX_POINTS:
        raise CnncostError(f"--from/--to: {len(xs):,} points is too many (at most {MAX_POINTS:,}; raise --step)")
    return xs


def _check_not_given(vary: str, given: dict) -> None:
    """The varied variable takes its values from --from/--to: an option giving it one is an error."""
    varied = ("h", "w") if vary == "hw" else (vary,)
    if any(name in given for name in varied):
        given_as = "--hw/--h/--w" if vary == "hw" else o.flag(vary)
        raise CnncostError(f"{given_as}: {vary} is the varied variable (--from/--to); leave out its value")


def _check_used(given: dict, specs: list) -> None:
    """An option no architecture takes is an error (one taken by some applies to those)."""
    for key in given:
        if not any(spec.param(key) for spec in specs):
            resolve(specs[0], {key: given[key]})  # raises the declarations' one-line error
