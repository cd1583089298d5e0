"""``cnncost tune CONFIG --out DIR``: open (or make) the study, then work it here or in N worker processes.

With ``--workers N`` this process starts N copies of ``cnncost tune`` on the same study (one GPU each
when there are GPUs: ``CUDA_VISIBLE_DEVICES``), writes each one's output to ``DIR/logs/worker-K.log``,
and shows the study's progress from the storage until they finish. With ``--storage URL`` any number of
such commands, on any number of machines, share one study.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from cnncost.arch import ParameterError

from . import study as studies
from .lines import summary_line, trial_line
from .spec import read_spec
from .worker import Context, setting, work

INFO = "tune.json"  # the study folder's note of where its study lives
LOGS = "logs"
POLL = 1.0  # seconds between progress updates from the storage


def tune(config: str, out: str, storage: str | None = None, study_name: str | None = None, workers: int = 1,
         quiet: bool = False, say=print) -> dict:
    """Run (or continue) the study of ``config``; returns the final state counts (``study.tally``)."""
    spec = read_spec(config)
    if study_name is not None:
        spec = dataclasses.replace(spec, name=_study_name(study_name))
    if not isinstance(workers, int) or isinstance(workers, bool) or not 1 <= workers <= 64:
        from .space import _shown

        raise ParameterError("workers", f"{_shown(workers)} is out of range (need an integer from 1 to 64)")
    trial_setting = setting(spec)  # the data and the device, checked before anything is written
    folder = _study_folder(out)
    url = studies.storage_url(folder, storage)
    study, created = studies.join(spec, studies.open_storage(url, spec.heartbeat),
                                  queue=lambda s: studies.queue_trials(s, spec))
    _write_info(folder, spec, url, storage is not None)
    if not quiet:
        say(f"study {spec.name!r} · {spec.method} · {spec.metric.name} ({spec.metric.goal}) · "
            f"{'made' if created else 'continued'} in "
            + (studies.shown_url(url) if storage else str(Path(out) / studies.STUDY_FILE)))
        say(summary_line(studies.tally(study)))
    with _progress(study, quiet, say) as (shown, update):
        if workers == 1:
            _work_here(Context(spec, study, folder, *trial_setting, lock=studies.take_lock(url)), quiet, shown,
                       update)
        else:
            _work_in_processes(config, folder, url, spec, study, workers, quiet, shown, update)
    counts = studies.tally(study)
    if not quiet:
        say(summary_line(counts))
        say(f"report: cnncost tune report {_quoted(out)}" + ("" if storage is None else " --storage URL"))
    return counts


def _study_name(name: str) -> str:
    from .spec import name_problem

    problem = name_problem(name)
    if problem:
        raise ParameterError("study", problem)
    return name.strip()


def _study_folder(out: str) -> Path:
    """DIR, created; a file in its place is a one-line error."""
    folder = Path(out).expanduser()
    if folder.exists() and not folder.is_dir():
        raise ParameterError("out", f"{out} is a file, not a study folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ParameterError("out", f"cannot create {out} ({error.strerror})") from None
    return folder


def _write_info(folder: Path, spec, url: str, shared: bool) -> None:
    """DIR/tune.json: the study's name and storage (password hidden), for ``tune report DIR``."""
    info = {"study": spec.name, "storage": None if not shared else studies.shown_url(url)}
    path = folder / INFO
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, path)


@contextlib.contextmanager
def _progress(study, quiet: bool, say):
    """(a line printer, a progress refresher): a bar of finished trials on a terminal, else plain lines."""
    from rich.console import Console

    console = Console()
    if quiet or not console.is_terminal:
        yield say, lambda: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("trials"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
               TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("", total=None)

        def update() -> None:
            counts = studies.tally(study)
            finished = sum(counts.get(state, 0) for state in ("COMPLETE", "PRUNED", "FAIL"))
            bar.update(task, completed=finished, total=finished + counts.get("RUNNING", 0) + counts.get("WAITING", 0),
                       description=f"{counts.get('RUNNING', 0)} running")

        update()
        yield (lambda line: bar.console.print(line, markup=False, highlight=False)), update


def _work_here(context: Context, quiet: bool, say, update) -> None:
    def finished(trial) -> None:
        if not quiet:
            say(trial_line(trial, context.spec))
        update()

    work(context, on_trial=finished)


def _work_in_processes(config: str, folder: Path, url: str, spec, study, workers: int, quiet: bool, say,
                       update) -> None:
    """Start ``workers`` copies of this command on the study and follow it until they all stop."""
    logs = folder / LOGS
    logs.mkdir(exist_ok=True)
    children = [_start_worker(config, folder, url, spec.name, index, logs) for index in range(workers)]
    seen: set = set()
    try:
        while any(child.poll() is None for child, _ in children):
            _show_finished(study, spec, seen, quiet, say)
            update()
            time.sleep(POLL)
    except KeyboardInterrupt:
        for child, _ in children:  # SIGINT: each worker queues its running trial again, then stops
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
        for child, _ in children:
            child.wait()
        raise
    _show_finished(study, spec, seen, quiet, say)
    for (child, log), index in zip(children, range(workers)):
        if child.returncode != 0:
            say(f"worker {index} stopped with exit status {child.returncode}: {_last_line(log)} (log: {log})")


def _start_worker(config: str, folder: Path, url: str, name: str, index: int, logs: Path) -> tuple:
    """One ``cnncost tune`` worker process on the study; its own GPU when the machine has several."""
    environment = dict(os.environ)
    gpus = _gpu_count()
    if gpus:
        environment["CUDA_VISIBLE_DEVICES"] = str(index % gpus)
    log = logs / f"worker-{index}.log"
    command = [sys.executable, "-m", "cnncost", "tune", config, "--out", str(folder), "--storage", url,
               "--study", name, "--quiet-worker"]
    with open(log, "ab") as sink:
        child = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=environment)
    return child, log


def _gpu_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _show_finished(study, spec, seen: set, quiet: bool, say) -> None:
    """Print each trial that finished since the last look."""
    from optuna.trial import TrialState

    finished = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL))
    for trial in finished:
        if trial.number not in seen:
            seen.add(trial.number)
            if not quiet:
                say(trial_line(trial, spec))


def _last_line(log: Path) -> str:
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return lines[-1] if lines else "(empty log)"


def _quoted(text: str) -> str:
    import shlex

    return shlex.quote(text)
