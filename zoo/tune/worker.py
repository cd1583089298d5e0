"""One worker: take queued trials until none is left; count each exactly, prune or train it, record it.

A trial's life:

1. its parameters are suggested (a grid trial's were queued with it) and applied over the study's
   options, giving an ordinary ``cnncost train`` configuration whose run folder is
   ``DIR/trials/NNNN`` (a retried trial continues the folder of the trial it retries);
2. the engine counts it (``costs.count``): params, MACs, FLOPs, and the run's training step
   (train-flops, train-bytes, saved-bytes), all stored on the trial. A configuration the engine or
   ``cnncost train`` refuses, or one over a budget, is pruned at once with that reason;
3. it trains, reporting the metric after every epoch; the pruner may stop it;
4. its value is the best epoch's metric (for the metric's goal), then its cost objectives.

A worker with nothing queued while trials still run elsewhere waits: if one of those goes stale
(its worker died), it is queued again and this worker takes it.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import optuna
from optuna.trial import TrialState

from cnncost.arch import spelled_as
from cnncost.errors import CnncostError

from . import costs, study as studies
from .spec import config_key
from .trial_config import base_config, command_line, trial_config

if TYPE_CHECKING:  # the annotation only: spec imports TrainConfig, which a worker needs no sooner than a trial
    from .spec import TuneSpec

TRIALS = "trials"


@dataclasses.dataclass
class Context:
    """What every trial of this worker shares."""

    spec: TuneSpec
    study: optuna.Study
    folder: Path  # the study folder (DIR)
    classes: int
    device: str  # "cpu" or "cuda"
    amp: bool
    lock: Path | None = None  # study.take_lock: serialises taking trials from a SQLite study


def setting(spec) -> tuple[int, str, bool]:
    """(the data's classes, the device type, autocast?) that every trial runs with, as ``cnncost train``
    resolves them; a missing dataset or device is its one-line error, before any study is touched."""
    from ..training.data import load_data
    from ..training.setup import make_runtime

    base = base_config(spec, out="check")
    data = load_data(base.data, val_fraction=base.val_fraction, seed=base.seed, synthetic_size=base.synthetic_size)
    runtime = make_runtime(base, warn=lambda _line: None)
    return len(data.classes), runtime.device.type, runtime.amp


def work(context: Context, on_trial: Callable | None = None, idle_wait: float | None = None) -> int:
    """Run queued trials until the study has none queued or running; returns how many this worker ran.

    ``on_trial(frozen_trial)`` is called after each one (progress lines).
    """
    done = 0
    wait = idle_wait if idle_wait is not None else context.spec.heartbeat
    while True:
        trial = studies.take_trial(context.study, context.spec, context.lock)
        if trial is None:
            if not studies.running(context.study):
                return done
            time.sleep(wait)  # others still run: one may go stale and come back to the queue
            continue
        with studies.heartbeat(context.study, trial, context.spec.heartbeat):
            try:
                run_trial(context, trial)
            except KeyboardInterrupt:
                studies.requeue(context.study, trial)
                raise
        done += 1
        if on_trial is not None:
            on_trial(context.study._storage.get_trial(trial._trial_id))


def run_trial(context: Context, trial: optuna.Trial) -> None:
    """Count, then prune or train and record, one trial (always finished here: COMPLETE, PRUNED or FAIL)."""
    spec, study = context.spec, context.study
    params = {parameter.name: parameter.suggest(trial) for parameter in spec.parameters}
    folder = run_folder(context, trial)
    config = trial_config(spec, params, str(folder))
    trial.set_user_attr("run", folder.relative_to(context.folder).as_posix())
    trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
    trial.set_user_attr("command", command_line(config, out=f"runs/{spec.name}-trial-{trial.number}"))
    try:
        config.check()
        counted = costs.count(config, context.classes, context.device, context.amp)
    except CnncostError as error:
        return _prune(study, trial, _reason(error))
    for name, value in counted.items():
        trial.set_user_attr(name, value)
    try:
        reason = costs.over_budget(counted, spec.budgets) or _missing_objective(spec, counted)
    except CnncostError as error:
        reason = _reason(error)
    if reason:
        return _prune(study, trial, reason)
    _train(context, trial, config, counted)


def run_folder(context: Context, trial: optuna.Trial) -> Path:
    """``DIR/trials/NNNN``: the trial's own, or for a retried trial the folder of the trial it retries."""
    frozen = context.study._storage.get_trial(trial._trial_id)
    origin = frozen.system_attrs.get("failed_trial")  # set by the retry callback: the first trial retried
    return context.folder / TRIALS / f"{trial.number if origin is None else origin:04d}"


def _missing_objective(spec, counted: dict) -> str | None:
    for objective in spec.objectives[1:]:
        if objective.name not in counted:
            return f"the engine cannot count this trial's {objective.name} (its training step is not modelled)"
    return None


def _reason(error: CnncostError) -> str:
    """A refusal as the study keeps it: naming a setting by its key in the study's config
    (train.batch_size), as the spec's own errors do, whichever process or command raised it."""
    with spelled_as(config_key, "a key"):
        return str(error)


def _prune(study: optuna.Study, trial: optuna.Trial, reason: str) -> None:
    """Finish ``trial`` as PRUNED before training, keeping the reason."""
    trial.set_user_attr("reason", reason)
    study.tell(trial, state=TrialState.PRUNED)


def _train(context: Context, trial: optuna.Trial, config, counted: dict) -> None:
    """Train the trial's run (resuming its checkpoint when it has one) and tell its values."""
    from ..training.console import TrainConsole
    from ..training.run import train
    from ..training.runfolder import has_checkpoint

    spec, study = context.spec, context.study
    config = dataclasses.replace(config, resume=has_checkpoint(Path(config.out)))
    # A retried trial inherits the epochs its first attempt reported; Optuna keeps the first report of a step.
    reported = set(study._storage.get_trial(trial._trial_id).intermediate_values)
    trial_reports = TrialReports(trial, spec, reported)
    try:
        metrics = train(config, console=TrainConsole(quiet=True), on_epoch_end=trial_reports)
    except optuna.TrialPruned:
        study.tell(trial, state=TrialState.PRUNED)
        return
    except CnncostError as error:  # refused by cnncost train (e.g. a batch its BatchNorm cannot train on)
        return _prune(study, trial, _reason(error))
    except Exception as error:  # a bug, not the configuration: recorded, and the study goes on
        trial.set_user_attr("error", f"{type(error).__name__}: {error}"[:500])
        study.tell(trial, state=TrialState.FAIL)
        return
    _report_after(trial, metrics["epochs"], spec, reported)
    trial.set_user_attr("test_accuracy", metrics.get("test_accuracy"))
    study.tell(trial, [best_value(metrics["epochs"], spec.metric)]
               + [counted[objective.name] for objective in spec.objectives[1:]])


class TrialReports:
    """A trial's run, seen by the study: a training sink (``zoo.training.sinks.Sink``) that reports each epoch's
    metric to Optuna and prunes the trial when the pruner says so (``optuna.TrialPruned`` out of the run)."""

    def __init__(self, trial: optuna.Trial, spec, reported: set):
        self.trial, self.spec, self.reported = trial, spec, reported

    def handle(self, event) -> None:
        """Report an ``EpochEnded``; other events are not the study's."""
        from ..training.events import EpochEnded

        if isinstance(event, EpochEnded):
            self.epoch_ended(event.epoch, event.to_dict())

    def close(self) -> None:
        """Nothing to release."""

    def epoch_ended(self, epoch: int, row: dict) -> None:
        """Epoch ``epoch`` is over with metrics.json's ``row``: its metric reported (once per epoch), then the
        pruner asked."""
        self.trial.set_user_attr("epochs_run", epoch)
        if len(self.spec.objectives) == 1:  # Optuna prunes single-objective studies only
            if epoch not in self.reported:
                self.trial.report(float(row[self.spec.metric.name]), epoch)
                self.reported.add(epoch)
            if self.trial.should_prune():
                raise optuna.TrialPruned(f"pruned after epoch {epoch}")

    # train(on_epoch_end=...)'s function form, for a train() that calls back with (epoch, row) (the tests
    # script one so); the real train() sees handle() and takes this object as a sink.
    __call__ = epoch_ended


def _report_after(trial: optuna.Trial, history: list, spec, reported: set) -> None:
    """Epochs the run did not report as they ended — a data-parallel trial's ranks run in other processes —
    are reported now, for the report's curves (no pruning: the run is over)."""
    trial.set_user_attr("epochs_run", len(history))
    if len(spec.objectives) == 1:
        for row in history:
            if row["epoch"] not in reported:
                trial.report(float(row[spec.metric.name]), row["epoch"])


def best_value(history: list, metric) -> float:
    """The metric's best value over the run's epochs, for its goal (the epoch a search would keep)."""
    values = [float(row[metric.name]) for row in history]
    return max(values) if metric.goal == "maximize" else min(values)
