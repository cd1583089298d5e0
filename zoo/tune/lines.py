"""What ``cnncost tune`` prints about a trial: one line each, from the trial as the study stores it."""

from __future__ import annotations

from optuna.trial import FrozenTrial, TrialState


def trial_line(trial: FrozenTrial, spec) -> str:
    """'trial 3 · val_acc 0.4123 · lr=0.001 m=16 · 1,860 params · 160,576 MACs · 12.3 s', or why it stopped."""
    parts = [f"trial {trial.number}", _outcome(trial, spec)]
    shown = " ".join(f"{name}={_value(value)}" for name, value in trial.params.items())
    if shown:
        parts.append(shown)
    attrs = trial.user_attrs
    if "params" in attrs:
        objectives = {objective.name for objective in spec.objectives}
        parts += [f"{attrs[name]:,} {label}" for name, label in (("params", "params"), ("macs", "MACs"))
                  if name not in objectives]
    if trial.datetime_start and trial.datetime_complete and "reason" not in attrs:
        parts.append(f"{(trial.datetime_complete - trial.datetime_start).total_seconds():.1f} s")
    return " · ".join(parts)


def _outcome(trial: FrozenTrial, spec) -> str:
    attrs, metric = trial.user_attrs, spec.metric.name
    if trial.state == TrialState.COMPLETE:
        metric_value = _value((trial.values or [None])[0])
        # Cost objectives are exact ints; Optuna keeps objective values as floats, the trial's attrs keep the ints.
        costs = [f"{objective.name} {attrs[objective.name]:,}" for objective in spec.objectives[1:]
                 if objective.name in attrs]
        return " · ".join([f"{metric} {metric_value}", *costs])
    if trial.state == TrialState.PRUNED:
        if "reason" in attrs:
            return f"pruned before training: {attrs['reason']}"
        last = max(trial.intermediate_values, default=None)
        seen = f" ({metric} {_value(trial.intermediate_values[last])})" if last is not None else ""
        return f"pruned after epoch {last}{seen}"
    if trial.state == TrialState.FAIL:
        return "failed: " + attrs.get("error", "its worker stopped; it is queued again")
    return trial.state.name.lower()


def _value(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10_000:
        return f"{value:,}"
    return str(value)


def summary_line(counts: dict) -> str:
    """'12 of 20 trials finished: 9 complete, 3 pruned, 0 failed · 2 running · 6 queued' (``study.tally``)."""
    finished = sum(counts.get(state, 0) for state in ("COMPLETE", "PRUNED", "FAIL"))
    total = finished + counts.get("RUNNING", 0) + counts.get("WAITING", 0)
    retried = f" ({counts['RETRIED']} retried after their worker stopped)" if counts.get("RETRIED") else ""
    return (f"{finished} of {total} trials finished: {counts.get('COMPLETE', 0)} complete, "
            f"{counts.get('PRUNED', 0)} pruned, {counts.get('FAIL', 0)} failed{retried} · "
            f"{counts.get('RUNNING', 0)} running · {counts.get('WAITING', 0)} queued")
