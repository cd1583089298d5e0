"""Where a training run's events go: the console, and files in the run folder (``--log``).

A sink is any object with ``handle(event)`` and ``close()`` (``Sink``). ``--log`` picks them by name:

* ``console``: the lines and the epoch table ``cnncost train`` prints (``TrainConsole``);
* ``jsonl``: ``events.jsonl``, one strict JSON object per event (``"type"``, ``"time"``, then the event's
  ``to_dict()``; NaN and infinities are null);
* ``csv``: ``epochs.csv``, one row per epoch under the fixed header ``events.EPOCH_SCALARS``;
* ``tensorboard``: ``tensorboard/``, a ``torch.utils.tensorboard.SummaryWriter``'s event files: each scalar
  figure of an epoch at step = epoch, and the final evaluation at the last epoch's step.

The file sinks follow the run folder's rule (``runfolder.claim``: a run that saved no epoch leaves nothing):
they write once the folder holds a checkpoint, and an epoch's record is written after its checkpoint. With
``--resume`` they continue the checkpoint's epochs: each epoch is in a file once, however often the run was
interrupted (``events.jsonl`` keeps its earlier records and gains any epoch it lacks from the checkpoint;
``epochs.csv`` is written again from the checkpoint's history; TensorBoard's earlier steps are purged and
written again from it). Under data-parallel training only rank 0 builds them.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Protocol, runtime_checkable

from cnncost.arch import ParameterError

from ..runtime.files import jsonable, write_atomic
from ..runtime.log_spec import TENSORBOARD_INSTALL, require_tensorboard
from .console import TrainConsole
from .events import EPOCH_SCALARS, EpochEnded, Event, Message, RunEnded, RunStarted, TrainingEnded, epoch_scalars
from .report import memory_line
from .runfolder import has_checkpoint

EVENTS_FILE = "events.jsonl"
EPOCHS_FILE = "epochs.csv"
TENSORBOARD_FOLDER = "tensorboard"
# TensorBoard tags of an epoch's scalar figures: the figure first, then the split, so that TensorBoard groups
# train and validation of one figure side by side.
TENSORBOARD_TAGS = {"train_loss": "loss/train", "val_loss": "loss/val", "train_acc": "accuracy/train",
                    "val_acc": "accuracy/val", "val_topk": "accuracy/val_topk", "train_precision": "precision/train",
                    "val_precision": "precision/val", "train_recall": "recall/train", "val_recall": "recall/val",
                    "train_f1": "f1/train", "val_f1": "f1/val", "lr": "lr", "images_per_s": "throughput/images_per_s",
                    "tflops": "throughput/tflops", "peak_fraction": "throughput/peak_fraction",
                    "seconds": "time/epoch_seconds"}
TEST_TAGS = {"test_accuracy": "test/accuracy", "test_topk": "test/topk", "test_loss": "test/loss"}


@runtime_checkable
class Sink(Protocol):
    """What receives a run's events, in order."""

    def handle(self, event: Event) -> None:
        """Take one event."""

    def close(self) -> None:
        """The run is over (finished or failed): write what is pending, release files."""


class RunLog:
    """The run's event stream: each event to every sink in order (the ``--log`` sinks, then the caller's);
    the console's progress bars, which are not events, on ``bars``."""

    def __init__(self, sinks: Iterable[Sink], bars: TrainConsole, outputs: tuple[str, ...] = ()):
        self.sinks = list(sinks)
        self.bars = bars
        self.outputs = outputs  # the files and folders the sinks write in the run folder, for the last line

    def emit(self, event: Event) -> None:
        """Hand ``event`` to every sink."""
        for sink in self.sinks:
            sink.handle(event)

    def line(self, text: str) -> None:
        """A line for the console (and every other sink): a ``Message``."""
        self.emit(Message(text))

    def warn(self, text: str) -> None:
        """A warning line: a ``Message`` of kind "warning"."""
        self.emit(Message(text, "warning"))

    def epoch_bar(self, epoch: int, epochs: int, batches: int):
        """The console's transient bar over one epoch (``TrainConsole.epoch_bar``)."""
        return self.bars.epoch_bar(epoch, epochs, batches)

    def task_bar(self, description: str, total: int, **options):
        """The console's bar over a task (``TrainConsole.task_bar``)."""
        return self.bars.task_bar(description, total, **options)

    def close(self) -> None:
        """Close every sink, even when one fails; the first failure is raised after all are closed."""
        failure: BaseException | None = None
        for sink in self.sinks:
            try:
                sink.close()
            except Exception as error:  # noqa: BLE001 - the others still get closed
                failure = failure or error
        if failure is not None:
            raise failure

    def __enter__(self) -> "RunLog":
        return self

    def __exit__(self, kind, error, trace) -> None:
        if error is None:
            self.close()
            return
        with contextlib.suppress(Exception):  # the run's own error is the one to report
            self.close()


def open_log(names: tuple[str, ...], folder: Path, console: TrainConsole | None, quiet: bool, leader: bool,
             extra: Iterable[Sink] = ()) -> RunLog:
    """The run's ``RunLog``: the sinks ``names`` picks (on rank 0; the other ranks print and write nothing),
    then ``extra`` (every rank, as ``train(on_epoch_end=...)`` always was). ``console`` is the TrainConsole to
    print on, as given; by default a fresh one, silent when ``quiet``."""
    chosen: list[Sink] = []
    bars = TrainConsole(quiet=True)
    if leader and "console" in names:
        bars = console or TrainConsole(quiet=quiet)
        chosen.append(ConsoleSink(bars))
    files = [name for name in names if name != "console"] if leader else []
    makers: dict[str, Callable[[Path], Sink]] = {"jsonl": JsonlSink, "csv": CsvSink, "tensorboard": TensorBoardSink}
    chosen += [makers[name](folder) for name in files]
    shown = {"jsonl": EVENTS_FILE, "csv": EPOCHS_FILE, "tensorboard": TENSORBOARD_FOLDER + "/"}
    return RunLog(chosen + list(extra), bars, tuple(shown[name] for name in files))


class ConsoleSink:
    """What ``cnncost train`` prints, from the events: messages and the headline as lines, each epoch's summary
    line, the epoch table once training ends (after the early-stopping line, if any), then the memory line and
    the last line."""

    def __init__(self, console: TrainConsole):
        self.console = console

    def handle(self, event: Event) -> None:
        """Print what ``event`` says."""
        if isinstance(event, Message):
            self.console.line(event.text)
        elif isinstance(event, RunStarted):
            self.console.line(event.headline())
        elif isinstance(event, EpochEnded):
            self.console.epoch_row(event.to_dict())
        elif isinstance(event, TrainingEnded):
            if event.stopped_early:
                self.console.line(f"early stopping: no better {event.monitor} for {event.patience} epochs")
            self.console.epoch_table()
        elif isinstance(event, RunEnded):
            if event.memory is not None:
                self.console.line(memory_line(dict(event.memory)))
            self.console.line(event.saved_line())

    def close(self) -> None:
        """Nothing to release."""


class EpochCallback:
    """``train(on_epoch_end=function)``: ``function(epoch, row)`` after each epoch (its checkpoint saved), with
    the epoch's metrics.json row."""

    def __init__(self, function: Callable[[int, dict], Any]):
        self.function = function

    def handle(self, event: Event) -> None:
        """Call the function for an ``EpochEnded``."""
        if isinstance(event, EpochEnded):
            self.function(event.epoch, event.to_dict())

    def close(self) -> None:
        """Nothing to release."""


def as_sink(callback: Sink | Callable[[int, dict], Any]) -> Sink:
    """``train``'s ``on_epoch_end``: a sink as it is, a function (epoch, row) wrapped in ``EpochCallback``."""
    return callback if isinstance(callback, Sink) else EpochCallback(callback)


def _saved_epochs(restored: Iterable[Mapping[str, Any]], resumed_from: int) -> list:
    """The checkpoint's epoch rows up to the epoch it holds, one per epoch."""
    rows: dict[int, Mapping[str, Any]] = {}
    for row in restored:
        epoch = row.get("epoch")
        if isinstance(epoch, int) and 1 <= epoch <= resumed_from:
            rows.setdefault(epoch, row)
    return [rows[epoch] for epoch in sorted(rows)]


def _file_error(path: Path, error: OSError) -> ParameterError:
    return ParameterError("log", f"cannot write {path} ({error.strerror or error})")


class JsonlSink:
    """``events.jsonl``: one JSON object a line per event, ``{"type": ..., "time": ..., **event.to_dict()}``
    (``time``: seconds since the epoch when written; null for an epoch taken from the checkpoint on resume,
    its first record having been lost with the interrupted run).

    Records wait in memory until the run has started and its folder holds a checkpoint. On resume the file is
    first put in order: a torn last line (the run was killed while writing it) and epochs after the
    checkpoint's are dropped, and the checkpoint's epochs the file lacks are appended from its history."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.path = folder / EVENTS_FILE
        self._pending: list[str] = []
        self._started = False
        self._handle: io.TextIOWrapper | None = None

    def handle(self, event: Event) -> None:
        """Record ``event``; write what waits once the folder holds a checkpoint."""
        if isinstance(event, RunStarted):
            self._started = True
            if event.resumed_from:
                self._complete(_saved_epochs(event.restored, event.resumed_from), event.resumed_from)
        self._pending.append(self._line(event.TYPE, round(time.time(), 3), event.to_dict()))
        self._write(durable=isinstance(event, (EpochEnded, RunEnded)))

    def close(self) -> None:
        """Write what waits (if the run saved an epoch) and close the file."""
        try:
            self._write(durable=True)
        finally:
            if self._handle is not None:
                self._handle.close()
                self._handle = None

    @staticmethod
    def _line(kind: str, when: float | None, values: Mapping[str, Any]) -> str:
        return json.dumps({"type": kind, "time": when, **jsonable(dict(values))}, allow_nan=False,
                          ensure_ascii=False) + "\n"

    def _write(self, durable: bool) -> None:
        if not self._pending or not self._started or not has_checkpoint(self.folder):
            return
        try:
            if self._handle is None:
                self._handle = open(self.path, "a", encoding="utf-8")
            self._handle.write("".join(self._pending))
            self._handle.flush()
            if durable:  # an epoch's record as lasting as its checkpoint
                os.fsync(self._handle.fileno())
        except OSError as error:
            raise _file_error(self.path, error) from None
        self._pending.clear()

    def _complete(self, saved: list, resumed_from: int) -> None:
        """The file made to hold each of the checkpoint's epochs once, and nothing after them."""
        lines, seen, changed = self._kept_lines(resumed_from)
        for row in saved:
            if row["epoch"] not in seen:
                lines.append(self._line(EpochEnded.TYPE, None, row))
                changed = True
        if changed:
            try:
                write_atomic(self.path, "".join(lines))
            except OSError as error:
                raise _file_error(self.path, error) from None

    def _kept_lines(self, resumed_from: int) -> tuple[list, set, bool]:
        """(the file's whole, parseable lines but epochs after ``resumed_from`` and repeats, the epochs they
        hold, whether anything was dropped)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return [], set(), False
        except (OSError, UnicodeDecodeError) as error:
            raise ParameterError("log", f"cannot read {self.path} to continue it ({error})") from None
        kept, seen, changed = [], set(), False
        for line in text.splitlines(keepends=True):
            record = _record(line)
            epoch = record.get("epoch") if record and record.get("type") == EpochEnded.TYPE else None
            if record is None or (epoch is not None and (epoch in seen or epoch > resumed_from)):
                changed = True
                continue
            if epoch is not None:
                seen.add(epoch)
            kept.append(line)
        return kept, seen, changed


def _record(line: str) -> dict | None:
    """One whole line of events.jsonl as its object, or None (a torn or foreign line)."""
    if not line.endswith("\n"):
        return None
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) and isinstance(record.get("type"), str) else None


class CsvSink:
    """``epochs.csv``: a header row (``events.EPOCH_SCALARS``), then one row per epoch. Cells: integers and
    floats as Python writes them (floats round-trip exactly; a diverged loss reads nan), booleans true/false,
    an unknown figure empty. Written from the checkpoint's history on resume, then appended to."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.path = folder / EPOCHS_FILE
        self._handle: io.TextIOWrapper | None = None

    def handle(self, event: Event) -> None:
        """Start the file again on resume; add a row per ``EpochEnded``."""
        if isinstance(event, RunStarted) and event.resumed_from:
            rows = _saved_epochs(event.restored, event.resumed_from)
            try:
                write_atomic(self.path, _csv_text([EPOCH_SCALARS] + [_csv_cells(row) for row in rows]))
            except OSError as error:
                raise _file_error(self.path, error) from None
        elif isinstance(event, EpochEnded):
            self._append(_csv_cells(event.to_dict()))

    def close(self) -> None:
        """Close the file."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def _append(self, cells: list) -> None:
        try:
            if self._handle is None:
                new = not self.path.exists()
                self._handle = open(self.path, "a", encoding="utf-8", newline="")
                if new:
                    self._handle.write(_csv_text([EPOCH_SCALARS]))
            self._handle.write(_csv_text([cells]))
            self._handle.flush()
            os.fsync(self._handle.fileno())
        except OSError as error:
            raise _file_error(self.path, error) from None


def _csv_cells(row: Mapping[str, Any]) -> list:
    return [_csv_cell(value) for value in epoch_scalars(row).values()]


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def _csv_text(rows: list) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


class TensorBoardSink:
    """``tensorboard/``: a SummaryWriter's event files (``tensorboard --logdir RUN/tensorboard``). Each epoch's
    scalar figures (``TENSORBOARD_TAGS``) at step = epoch; the final evaluation (``TEST_TAGS``) at the last
    epoch's step. On resume the writer purges every earlier step (``purge_step=1``) and writes the checkpoint's
    epochs again, so each epoch is shown once."""

    def __init__(self, folder: Path):
        require_tensorboard()
        self.path = folder / TENSORBOARD_FOLDER
        self._writer: Any = None

    def handle(self, event: Event) -> None:
        """Write an epoch's (or the final evaluation's) scalars; on resume, the checkpoint's epochs first."""
        if isinstance(event, RunStarted) and event.resumed_from:
            self._open(purge_step=1)
            for row in _saved_epochs(event.restored, event.resumed_from):
                self._scalars(row, TENSORBOARD_TAGS, row["epoch"])
        elif isinstance(event, EpochEnded):
            self._scalars(event.to_dict(), TENSORBOARD_TAGS, event.epoch)
        elif isinstance(event, RunEnded) and event.epochs:
            self._scalars(event.to_dict(), TEST_TAGS, event.epochs)

    def close(self) -> None:
        """Close the writer (its files are flushed)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def _open(self, purge_step: int | None = None) -> Any:
        if self._writer is None:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as error:
                raise ParameterError("log", f"tensorboard cannot be loaded ({error}); {TENSORBOARD_INSTALL}") from None
            self._writer = SummaryWriter(str(self.path), purge_step=purge_step)
        return self._writer

    def _scalars(self, values: Mapping[str, Any], tags: Mapping[str, str], step: int) -> None:
        writer = self._open()
        for name, tag in tags.items():
            value = values.get(name)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                writer.add_scalar(tag, float(value), step)
        writer.flush()
