"""The report side of ``cnncost tune``: leaderboard, best trial, correlations, importances and Pareto fronts.

Everything here reads an ``optuna.Study`` written by the search (finished or still running) and its
``study.user_attrs["cnncost"]`` spec; nothing is drawn (``zoo.tune.plots`` draws). Functions that may have
no answer say why: ``best_trial`` returns None and ``best_trial_reason`` the reason; ``importance`` returns
``(value, reason)`` with exactly one of the two None; a plot is skipped with its reason. A caller can always
say why something is missing instead of printing a blank.

Exact engine counts (params, MACs, training FLOPs and bytes) come from the trials' user attrs and stay
Python ints end to end; Optuna's float objective values are only used for the objectives it optimised.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

from cnncost.errors import CnncostError

SPEC_KEY = "cnncost"  # the study user attr holding the search's spec
GOALS = ("maximize", "minimize")
COST_ATTRS = ("params", "macs", "flops", "train_flops", "train_bytes", "saved_bytes")  # exact ints per trial
TABLE_COSTS = ("params", "macs", "train_flops", "train_bytes")  # the costs every leaderboard row carries
FRONT_COSTS = ("macs", "params")  # the costs pareto() draws a front against
MIN_CORRELATION_N = 3  # below this a correlation is too noisy to print (and n=2 is always ±1)
STATE_WORDS = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed", "RUNNING": "running",
               "WAITING": "waiting"}
# Row keys that are not parameters; a parameter with one of these names gets PARAM_PREFIX in its key.
FIXED_KEYS = ("rank", "number", "state", *COST_ATTRS, "epochs", "last_metric", "reason", "error", "run", "command")
PARAM_PREFIX = "param:"


@dataclass(frozen=True)
class Spec:
    """The parts of the search's spec the report needs, checked once."""

    network: str
    method: str
    metric: str
    goal: str
    objectives: tuple  # ((name, goal), ...), the metric first
    parameters: dict  # name -> the config's description ({"values": [...]} or {"min": .., "max": ..})
    epochs: int | None
    budgets: dict
    raw: dict


def spec_of(study) -> Spec:
    """The study's cnncost spec, checked: one clear line naming the field when it is missing or wrong."""
    raw = study.user_attrs.get(SPEC_KEY)
    if not isinstance(raw, dict):
        raise CnncostError(f"study: user attr '{SPEC_KEY}' is missing; this is not a study written by cnncost tune")
    metric = raw.get("metric") or {}
    objectives = raw.get("objectives") or [metric]
    pairs = []
    for index, objective in enumerate(objectives):
        if not isinstance(objective, dict) or not isinstance(objective.get("name"), str):
            raise CnncostError(f"study spec: objectives[{index}] must be a dict with a 'name'")
        if objective.get("goal") not in GOALS:
            raise CnncostError(f"study spec: objectives[{index}].goal must be maximize or minimize, "
                               f"not {objective.get('goal')!r}")
        pairs.append((objective["name"], objective["goal"]))
    if len(pairs) != len(study.directions):
        raise CnncostError(f"study spec: objectives names {len(pairs)} objective(s) but the study has "
                           f"{len(study.directions)} direction(s)")
    parameters = raw.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise CnncostError("study spec: parameters must be a dict of name -> values or range")
    epochs = raw.get("epochs")
    return Spec(network=str(raw.get("network", "?")), method=str(raw.get("method", "?")),
                metric=pairs[0][0], goal=pairs[0][1], objectives=tuple(pairs), parameters=parameters,
                epochs=epochs if isinstance(epochs, int) and not isinstance(epochs, bool) else None,
                budgets=raw.get("budgets") or {}, raw=raw)


# ---------------------------------------------------------------- trials and their values

def state_name(trial) -> str:
    """The trial's state as Optuna names it (COMPLETE, PRUNED, FAIL, RUNNING, WAITING)."""
    return trial.state.name


def is_finite_number(value) -> bool:
    """True for an int or a finite float (bools are not numbers here)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def complete_trials(study) -> list:
    """COMPLETE trials whose every objective value is finite (the only ones that can be ranked)."""
    return [t for t in study.trials if state_name(t) == "COMPLETE" and t.values
            and all(is_finite_number(v) for v in t.values)]


def parameter_names(study, spec: Spec | None = None) -> list:
    """The sampled parameters: the spec's order first, then any other name a trial carries, sorted."""
    spec = spec or spec_of(study)
    names = list(spec.parameters)
    extra = sorted({name for t in study.trials for name in t.params} - set(names))
    return names + extra


def param_key(name: str) -> str:
    """A parameter's key in a leaderboard row (prefixed only where it would clash with a fixed column)."""
    return PARAM_PREFIX + name if name in FIXED_KEYS else name


def epochs_run(trial, spec: Spec):
    """How many epochs the trial trained: its last reported epoch, else the worker's 'epochs_run' attr (set
    after every epoch: multi-objective studies report no intermediate values); the spec's epochs for a
    complete trial with neither; 0 when it was pruned before training (it has a 'reason'); None when unknown."""
    if trial.intermediate_values:
        return max(trial.intermediate_values)
    recorded = trial.user_attrs.get("epochs_run")
    if isinstance(recorded, int) and not isinstance(recorded, bool):
        return recorded
    if state_name(trial) == "COMPLETE":
        return spec.epochs
    if "reason" in trial.user_attrs:
        return 0
    return None


def last_metric(trial):
    """The metric value the trial reported last (at its highest epoch), or None if it reported none."""
    if not trial.intermediate_values:
        return None
    return trial.intermediate_values[max(trial.intermediate_values)]


def exact_count(trial, name: str):
    """The engine's exact count ``name`` from the trial's user attrs (an int), or None when absent."""
    value = trial.user_attrs.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def objective_values(trial, spec: Spec) -> dict:
    """The trial's objective values by name (None unless complete). A cost objective is given as the
    exact int count when the trial carries it; a count that disagrees with Optuna's value is refused."""
    if state_name(trial) != "COMPLETE" or not trial.values:
        return {name: None for name, _ in spec.objectives}
    values = {}
    for (name, _), value in zip(spec.objectives, trial.values):
        exact = exact_count(trial, name) if name in COST_ATTRS else None
        if exact is not None and float(exact) != float(value):
            raise CnncostError(f"trial {trial.number}: objective {name} is {value!r} but its counted {name} "
                               f"attr is {exact:,}; the study is inconsistent")
        values[name] = exact if exact is not None else value
    return values


# ---------------------------------------------------------------- leaderboard and best trial

def leaderboard(study) -> list[dict]:
    """One row per trial: ranked COMPLETE trials first (by the first objective in its goal's order, ties by
    trial number), then complete trials whose value is not finite, then the rest (pruned, failed, running) by
    number, unranked (rank None). Keys: rank, number, state, the objectives, params, macs, train_flops,
    train_bytes, each sampled parameter, epochs (run), last_metric (last reported value), reason (why it was
    pruned before or instead of training), error (why it failed), run, command.
    Missing values are None; exact counts are ints."""
    spec = spec_of(study)
    names = parameter_names(study, spec)
    rankable = {t.number for t in complete_trials(study)}
    sign = -1 if spec.goal == "maximize" else 1
    ranked = sorted((t for t in study.trials if t.number in rankable), key=lambda t: (sign * t.values[0], t.number))
    others = sorted((t for t in study.trials if t.number not in rankable),
                    key=lambda t: (state_name(t) != "COMPLETE", t.number))
    rows = [_row(t, rank, spec, names) for rank, t in enumerate(ranked, start=1)]
    return rows + [_row(t, None, spec, names) for t in others]


def _row(trial, rank, spec: Spec, names: list) -> dict:
    """One leaderboard row (see ``leaderboard``)."""
    row = {"rank": rank, "number": trial.number, "state": state_name(trial)}
    row.update(objective_values(trial, spec))
    for cost in TABLE_COSTS:
        if row.get(cost) is None:  # not an objective, or one a trial pruned before training has no value for
            row[cost] = exact_count(trial, cost)
    for name in names:
        row[param_key(name)] = trial.params.get(name)
    row["epochs"] = epochs_run(trial, spec)
    row["last_metric"] = last_metric(trial)
    for key in ("reason", "error", "run", "command"):
        value = trial.user_attrs.get(key)
        row[key] = value if isinstance(value, str) else None
    return row


def pareto_numbers(points: dict, goals: list) -> list:
    """The keys of the non-dominated points. ``points`` maps a key to a tuple of finite values, one per
    goal ("maximize"/"minimize"). A point is dominated when another is at least as good on every goal and
    strictly better on one; identical points do not dominate each other (both stay)."""
    signs = [-1.0 if goal == "maximize" else 1.0 for goal in goals]  # to "smaller is better" on every axis
    keyed = [(key, tuple(s * v for s, v in zip(signs, values))) for key, values in points.items()]
    front = []
    for key, mine in keyed:
        dominated = any(all(o <= m for o, m in zip(other, mine)) and other != mine for _, other in keyed)
        if not dominated:
            front.append(key)
    return sorted(front)


def study_pareto(study) -> list:
    """Numbers of the trials on the Pareto front of all the study's objectives (complete trials only);
    for a single objective, the trials tied at its best value."""
    spec = spec_of(study)
    trials = complete_trials(study)
    return pareto_numbers({t.number: tuple(t.values) for t in trials}, [goal for _, goal in spec.objectives])


def best_trial(study):
    """The best COMPLETE trial by the first objective (with several objectives, the best on the first among
    the Pareto set), ties going to the lower trial number; None when no trial is complete yet
    (``best_trial_reason`` says why)."""
    return best_trial_or_reason(study)[0]


def best_trial_reason(study) -> str | None:
    """Why the study has no best trial yet ('no trial is complete yet (...)'), or None when it has one."""
    return best_trial_or_reason(study)[1]


def best_trial_or_reason(study):
    """``(best trial, None)``, or ``(None, reason)`` when no trial is complete yet (see ``best_trial``)."""
    spec = spec_of(study)
    trials = {t.number: t for t in complete_trials(study)}
    if not trials:
        return None, f"no trial is complete yet ({_counts_text(_state_counts(study.trials))})"
    candidates = study_pareto(study) if len(spec.objectives) > 1 else list(trials)
    sign = -1 if spec.goal == "maximize" else 1
    number = min(candidates, key=lambda n: (sign * trials[n].values[0], n))
    return trials[number], None


def best_line(study) -> str:
    """'best: cnncost train ...' (the best trial's ready command), or why there is none yet."""
    trial, reason = best_trial_or_reason(study)
    if trial is None:
        return f"best: none, {reason}"
    command = trial.user_attrs.get("command")
    spec = spec_of(study)
    value = cell_text(trial.values[0])
    if not isinstance(command, str):
        return f"best: trial {trial.number} ({spec.metric} {value}); it recorded no command"
    return f"best: {command}    # trial {trial.number}, {spec.metric} {value}"


# ---------------------------------------------------------------- text, CSV, JSON

def _state_counts(states) -> dict:
    """How many trials are in each state word (complete, pruned, failed, running, waiting)."""
    counts = dict.fromkeys(("complete", "pruned", "failed", "running", "waiting"), 0)
    for state in states:
        word = STATE_WORDS.get(state if isinstance(state, str) else state_name(state), "running")
        counts[word] += 1
    return counts


def _counts_text(counts: dict) -> str:
    """'12 trials: 9 complete, 2 pruned, 1 failed, 0 running' (waiting only when there are some)."""
    total = sum(counts.values())
    words = [f"{counts[w]} {w}" for w in ("complete", "pruned", "failed", "running")]
    if counts["waiting"]:
        words.append(f"{counts['waiting']} waiting")
    return f"{total} trial{'s' if total != 1 else ''}: " + ", ".join(words)


def headline(spec: Spec | dict, rows: list) -> str:
    """The line above the table: network, method, metric and goal, trials per state."""
    spec = spec if isinstance(spec, Spec) else _spec_from_raw(spec)
    return " · ".join((spec.network, f"{spec.method} search", f"metric {spec.metric} ({spec.goal})",
                       _counts_text(_state_counts(r["state"] for r in rows))))


def _spec_from_raw(raw: dict) -> Spec:
    """A Spec from the raw spec dict alone (the table has no study to check the directions against)."""
    metric = raw.get("metric") or {}
    objectives = raw.get("objectives") or [metric]
    pairs = tuple((o.get("name", "?"), o.get("goal", "?")) for o in objectives)
    return Spec(network=str(raw.get("network", "?")), method=str(raw.get("method", "?")),
                metric=pairs[0][0] if pairs else "?", goal=pairs[0][1] if pairs else "?", objectives=pairs,
                parameters=raw.get("parameters") or {}, epochs=raw.get("epochs"), budgets=raw.get("budgets") or {},
                raw=raw)


def cell_text(value) -> str:
    """A value as the table shows it: ints digit-grouped, floats to 4 significant digits, empty if missing."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def _reason_cell(row: dict, metric: str) -> str:
    """The reason column: the recorded reason, a failed trial's error, or for a trial the pruner stopped,
    how far it got."""
    if row.get("reason"):
        return row["reason"]
    if row.get("error"):
        return f"error: {row['error']}"
    if row["state"] == "PRUNED" and row.get("epochs"):
        return f"pruner stopped it after epoch {row['epochs']} ({metric} {cell_text(row.get('last_metric'))})"
    return ""


def render_table(rows: list, spec: dict | Spec, top: int | None = None) -> str:
    """The leaderboard as plain aligned text under a headline (network, method, metric and goal, trials per
    state), in the look of cnncost's count tables; ``top`` keeps the first ``top`` rows and says how many
    were left out. The best trial's command line is ``best_line`` (``render_report`` prints both)."""
    from cnncost.render import plain_table

    spec = spec if isinstance(spec, Spec) else _spec_from_raw(spec)
    if top is not None and (isinstance(top, bool) or not isinstance(top, int) or top < 1):
        raise CnncostError(f"top: must be a whole number of rows, 1 or more, not {top!r}")
    objective_keys = [name for name, _ in spec.objectives]
    cost_keys = [c for c in TABLE_COSTS if c not in objective_keys]
    fixed = {"rank", "number", "state", "epochs", "last_metric", "reason", "error", "run", "command",
             *objective_keys, *cost_keys}
    param_keys = [k for k in (rows[0] if rows else {}) if k not in fixed]
    titles = {"macs": "MACs", "train_flops": "train FLOPs", "train_bytes": "train bytes"}
    columns = [("rank", "right"), ("trial", "right"), ("state", "left")]
    columns += [(titles.get(k, k), "right") for k in objective_keys + cost_keys]
    columns += [(k, "left") for k in param_keys] + [("epochs", "right"), ("reason", "left")]
    shown = rows if top is None else rows[:top]
    body = [[cell_text(r["rank"]), str(r["number"]), STATE_WORDS.get(r["state"], r["state"].lower()),
             *(cell_text(r.get(k)) for k in objective_keys + cost_keys), *(cell_text(r.get(k)) for k in param_keys),
             cell_text(r.get("epochs")), _reason_cell(r, spec.metric)] for r in shown]
    # Too narrow: the training-step costs go first, then params; rank, trial, metric and parameters stay.
    drop = tuple(columns.index((titles.get(k, k), "right")) for k in ("train_bytes", "train_flops", "params")
                 if k in cost_keys)
    lines = [headline(spec, rows), plain_table.render(columns, body, drop=drop, prose=len(columns) - 1)]
    if top is not None and len(rows) > top:
        lines.append(f"(top {top} of {len(rows)} trials shown)")
    return "\n".join(lines)


def correlation_table(study) -> str:
    """Each parameter's Pearson r and Spearman rho with the metric over the complete trials, as text."""
    from cnncost.render import plain_table

    spec = spec_of(study)
    rows = [[label, cell_text(r) if r is not None else "undefined", cell_text(rho) if rho is not None else "undefined",
             str(n)] for label, r, rho, n in correlations(study)]
    title = f"correlation with {spec.metric} over complete trials (undefined: constant or n < {MIN_CORRELATION_N})"
    columns = [("parameter", "left"), ("pearson r", "right"), ("spearman rho", "right"), ("n", "right")]
    return title + "\n" + plain_table.render(columns, rows)


def render_report(study, top: int | None = None) -> str:
    """The whole text report: the leaderboard table, the best trial's command, the correlation table."""
    spec = spec_of(study)
    rows = leaderboard(study)
    parts = [render_table(rows, spec, top), best_line(study)]
    if parameter_names(study, spec):
        parts.append(correlation_table(study))
    return "\n\n".join(parts)


def _csv_text(value) -> str:
    """A CSV cell that reads back to the same value: floats in full (repr), None empty."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def write_csv(rows: list, path) -> Path:
    """The leaderboard rows as a CSV file at ``path`` (written atomically): one column per key in the
    order keys first appear, full-precision floats, empty cells for None."""
    from zoo.runtime.files import write_atomic

    keys = list(dict.fromkeys(k for r in rows for k in r))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(keys)
    for r in rows:
        writer.writerow([_csv_text(r.get(k)) for k in keys])
    write_atomic(path, buffer.getvalue())
    return Path(path)


def strict_json_value(value):
    """``value`` made strictly JSON-encodable: non-finite floats become None, tuples lists, numpy scalars
    Python numbers, datetimes ISO strings; anything else unknown is refused (never silently stringified)."""
    if isinstance(value, dict):
        return {str(k): strict_json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json_value(v) for v in value]
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if hasattr(value, "item") and hasattr(value, "dtype"):  # a numpy scalar
        return strict_json_value(value.item())
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise CnncostError(f"report JSON: cannot encode a {type(value).__name__}")


def to_json(study) -> str:
    """The report as strict JSON (NaN and infinities are null): the spec, trial counts, the leaderboard,
    the best trial (or why there is none), the Pareto-optimal trial numbers of the study's objectives when
    there are several (else null), the metric-versus-cost fronts and the correlations."""
    spec = spec_of(study)
    rows = leaderboard(study)
    trial, reason = best_trial_or_reason(study)
    best = None if trial is None else {
        "number": trial.number, "values": dict(zip([n for n, _ in spec.objectives], trial.values)),
        "params": dict(trial.params), "command": trial.user_attrs.get("command"), "run": trial.user_attrs.get("run")}
    document = {
        "spec": spec.raw,
        "counts": _state_counts(study.trials),
        "leaderboard": rows,
        "best": best,
        "best_reason": reason,
        "pareto": study_pareto(study) if len(spec.objectives) > 1 else None,
        "fronts": {cost: [t.number for t in pareto(study, cost)] for cost in FRONT_COSTS},
        "correlations": [{"parameter": p, "pearson": r, "spearman": rho, "n": n}
                         for p, r, rho, n in correlations(study)],
    }
    return json.dumps(strict_json_value(document), allow_nan=False, indent=2)


# ---------------------------------------------------------------- correlations

def parameter_kind(name: str, values: list, spec: Spec) -> str:
    """'bool' when every value is a bool, 'number' when every value is an int or float, else 'category'
    (the spec's listed values count too, so a grid over numbers stays numeric)."""
    listed = spec.parameters.get(name, {}).get("values") if isinstance(spec.parameters.get(name), dict) else None
    every = list(values) + list(listed or [])
    if every and all(isinstance(v, bool) for v in every):
        return "bool"
    if every and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in every):
        return "number"
    return "category"


def categories(name: str, values: list, spec: Spec) -> list:
    """A categorical parameter's categories: the spec's listed order, then any other value met, in order."""
    entry = spec.parameters.get(name)
    listed = list(entry.get("values") or []) if isinstance(entry, dict) else []
    return list(dict.fromkeys(listed + list(values)))


def category_label(value) -> str:
    """How a category is written in a label ('relu', 'true', 'None')."""
    return cell_text(value) if isinstance(value, bool) else str(value)


def feature_columns(study, trials: list | None = None) -> list:
    """The numeric columns correlated with the metric: ``(label, {trial number: value})`` per parameter,
    numbers as they are, bools as 0/1, a categorical parameter as one 0/1 indicator per category
    ('activation=silu'). A trial without the parameter has no entry in its column."""
    spec = spec_of(study)
    trials = complete_trials(study) if trials is None else trials
    columns = []
    for name in parameter_names(study, spec):
        present = {t.number: t.params[name] for t in trials if name in t.params}
        kind = parameter_kind(name, list(present.values()), spec)
        if kind == "number":
            columns.append((name, {n: float(v) for n, v in present.items()}))
        elif kind == "bool":
            columns.append((name, {n: float(bool(v)) for n, v in present.items()}))
        else:
            for category in categories(name, list(present.values()), spec):
                columns.append((f"{name}={category_label(category)}",
                                {n: float(v == category and type(v) is type(category)) for n, v in present.items()}))
    return columns


def average_ranks(values) -> list:
    """1-based ranks of ``values``, tied values sharing the mean of the ranks they span."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for position in range(start, end + 1):
            ranks[order[position]] = (start + end) / 2 + 1  # mean of ranks start+1 .. end+1
        start = end + 1
    return ranks


def pearson(x, y):
    """Pearson's r of two equal-length sequences, or None when undefined (n < 3 or a constant column)."""
    import numpy as np

    if len(x) < MIN_CORRELATION_N:
        return None
    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if np.all(a == a[0]) or np.all(b == b[0]):
        return None
    a, b = a - a.mean(), b - b.mean()
    denominator = math.sqrt(float(np.dot(a, a)) * float(np.dot(b, b)))
    if denominator == 0.0 or not math.isfinite(denominator):
        return None
    r = max(-1.0, min(1.0, float(np.dot(a, b)) / denominator))  # rounding may step just past ±1
    return 0.0 if abs(r) < 1e-12 else r  # an exactly uncorrelated column, not -1.96e-16


def spearman(x, y):
    """Spearman's rho (Pearson's r of the average-tie ranks), or None when undefined."""
    if len(x) < MIN_CORRELATION_N:
        return None
    return pearson(average_ranks(list(x)), average_ranks(list(y)))


def correlations(study) -> list[tuple]:
    """``(parameter, pearson r, spearman rho, n)`` between each parameter column (see ``feature_columns``)
    and the metric over the COMPLETE trials having it; r and rho are None where undefined."""
    trials = complete_trials(study)
    metric = {t.number: float(t.values[0]) for t in trials}
    result = []
    for label, column in feature_columns(study, trials):
        numbers = sorted(column)
        x, y = [column[n] for n in numbers], [metric[n] for n in numbers]
        result.append((label, pearson(x, y), spearman(x, y), len(numbers)))
    return result


# ---------------------------------------------------------------- importance and fronts

def importance(study):
    """``(importances, None)``: Optuna's fANOVA importance of each parameter that varies among the complete
    trials, for the first objective (normalised to sum 1, largest first); ``(None, reason)`` when fewer than 2
    trials are complete, no parameter varies, the metric is the same on every trial, or scikit-learn (which
    fANOVA's random forest needs) is missing."""
    spec = spec_of(study)
    trials = complete_trials(study)
    if len(trials) < 2:
        return None, f"fANOVA needs at least 2 complete trials; {len(trials)} complete"
    varying = [name for name in parameter_names(study, spec)
               if all(name in t.params for t in trials) and len({repr(t.params[name]) for t in trials}) > 1]
    if not varying:
        return None, f"no parameter varies over the {len(trials)} complete trials"
    if len({t.values[0] for t in trials}) == 1:
        return None, f"{spec.metric} is the same on all {len(trials)} complete trials: nothing to attribute"
    try:
        import sklearn  # noqa: F401  (fANOVA fits scikit-learn's random forest)
    except ImportError:
        return None, "fANOVA importance needs scikit-learn: pip install scikit-learn"
    import optuna
    from optuna.importance import FanovaImportanceEvaluator

    values = optuna.importance.get_param_importances(
        study, evaluator=FanovaImportanceEvaluator(seed=0), params=varying, target=lambda t: t.values[0])
    result = {name: float(value) for name, value in values.items()}
    if not all(math.isfinite(v) for v in result.values()):
        return None, "fANOVA gave a non-finite importance (too few distinct trials)"
    return result, None


def pareto(study, cost: str) -> list:
    """The COMPLETE trials on the Pareto front of (metric in its goal, exact ``cost`` minimised), ``cost``
    one of macs, params, read from each trial's user attrs (so every study has an accuracy-versus-MACs
    front, whatever it optimised). Sorted by cost, then trial number; trials without the count are left out."""
    if cost not in FRONT_COSTS:
        raise CnncostError(f"cost: must be one of {', '.join(FRONT_COSTS)}, not {cost!r}")
    spec = spec_of(study)
    trials = {t.number: t for t in complete_trials(study) if exact_count(t, cost) is not None}
    sign = 1 if spec.goal == "maximize" else -1  # to "larger is better"
    # Sweep by cost: a trial is on the front when its metric is the best at its cost and strictly better
    # than every strictly cheaper trial's (ties in both stay together on the front).
    by_cost = sorted(trials.values(), key=lambda t: (exact_count(t, cost), -sign * t.values[0], t.number))
    front, best_cheaper, index = [], -math.inf, 0
    while index < len(by_cost):
        level = exact_count(by_cost[index], cost)
        group = [t for t in by_cost[index:] if exact_count(t, cost) == level]
        top = max(sign * t.values[0] for t in group)
        if top > best_cheaper:
            front += [t for t in group if sign * t.values[0] == top]
            best_cheaper = top
        index += len(group)
    return sorted(front, key=lambda t: (exact_count(t, cost), t.number))
