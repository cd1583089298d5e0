"""The study: Optuna's RDB storage, made once as a queue of trials, shared by any number of workers.

Whoever creates the study stores the spec (``user_attrs["cnncost"]``) and queues every trial it will
have — each grid point, or ``run_cap`` open trials whose parameters the sampler chooses when a worker
takes them — then marks it ready. Workers (processes on one machine or many) take queued trials one
at a time: taking one is a single guarded state change in the database, so no trial runs twice and
the study never grows past its size, however many workers race (Optuna's own ``ask`` would make a
new trial whenever the queue looks empty).

A running trial beats a heartbeat; one whose worker died goes stale after three missed beats, is
failed, and is queued again (Optuna's ``RetryHeartbeatStaleTrialCallback``, intermediate values
kept), so it runs again under another worker, resuming its run folder's checkpoint.

The sampler is made afresh for each trial, seeded by (study seed, trial number): a trial's suggestion
does not depend on which worker took it, and two workers never repeat each other's draws.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
import warnings
from pathlib import Path

import optuna
from optuna.exceptions import DuplicatedStudyError, UpdateFinishedTrialError
from optuna.trial import TrialState

from cnncost.arch import ParameterError
from cnncost.errors import CnncostError

STUDY_FILE = "study.db"
SPEC_ATTR = "cnncost"
READY_ATTR = "cnncost_ready"
MISSED_BEATS = 3  # heartbeats a running trial may miss before it is stale
MAX_RETRY = 3  # times a stale trial is queued again
READY_WAIT = 60.0  # seconds a joining worker waits for the creator to finish queueing

optuna.logging.set_verbosity(optuna.logging.WARNING)  # the study prints its own lines


def storage_url(out: Path, storage: str | None) -> str:
    """``--storage`` as given, else the SQLite file in the study folder (nothing to set up)."""
    if storage:
        return storage
    return f"sqlite:///{(out / STUDY_FILE).resolve()}"


def shown_url(url: str) -> str:
    """A storage URL for messages: any password replaced by ***."""
    return re.sub(r"(//[^:/@]+):[^@/]*@", r"\1:***@", url)


def open_storage(url: str, heartbeat: int) -> optuna.storages.RDBStorage:
    """Optuna's RDB storage at ``url`` with heartbeats and stale-trial retries; any failure is one line."""
    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {"pool_pre_ping": True}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY,
                                                                 inherit_intermediate_values=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(url, engine_kwargs=engine, heartbeat_interval=heartbeat,
                                              grace_period=MISSED_BEATS * heartbeat,
                                              heartbeat_stale_trial_callback=retry)
    except Exception as error:  # sqlalchemy's and the drivers' errors have no common base worth naming
        raise ParameterError("storage", f"cannot open {shown_url(url)} as an Optuna study storage "
                                        f"({_first_line(error)})") from None


def _first_line(error: Exception) -> str:
    text = str(getattr(error, "orig", None) or error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:200]


def join(spec, storage, queue) -> tuple:
    """(the study named ``spec.name``, whether this process created it). The creator stores the spec and
    runs ``queue(study)``; a joiner waits for that and checks the stored spec is ``spec``."""
    directions = [objective.goal for objective in spec.objectives]
    try:
        study = optuna.create_study(storage=storage, study_name=spec.name, directions=directions,
                                    sampler=make_sampler(spec, 0), pruner=make_pruner(spec))
    except DuplicatedStudyError:
        study = optuna.load_study(study_name=spec.name, storage=storage, sampler=make_sampler(spec, 0),
                                  pruner=make_pruner(spec))
        _wait_ready(study, spec)
        _extend(study, spec)
        return study, False
    except Exception as error:
        raise ParameterError("storage", f"cannot create study {spec.name!r} ({_first_line(error)})") from None
    study.set_user_attr(SPEC_ATTR, spec.to_dict())
    queue(study)
    study.set_user_attr(READY_ATTR, True)
    return study, True


def _wait_ready(study, spec) -> None:
    """Wait (bounded) for the creator to finish queueing; the stored spec must be this one."""
    deadline = time.monotonic() + READY_WAIT
    while True:
        attrs = study.user_attrs
        if SPEC_ATTR in attrs:
            check_same_spec(attrs[SPEC_ATTR], spec)  # a different config fails at once, not after the wait
            if attrs.get(READY_ATTR):
                return
        elif study.get_trials(deepcopy=False):  # the creator stores the spec before it queues a trial
            break
        if time.monotonic() > deadline:
            break
        time.sleep(0.5)
    if SPEC_ATTR not in attrs:
        raise CnncostError(f"study {spec.name!r} exists but was not made by cnncost tune (it has no cnncost "
                           "spec); give another name (name: in the config, or --study)")
    raise CnncostError(f"study {spec.name!r}: its creator never finished queueing its trials (it stopped within "
                       "its first seconds); start a new study with another name")


def check_same_spec(stored, spec) -> None:
    """Continuing a study takes the config it was made with: the first difference is named. A random or bayes
    study may be given a larger ``run_cap`` (``_extend`` queues the extra trials)."""
    if not isinstance(stored, dict) or stored.get("version") != 1:
        raise CnncostError(f"study {spec.name!r} holds a spec this cnncost cannot read; give another name")
    mine = json.loads(json.dumps(spec.to_dict()))
    if _grows(stored, mine):
        mine["run_cap"] = stored["run_cap"]
    for key in sorted(set(mine) | set(stored)):
        if mine.get(key) != stored.get(key):
            raise CnncostError(f"CONFIG: study {spec.name!r} was made with another {key} ({_brief(stored.get(key))}, "
                               f"now {_brief(mine.get(key))}); continue it with its own config, or give the "
                               "study another name")


def _grows(stored: dict, mine: dict) -> bool:
    """Whether ``mine`` is ``stored`` with a larger run_cap, on a random or bayes study."""
    stored_cap, my_cap = stored.get("run_cap"), mine.get("run_cap")
    return (mine.get("method") != "grid" and isinstance(stored_cap, int) and isinstance(my_cap, int)
            and my_cap > stored_cap)


def _extend(study, spec) -> None:
    """Queue the trials a larger run_cap adds, and store the new cap. (Two processes raising the cap at the same
    moment would both queue: raise it from one.)"""
    stored = study.user_attrs[SPEC_ATTR]
    mine = json.loads(json.dumps(spec.to_dict()))
    if not _grows(stored, mine):
        return
    for _ in range(mine["run_cap"] - stored["run_cap"]):
        study.enqueue_trial({})
    study.set_user_attr(SPEC_ATTR, mine)


def _brief(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."


def queue_trials(study, spec) -> int:
    """Queue the study's trials: every grid point (the first ``run_cap`` of them, if given), else ``run_cap``
    open trials. Returns how many."""
    from .space import grid_points

    if spec.method == "grid":
        points = grid_points(spec.parameters)
        points = points[:spec.run_cap] if spec.run_cap else points
    else:
        points = [{}] * spec.run_cap
    for params in points:
        study.enqueue_trial(params)
    return len(points)


def make_sampler(spec, number: int):
    """The sampler of trial ``number``: TPE for bayes (NSGA-II with several objectives), random otherwise
    (a grid's trials are queued with their values, so no sampler is asked)."""
    seed = (spec.seed * 1_000_003 + number) % 2**32
    if spec.method == "bayes":
        if len(spec.objectives) > 1:
            return optuna.samplers.NSGAIISampler(seed=seed)
        return optuna.samplers.TPESampler(seed=seed)
    return optuna.samplers.RandomSampler(seed=seed)


def make_pruner(spec):
    """``early_terminate`` as Optuna's pruner: Hyperband over 1..epochs, or the median rule; else none."""
    rule = spec.early_terminate
    if rule is None:
        return optuna.pruners.NopPruner()
    if rule.type == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=rule.min_iter, max_resource=spec.epochs,
                                              reduction_factor=rule.eta)
    # Judge from the second finished trial on, and only from epoch min_iter.
    return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=rule.min_iter)  # epochs count from 1


def take_trial(study, spec, lock: Path | None = None):
    """A queued trial, now RUNNING for this process (its first heartbeat recorded), or None when the queue
    is empty. Stale trials are failed and queued again first.

    ``lock``: a file that serialises taking among this machine's processes. SQLite has no row locks, so two
    processes may both read a trial as WAITING and both mark it RUNNING (seen with two workers); PostgreSQL
    and MySQL lock the row themselves, and need none."""
    with _held(lock):
        return _take(study, spec)


@contextlib.contextmanager
def _held(lock: Path | None):
    """An exclusive flock on ``lock`` for the block (nothing when None)."""
    if lock is None:
        yield
        return
    import fcntl

    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def take_lock(url: str) -> Path | None:
    """The lock file beside a SQLite study database (``take_trial``), or None for a server database."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url[len(prefix):] in ("", ":memory:"):
        return None
    return Path(url[len(prefix):] + ".take-lock")


def _take(study, spec):
    storage = study._storage  # the RDBStorage this process opened
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    study_id = storage.get_study_id_from_name(study.study_name)
    for waiting in study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, waiting.number)
        try:
            if not storage.set_trial_state_values(trial_id, state=TrialState.RUNNING):
                continue  # another worker took it first
        except UpdateFinishedTrialError:
            continue
        storage.record_heartbeat(trial_id)
        study.sampler = make_sampler(spec, waiting.number)
        return optuna.Trial(study, trial_id)
    return None


def running(study) -> list:
    """The study's trials now RUNNING (here or elsewhere)."""
    return study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))


@contextlib.contextmanager
def heartbeat(study, trial, interval: int):
    """Beat ``trial``'s heartbeat every ``interval`` seconds while the block runs."""
    stop = threading.Event()
    storage, trial_id = study._storage, trial._trial_id

    def beat():
        while not stop.wait(interval):
            with contextlib.suppress(Exception):  # a missed beat is what the grace period is for
                storage.record_heartbeat(trial_id)

    thread = threading.Thread(target=beat, name=f"heartbeat-{trial.number}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def requeue(study, trial) -> None:
    """An interrupted trial: failed now and queued again at once (as a stale one would be, later)."""
    storage = study._storage
    with contextlib.suppress(UpdateFinishedTrialError):
        storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL)
        frozen = storage.get_trial(trial._trial_id)
        storage.get_heartbeat_stale_trial_callback()(study, frozen)


def tally(study) -> dict:
    """How many trials are in each state ({'COMPLETE': 3, 'PRUNED': 1, ...}); a failed trial that was queued
    again counts as RETRIED, not FAIL (its retry is the trial that counts)."""
    trials = study.get_trials(deepcopy=False)
    retried = {number for trial in trials for number in trial.system_attrs.get("retry_history", ())}
    counts: dict = {}
    for trial in trials:
        state = "RETRIED" if trial.number in retried and trial.state == TrialState.FAIL else trial.state.name
        counts[state] = counts.get(state, 0) + 1
    return counts
