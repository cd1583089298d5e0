"""PNG plots of a ``cnncost tune`` study: the sweep plots students paste into reports.

``write_plots`` writes metric per trial (wandb's "accuracy v/s created"), parallel coordinates, fANOVA
importance, correlation and metric-versus-exact-cost Pareto fronts. Each ``*_figure`` function builds a
matplotlib Figure (tests can inspect it) or returns ``(None, reason)`` when there is nothing honest to draw.
House style (zoo.training.plots): Agg canvas via ``new_figure``, atomic ``save_png``, every figure titled
with the metric, the study's network and its search method, every axis labelled, a colour bar wherever
colour carries a value.
"""

from __future__ import annotations

import math
from pathlib import Path

from zoo.runtime.canvas import new_figure, save_png
from zoo.tune import report

COMPLETE_COLOUR = "tab:blue"
PRUNED_COLOUR = "tab:orange"
BEST_COLOUR = "black"
FRONT_COLOUR = "tab:red"
OTHER_COLOUR = "0.6"  # grey: trials off the front
LOG_SPAN = 100.0  # a cost axis is logarithmic when its largest value is more than this many times its smallest
COLOUR_MAP = "viridis"
MAX_VALUE_TICKS = 8  # a numeric parameter listing at most this many values is ticked at each of them


class WrittenPlots(list):
    """The paths written (a list of Path), with ``skipped``: {file name: why it was not drawn}."""

    def __init__(self, paths=(), skipped=None):
        super().__init__(paths)
        self.skipped = dict(skipped or {})


def write_plots(study, folder) -> WrittenPlots:
    """Every plot of the study as a PNG in ``folder`` (created if needed). Returns the paths written; a plot
    with nothing to show (importance with fewer than 2 complete trials, say) is not written and its reason
    is in the result's ``skipped``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    builders = {
        "metric_vs_trial.png": metric_vs_trial_figure,
        "parallel_coordinates.png": parallel_coordinates_figure,
        "importance.png": importance_figure,
        "correlation.png": correlation_figure,
        "pareto_macs.png": lambda s: pareto_figure(s, "macs"),
        "pareto_params.png": lambda s: pareto_figure(s, "params"),
    }
    written = WrittenPlots()
    for name, build in builders.items():
        figure, reason = build(study)
        if figure is None:
            written.skipped[name] = reason
        else:
            written.append(save_png(figure, folder / name))
    return written


def study_title(spec: report.Spec, what: str) -> str:
    """A figure title: what it shows, then the study's network and search method."""
    return f"{what}\n{spec.network}, {spec.method} search"


def metric_label(spec: report.Spec) -> str:
    """The metric's axis label, with its goal ('val_acc (maximize)')."""
    return f"{spec.metric} ({spec.goal})"


# ---------------------------------------------------------------- metric per trial

def metric_vs_trial_figure(study):
    """The metric of each trial against its number: complete trials as points, trials the pruner stopped
    as crosses at their last reported value, the running best of the complete trials as a step line.
    ``(None, reason)`` when no trial has a value."""
    from matplotlib.ticker import MaxNLocator

    spec = report.spec_of(study)
    complete = report.complete_trials(study)
    pruned = [(t.number, report.last_metric(t)) for t in study.trials
              if report.state_name(t) == "PRUNED" and report.is_finite_number(report.last_metric(t))]
    if not complete and not pruned:
        return None, f"no trial has a {spec.metric} value yet"
    figure = new_figure(8, 4.5)
    axes = figure.subplots()
    if complete:
        axes.plot([t.number for t in complete], [t.values[0] for t in complete], "o", color=COMPLETE_COLOUR,
                  label=f"complete ({len(complete)})")
        numbers, best = _running_best(complete, spec.goal)
        axes.step(numbers, best, where="post", color=BEST_COLOUR, linewidth=1.2, label="best so far")
    if pruned:
        axes.plot([n for n, _ in pruned], [v for _, v in pruned], "x", color=PRUNED_COLOUR, markersize=8,
                  label=f"pruned, at last reported epoch ({len(pruned)})")
    unplotted = len(study.trials) - len(complete) - len(pruned)
    axes.set(title=study_title(spec, f"{spec.metric} per trial"), xlabel="trial number",
             ylabel=metric_label(spec))
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.grid(True, alpha=0.3)
    if unplotted:
        # Failed, running and budget-pruned trials have no value to place; say how many there are.
        axes.plot([], [], " ", label=f"{unplotted} without a value (failed, running, pruned before training)")
    axes.legend(fontsize=8)
    return figure, None


def _running_best(trials: list, goal: str) -> tuple[list, list]:
    """Trial numbers and the best metric reached up to each (complete trials, in number order)."""
    choose = max if goal == "maximize" else min
    numbers, best, current = [], [], None
    for trial in sorted(trials, key=lambda t: t.number):
        current = trial.values[0] if current is None else choose(current, trial.values[0])
        numbers.append(trial.number)
        best.append(current)
    return numbers, best


# ---------------------------------------------------------------- parallel coordinates

def parallel_coordinates_figure(study):
    """One vertical axis per parameter (categorical axes labelled with their categories, numeric ones with
    their range, logarithmic when it spans more than 100×) and a last axis for the metric; one line per
    complete trial, coloured by the metric, with a colour bar. ``(None, reason)`` without complete trials."""
    import numpy as np
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    spec = report.spec_of(study)
    trials = report.complete_trials(study)
    names = report.parameter_names(study, spec)
    if not trials:
        return None, "no complete trial to draw"
    if not names:
        return None, "the study samples no parameter"
    axes_specs = [_coordinate_axis(name, [t.params.get(name) for t in trials], spec) for name in names]
    metric = np.array([t.values[0] for t in trials], dtype=float)
    axes_specs.append(_numeric_axis(metric_label(spec), list(metric), log=False))
    figure = new_figure(max(7.0, 1.6 * len(axes_specs) + 2), 5)
    axes = figure.subplots()
    low, high = float(metric.min()), float(metric.max())
    if low == high:  # one value: give the colour scale some width so the bar can be drawn
        low, high = low - 0.5, high + 0.5
    norm, cmap = Normalize(low, high), colormaps[COLOUR_MAP]
    order = np.argsort(metric if spec.goal == "maximize" else -metric)  # best drawn last, on top
    for index in order:
        ys = [axis["place"](trials[index].params.get(name)) for axis, name in zip(axes_specs, names)]
        ys.append(axes_specs[-1]["place"](metric[index]))
        axes.plot(range(len(axes_specs)), ys, color=cmap(norm(metric[index])), linewidth=1.4, alpha=0.85)
    for position, axis in enumerate(axes_specs):
        axes.axvline(position, color="black", linewidth=0.8)
        for place, text in axis["ticks"]:
            axes.annotate(text, (position, place), xytext=(4, 0), textcoords="offset points", fontsize=7,
                          va="center", ha="left")
    axes.set_xticks(range(len(axes_specs)), [a["title"] for a in axes_specs], rotation=15, fontsize=8)
    axes.set_yticks([])
    axes.set_xlim(-0.2, len(axes_specs) - 0.5)
    axes.set_ylim(-0.06, 1.06)
    axes.set(title=study_title(spec, f"parallel coordinates of {len(trials)} complete trials, coloured by "
                                     f"{spec.metric}"),
             xlabel="parameter (and the metric)", ylabel="value, each axis on its own scale (labels at its ticks)")
    figure.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=axes, label=metric_label(spec))
    return figure, None


def _coordinate_axis(name: str, values: list, spec: report.Spec) -> dict:
    """A parameter's axis: numeric (ticked at its listed values, or its range) or categorical (one tick per
    category, bools as false/true)."""
    present = [v for v in values if v is not None]
    kind = report.parameter_kind(name, present, spec)
    declared = spec.parameters.get(name)
    entry: dict = declared if isinstance(declared, dict) else {}
    if kind == "number":
        listed = [float(v) for v in entry.get("values") or []]
        # A short list of values (a grid) is ticked at each value; a range at its ends and middle.
        marks = listed if listed and len(listed) <= MAX_VALUE_TICKS else None
        numbers = [float(v) for v in present] + listed
        return _numeric_axis(name, numbers, _wants_log(numbers, str(entry.get("distribution", ""))), marks)
    levels = [False, True] if kind == "bool" else report.categories(name, present, spec)
    spots = {report.category_label(v): (i + 0.5) / len(levels) if len(levels) > 1 else 0.5
             for i, v in enumerate(levels)}

    def place(value):
        """The category's height (nan when the trial lacks the parameter, so the line breaks there)."""
        return math.nan if value is None else spots.get(report.category_label(value), math.nan)

    return {"title": name, "place": place, "ticks": [(spot, label) for label, spot in spots.items()]}


def _wants_log(numbers: list, distribution: str) -> bool:
    """A numeric axis is logarithmic when all its values are positive and either the spec samples it on a
    log scale or they span more than ``LOG_SPAN``×."""
    if not numbers or min(numbers) <= 0:
        return False
    return "log" in distribution or max(numbers) > LOG_SPAN * min(numbers)


def _numeric_axis(title: str, values: list, log: bool, marks: list | None = None) -> dict:
    """A numeric axis scaled to [0, 1] over the values' range (log10 when ``log``), ticked at ``marks``
    (values) when given, else at min, mid and max."""
    transform = math.log10 if log else float
    points = [transform(v) for v in values] or [0.0]
    low, high = min(points), max(points)
    span = high - low

    def place(value):
        """The value's height on this axis (nan when missing, so the line breaks there)."""
        if value is None or not report.is_finite_number(value) or (log and value <= 0):
            return math.nan
        return 0.5 if span == 0 else (transform(value) - low) / span

    if marks is not None:
        places = sorted({transform(v) for v in marks})
    else:
        places = [low] if span == 0 else [low, low + span / 2, high]
    ticks = [(0.5 if span == 0 else (m - low) / span, report.cell_text(10 ** m if log else m)) for m in places]
    return {"title": title + (" (log)" if log else ""), "place": place, "ticks": ticks}


# ---------------------------------------------------------------- importance and correlation

def importance_figure(study):
    """fANOVA importances as horizontal bars, most important on top; ``(None, reason)`` when
    ``report.importance`` has none."""
    spec = report.spec_of(study)
    values, reason = report.importance(study)
    if values is None:
        return None, reason
    names = list(values)[::-1]  # barh draws bottom-up; the largest (first) goes on top
    figure = new_figure(7, 1.2 + 0.45 * len(names))
    axes = figure.subplots()
    bars = axes.barh(names, [values[n] for n in names], color=COMPLETE_COLOUR)
    axes.bar_label(bars, labels=[f"{values[n]:.3f}" for n in names], padding=3, fontsize=8)
    axes.set_xlim(0, max(1.0, max(values.values()) * 1.15))
    axes.set(title=study_title(spec, f"fANOVA importance for {spec.metric}"),
             xlabel=f"importance (share of {spec.metric}'s variance, sums to 1)", ylabel="parameter")
    axes.grid(True, axis="x", alpha=0.3)
    return figure, None


def correlation_figure(study):
    """Pearson r and Spearman rho of each parameter column with the metric as paired horizontal bars on
    [-1, 1]; undefined ones (constant or n < 3) are written as such at 0. ``(None, reason)`` without
    parameters."""
    spec = report.spec_of(study)
    rows = report.correlations(study)
    if not rows:
        return None, "the study samples no parameter"
    rows = rows[::-1]  # the first parameter on top
    figure = new_figure(8, 1.4 + 0.5 * len(rows))
    axes = figure.subplots()
    positions = list(range(len(rows)))
    height = 0.38
    for offset, index, label, colour in ((height / 2, 1, "Pearson r", COMPLETE_COLOUR),
                                         (-height / 2, 2, "Spearman rho", PRUNED_COLOUR)):
        values = [row[index] if row[index] is not None else 0.0 for row in rows]
        axes.barh([p + offset for p in positions], values, height=height, color=colour, label=label)
    for position, (_, r, rho, n) in zip(positions, rows):
        note = f"n={n}" + ("" if r is not None and rho is not None else ", undefined (constant or n < 3)")
        axes.annotate(note, (1.0, position), xytext=(4, 0), textcoords="offset points", fontsize=7, va="center")
    axes.axvline(0, color="black", linewidth=0.8)
    axes.set_yticks(positions, [row[0] for row in rows], fontsize=8)
    axes.set_xlim(-1.0, 1.0)
    complete = len(report.complete_trials(study))
    axes.set(title=study_title(spec, f"correlation with {spec.metric} over {complete} complete trials"),
             xlabel=f"correlation with {spec.metric}", ylabel="parameter (categories as 0/1 indicators)")
    axes.grid(True, axis="x", alpha=0.3)
    axes.legend(fontsize=8, loc="lower left")
    return figure, None


# ---------------------------------------------------------------- Pareto fronts

COST_LABELS = {"macs": "MACs (exact engine count)", "params": "parameters (exact engine count)"}


def pareto_figure(study, cost: str):
    """The metric against the exact ``cost`` (macs or params) of every complete trial, the Pareto front
    highlighted and joined; the cost axis is logarithmic when it spans more than 100×; a budget on the cost
    is drawn as a dashed line. ``(None, reason)`` when no complete trial carries the count."""
    from matplotlib.ticker import FuncFormatter

    spec = report.spec_of(study)
    trials = [t for t in report.complete_trials(study) if report.exact_count(t, cost) is not None]
    if not trials:
        return None, f"no complete trial carries a counted {cost}"
    front = report.pareto(study, cost)
    on_front = {t.number for t in front}
    figure = new_figure(8, 4.8)
    axes = figure.subplots()
    others = [t for t in trials if t.number not in on_front]
    if others:
        axes.plot([report.exact_count(t, cost) for t in others], [t.values[0] for t in others], "o",
                  color=OTHER_COLOUR, label=f"dominated ({len(others)})")
    axes.plot([report.exact_count(t, cost) for t in front], [t.values[0] for t in front], "-o",
              color=FRONT_COLOUR, label=f"Pareto front ({len(front)})")
    for trial in front:
        axes.annotate(f"#{trial.number}", (report.exact_count(trial, cost), trial.values[0]), xytext=(4, 4),
                      textcoords="offset points", fontsize=7)
    counts = [report.exact_count(t, cost) for t in trials]
    if min(counts) > 0 and max(counts) > LOG_SPAN * min(counts):
        axes.set_xscale("log")
    else:  # exact counts read as digit-grouped integers, not as "0.3" under a "1e6" offset
        axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
    budget = spec.budgets.get(f"max_{cost}")
    if report.is_finite_number(budget):
        axes.axvline(budget, color="black", linestyle="--", linewidth=1, label=f"max_{cost} budget {budget:,}")
    axes.set(title=study_title(spec, f"{spec.metric} against exact {'MACs' if cost == 'macs' else 'params'}"),
             xlabel=COST_LABELS[cost] + (" (log scale)" if axes.get_xscale() == "log" else ""),
             ylabel=metric_label(spec))
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=8)
    return figure, None
