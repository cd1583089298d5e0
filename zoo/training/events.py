"""A training run's events: what ``cnncost train`` reports, as typed records.

One run emits, in this order (``run.py``; the sinks in ``sinks.py`` take them):

* ``Message``: a line the console prints (a warning, the caching plan, the second stage, ...), at any time;
* ``RunStarted``: once the run is set up, before its first epoch (its ``headline`` is the console's first line);
* ``EpochEnded``: after each epoch, once its checkpoint is saved (so a record never claims an epoch that
  ``--resume`` would train again);
* ``TrainingEnded``: the epoch loop is over (the last epoch, or early stopping);
* ``RunEnded``: the best weights evaluated and ``metrics.json`` written (rank 0 only).

Each record's ``to_dict()`` gives the keys the run's files have always used: an ``EpochEnded`` is exactly
one row of ``metrics.json``'s ``epochs`` (same keys, same order), so every output is the same whether it is
written from the record or was written from the old per-epoch dict.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping

# The scalar figures of an epoch row, in the order a table of epochs shows them (epochs.csv's header; the
# per-class lists and the confusion matrix are left out: they are not one number).
EPOCH_SCALARS = ("epoch", "stage", "train_loss", "train_acc", "train_precision", "train_recall", "train_f1",
                 "val_loss", "val_acc", "val_topk", "k", "val_precision", "val_recall", "val_f1", "lr",
                 "images_per_s", "tflops", "peak_fraction", "seconds", "cached", "best")


@dataclass(frozen=True)
class Message:
    """A line the console prints as it is; ``kind`` is "warning" for what went wrong but did not stop the run
    (an unreadable image, a setting the device cannot honour), else "info"."""

    TYPE: ClassVar[str] = "message"
    text: str
    kind: str = "info"

    def to_dict(self) -> dict:
        """{"kind", "text"}."""
        return {"kind": self.kind, "text": self.text}


@dataclass(frozen=True)
class RunStarted:
    """The run, set up: what it trains, on what, and the engine's parameter counts.

    ``resumed_from`` is the epoch of the checkpoint continued (0 for a new run) and ``restored`` that
    checkpoint's epoch rows (metrics.json's form): sinks that keep a file of epochs complete it from them, so
    an interrupted and resumed run's file holds each epoch once. ``restored`` is not part of ``to_dict``: the
    rows are the file's own earlier records.
    """

    TYPE: ClassVar[str] = "run_started"
    folder: str
    network: str
    strategy: str
    classes: tuple[str, ...]
    image_size: int
    epochs: int  # of the whole run, both stages
    trainable_params: int
    frozen_params: int
    device: str  # "cpu" or "cuda"
    bf16: bool
    channels_last: bool
    processes: int = 1
    resumed_from: int = 0
    restored: tuple[Mapping[str, Any], ...] = dataclasses.field(default=(), repr=False)

    def to_dict(self) -> dict:
        """Every field but ``restored``."""
        values = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)
                  if field.name != "restored"}
        return {**values, "classes": list(self.classes)}

    def headline(self) -> str:
        """'vgg19 · last-layer · 10 classes · 224×224 · trainable 40,970 of 139,611,210, frozen 139,570,240
        (engine formula agrees) · cuda bf16 channels_last'."""
        total = self.trainable_params + self.frozen_params
        return (f"{self.network} · {self.strategy} · {len(self.classes)} classes · "
                f"{self.image_size}×{self.image_size} · trainable {self.trainable_params:,} of {total:,}, frozen "
                f"{self.frozen_params:,} (engine formula agrees) · {self.device}"
                + (" bf16" if self.bf16 else "") + (" channels_last" if self.channels_last else ""))


@dataclass(frozen=True)
class Scores:
    """One split's figures in one epoch: mean loss, top-1 accuracy, the macro precision, recall and F1 (over
    the classes with samples or predictions), and the per-class lists (``precision``, ``recall``, ``f1``,
    ``support``, ``predicted``). Validation adds top-k and, up to ``report.EPOCH_CONFUSION_CLASSES``
    classes, its confusion matrix."""

    loss: float
    top1: float
    precision: float
    recall: float
    f1: float
    per_class: Mapping[str, list]
    topk: float | None = None
    confusion: list | None = None

    def figures(self, split: str) -> dict:
        """The split's per-class keys of an epoch row: ``{split}_precision``, ..., ``{split}_per_class`` and
        ``val_confusion`` when there is one."""
        figures = {f"{split}_precision": self.precision, f"{split}_recall": self.recall, f"{split}_f1": self.f1,
                   f"{split}_per_class": self.per_class}
        if self.confusion is not None:
            figures[f"{split}_confusion"] = self.confusion
        return figures


@dataclass(frozen=True)
class EpochEnded:
    """One finished epoch: its stage (2 in a ``--then`` run's second stage), train and validation scores,
    the learning rate at its end, throughput (images/s, achieved TFLOP/s and their share of the device's peak
    when known), its training seconds, whether it trained on cached features, and whether it was the best so
    far by ``--monitor``."""

    TYPE: ClassVar[str] = "epoch_ended"
    epoch: int
    train: Scores
    val: Scores
    k: int
    lr: float
    images_per_s: float
    tflops: float
    peak_fraction: float | None
    seconds: float
    cached: bool
    stage: int = 1
    best: bool = False

    def to_dict(self) -> dict:
        """metrics.json's epoch row, key for key in its order (the order the row was always built in)."""
        return {"peak_fraction": self.peak_fraction, "epoch": self.epoch, "train_loss": self.train.loss,
                "train_acc": self.train.top1, "val_loss": self.val.loss, "val_acc": self.val.top1,
                "val_topk": self.val.topk, "k": self.k, "images_per_s": self.images_per_s, "tflops": self.tflops,
                "lr": self.lr, "seconds": self.seconds, "cached": self.cached, **self.train.figures("train"),
                **self.val.figures("val"), "stage": self.stage, "best": self.best}

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "EpochEnded":
        """The record of an epoch row (``to_dict``'s inverse: ``from_row(r).to_dict() == r`` for a row it made);
        a key no record holds is an error, not a figure silently dropped."""
        ended = cls(epoch=row["epoch"], train=_scores_of(row, "train"), val=_scores_of(row, "val"), k=row["k"],
                    lr=row["lr"], images_per_s=row["images_per_s"], tflops=row["tflops"],
                    peak_fraction=row["peak_fraction"], seconds=row["seconds"], cached=row["cached"],
                    stage=row.get("stage", 1), best=row.get("best", False))
        unknown = [key for key in row if key not in ended.to_dict()]
        if unknown:
            raise ValueError(f"an epoch row with figures no EpochEnded holds: {', '.join(unknown)}")
        return ended

    def metric(self, name: str) -> float:
        """The value of one of the row's figures by its row name (``val_acc``, ``train_loss``, ...): what
        ``--monitor`` and a study's metric name."""
        row = self.to_dict()
        if name not in row:
            raise KeyError(f"an epoch has no figure {name!r} (its figures: {', '.join(row)})")
        return row[name]


def _scores_of(row: Mapping[str, Any], split: str) -> Scores:
    """One split's ``Scores`` from an epoch row's ``{split}_...`` keys."""
    return Scores(loss=row[f"{split}_loss"], top1=row[f"{split}_acc"], precision=row[f"{split}_precision"],
                  recall=row[f"{split}_recall"], f1=row[f"{split}_f1"], per_class=row[f"{split}_per_class"],
                  topk=row.get(f"{split}_topk"), confusion=row.get(f"{split}_confusion"))


@dataclass(frozen=True)
class TrainingEnded:
    """The epoch loop is over: ``epochs`` epochs are in the run's history; ``best`` is metrics.json's
    ``best`` ({"epoch": E, MONITOR: value}); ``stopped_early`` when ``--patience`` ended it."""

    TYPE: ClassVar[str] = "training_ended"
    epochs: int
    best: Mapping[str, Any]
    monitor: str
    patience: int | None
    stopped_early: bool

    def to_dict(self) -> dict:
        """Every field."""
        return {"epochs": self.epochs, "best": dict(self.best), "monitor": self.monitor, "patience": self.patience,
                "stopped_early": self.stopped_early}


@dataclass(frozen=True)
class RunEnded:
    """The run's end: the best weights evaluated on ``evaluated_on`` (the test split, else validation), with
    metrics.json's names for the figures; the step's predicted and measured memory (metrics.json's
    ``memory``, None when no epoch ran in this process); ``saved``: the files the run folder holds, as the
    last console line names them."""

    TYPE: ClassVar[str] = "run_ended"
    folder: str
    evaluated_on: str
    accuracy: float
    topk: float
    k: int
    loss: float
    per_class: tuple[Mapping[str, Any], ...]
    memory: Mapping[str, Any] | None
    epochs: int
    saved: tuple[str, ...]
    plots: bool = True

    def to_dict(self) -> dict:
        """metrics.json's names: evaluated_on, test_accuracy, test_topk, k, test_loss, per_class, memory; then
        epochs, folder and the files saved."""
        return {"evaluated_on": self.evaluated_on, "test_accuracy": self.accuracy, "test_topk": self.topk,
                "k": self.k, "test_loss": self.loss, "per_class": [dict(row) for row in self.per_class],
                "memory": None if self.memory is None else dict(self.memory), "epochs": self.epochs,
                "folder": self.folder, "saved": list(self.saved)}

    def saved_line(self) -> str:
        """'test accuracy 0.9120 (top-5 0.9950) · run saved to runs/x/ (metrics.json, curves.png, ...)'."""
        files = ", ".join(self.saved) + ("" if self.plots else "; plots skipped: --no-plots")
        return (f"{self.evaluated_on} accuracy {self.accuracy:.4f} (top-{self.k} {self.topk:.4f}) · run saved to "
                f"{self.folder}/ ({files})")


Event = Message | RunStarted | EpochEnded | TrainingEnded | RunEnded
EVENT_TYPES = {kind.TYPE: kind for kind in (Message, RunStarted, EpochEnded, TrainingEnded, RunEnded)}


def epoch_scalars(row: Mapping[str, Any]) -> dict:
    """The ``EPOCH_SCALARS`` of an epoch row (``EpochEnded.to_dict()`` or a checkpoint's history row; a figure
    an older row lacks is None)."""
    return {name: row.get(name) for name in EPOCH_SCALARS}
