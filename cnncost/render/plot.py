"""How a cost grows with one design variable: exact series, leading terms, a chart.

``series`` derives the closed form once (every other variable bound to a
number), then evaluates it exactly at each point: floors become integer ``//``
and rational coefficients ``Fraction`` (``cnncost.exact``), so no float ever enters a count.
matplotlib is imported only by ``draw``.
"""

from __future__ import annotations

import os
import tempfile
import textwrap
from dataclasses import dataclass, field
from fractions import Fraction

import sympy

from ..arch import Arch, ParameterError, as_arch
from ..conventions import STEP_QUANTITIES, check_quantity, meaning, unit
from ..errors import CnncostError
from ..exact import compile_exact
from ..symbolic import derive, symbol
from ..printer import relation_text, text

@dataclass
class Series:
    """One architecture's exact cost at each valid point of the varied variable."""

    arch: str
    xs: list
    ys: list  # exact ints
    skipped: int  # points where the network is invalid
    leading: object  # sympy: the asymptotic leading term in the varied symbol
    needs: list = field(default_factory=list)  # validity conditions, as text


def exact_function(expr, var):
    """``expr`` as a Python function of ``var`` evaluated with exact integer arithmetic."""
    return compile_exact(expr, [var])


def leading_term(expr, var):
    """Asymptotic leading term of ``expr`` in ``var``: floors dropped (⌊x⌋ = x + O(1)), top degree kept."""
    smooth = expr.replace(sympy.floor, lambda a: a).replace(sympy.ceiling, lambda a: a)
    try:
        poly = sympy.Poly(sympy.expand(smooth), var)
    except sympy.PolynomialError:
        return None
    return sympy.Integer(0) if poly.is_zero else sympy.factor_terms(poly.LC()) * var**poly.degree()


def variables(spec, step: bool = False) -> list:
    """The ``--vary`` choices of an architecture: ``hw`` (when it has h and w) and its symbolic variables, and
    with ``step`` (a training-step quantity) the batch size."""
    names = [p.name for p in spec.params if p.symbolic]
    return (["hw"] if {"h", "w"} <= set(names) else []) + names + (["batch"] if step else [])


def check_vary(spec, vary: str, step: bool = False):
    """``spec`` if ``vary`` is one of its ``--vary`` choices, else a one-line error."""
    if vary == "batch" and not step:
        raise ParameterError("vary", f"batch changes only the training-step quantities ({', '.join(STEP_QUANTITIES)})")
    if vary not in variables(spec, step):
        raise ParameterError("vary", f"{spec.name} has no design variable {vary!r} "
                                     f"(choose from {', '.join(variables(spec))})")
    return spec


def series(arch: Arch | str, vary: str, xs, quantity: str = "macs", given: dict | None = None,
           step=None) -> Series:
    """Exact ``quantity`` of ``arch`` (an ``Arch``; a name is resolved once) at each x in ``xs`` for the
    varied variable ``vary``.

    ``given`` holds builder keywords for the other variables (defaults fill the
    rest); points where the network is invalid are skipped and counted. A training-step quantity is that of
    ``step`` (a trainstep.Step; its batch varies when ``vary`` is "batch").
    """
    check_quantity(quantity)
    stepwise = quantity in STEP_QUANTITIES
    spec, xs = check_vary(as_arch(arch), vary, stepwise), list(xs)
    varied = ("h", "w") if vary == "hw" else (vary,)
    given = dict(given or {})
    clash = [name for name in varied if name in given]
    if clash:
        raise ParameterError("given", f"{', '.join(clash)} varies ({vary}, over xs); leave out its value")
    bound = {p.name: p.default for p in spec.params if p.symbolic and p.name not in varied}
    derivation = derive(spec, {**bound, **given})
    if stepwise:
        from ..symbolic import add_step_quantities
        from ..trainstep import Step

        step = step or Step()
        add_step_quantities(derivation, step._replace(batch=symbol("batch")) if vary == "batch" else step,
                            [quantity])
    var = symbol(varied[0])
    merge = {symbol("w"): var} if vary == "hw" else {}
    expr = derivation.formulas[quantity].xreplace(merge)
    conditions = [c.xreplace(merge) for c in derivation.conditions]
    needs = list(dict.fromkeys(relation_text(c) for c in conditions if c not in (sympy.true, sympy.false)))
    if sympy.false in conditions:
        raise CnncostError(f"{spec.name}: the other variables leave no valid {vary} "
                           "(the network is too small for the fixed sizes)")
    value, valid = exact_function(expr, var), exact_function(sympy.And(*conditions), var)
    points = [(x, value(x)) for x in xs if valid(x)]
    points = [(x, int(y)) for x, y in points if not (isinstance(y, Fraction) and y.denominator != 1)]
    return Series(spec.name, [x for x, _ in points], [y for _, y in points], len(xs) - len(points),
                  leading_term(expr, var), needs)


def legend(s: Series) -> str:
    """Legend entry: the architecture and its leading term, ``scratch5 ~ 13968H²``."""
    return s.arch if s.leading is None else f"{s.arch}  ~ {text(s.leading)}"


def _log_helps(values) -> bool:
    return min(values) > 0 and max(values) > 10 * min(values)


def require_matplotlib():
    """The matplotlib module, on the Agg backend (no display); a one-line error when missing."""
    try:
        import matplotlib
    except ImportError:
        raise CnncostError("plot needs matplotlib: pip install 'cnncost[plot]'") from None
    matplotlib.use("Agg")
    return matplotlib


def axis_label(spec, vary: str) -> str:
    """What the x axis shows: ``H = W (input height and width)``, ``m (filters per conv layer ...)``."""
    if vary == "hw":
        return "H = W (input height and width)"
    if vary == "batch":
        return "B (samples per training step)"
    return f"{symbol(vary)} ({spec.param(vary).meaning or spec.param(vary).help})"


def draw(all_series: list, x_label: str, quantity: str, out: str, title: str = "") -> None:
    """Draw the series on one chart and write it to ``out`` atomically (temp file + rename)."""
    require_matplotlib()
    from matplotlib import pyplot as plt, ticker

    shown, says = unit(quantity), meaning(quantity)
    xs = [x for s in all_series for x in s.xs]
    ys = [y for s in all_series for y in s.ys]
    log_x, log_y = _log_helps(xs), _log_helps(ys)
    fig, ax = plt.subplots(figsize=(8, 5))
    try:
        for s in all_series:
            ax.plot(s.xs, [float(y) for y in s.ys], marker="o" if len(s.xs) <= 30 else None,
                    markersize=3, label=legend(s))
        if log_x:  # base 2 reads well for sizes (32, 64, 128, ...), ticks as plain numbers
            ax.set_xscale("log", base=2)
            ax.xaxis.set_major_formatter(ticker.ScalarFormatter())
        if log_y:
            ax.set_yscale("log")
        ax.set_xlabel(x_label + (" (log scale)" if log_x else ""))
        ax.set_ylabel("\n".join(textwrap.wrap(f"{shown}: {says}", 60) + ["(log scale)"] * log_y), fontsize=9)
        ax.set_title("\n".join(textwrap.wrap(title or f"{shown} as {x_label} grows", 95)), fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, title="leading term (exact curve plotted)", title_fontsize=8)
        fig.tight_layout()
        _save(fig, out)
    finally:
        plt.close(fig)


def _save(fig, out: str) -> None:
    ext = os.path.splitext(out)[1].lower()
    fd, tmp = tempfile.mkstemp(suffix=ext, prefix=".cnncost-plot-", dir=os.path.dirname(os.path.abspath(out)))
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would hide the chart from other users
        with os.fdopen(fd, "wb") as handle:
            fig.savefig(handle, format=ext[1:])
        os.replace(tmp, out)
    except OSError as error:
        raise ParameterError("out", f"cannot write {out!r}: {error.strerror or error}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
