"""The configuration of one training run: every option of ``cnncost train``, as data.

The same record is written into every checkpoint and into ``metrics.json``, so
a run can be resumed (``--resume`` refuses a changed configuration, naming the
field) and evaluated later without repeating its options.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field

from cnncost.errors import CnncostError

from ..runtime.devices import DEVICES  # --device's choices, shared with evaluate and show

OPTIMIZERS = ("adam", "adamw", "sgd")
# What --monitor may watch (an epoch row's value) and which way is better: it picks best.pt and drives --patience.
MONITORS = {"val_acc": "max", "val_topk": "max", "val_loss": "min", "train_acc": "max", "train_loss": "min",
            "val_precision": "max", "val_recall": "max", "val_f1": "max"}  # the last three: macro averages
SCHEDULES = ("constant", "cosine", "onecycle", "step")
# Fields that may differ when a run is resumed: how long it runs and how it is watched.
# ``out`` is not compared at all: the folder the checkpoint is in *is* the run, however
# it is spelled (./run, run, /abs/run) and wherever it has been moved.
# ``plots`` only decides which PNGs are written at the end, never a weight; ``log`` only where the records go.
# How the processes are launched may change too (another machine as the rendezvous host, 2 machines of
# 1 process instead of 1 of 2): the world size itself is checked against the checkpoint's (checkpoint.py).
RESUMABLE_CHANGES = frozenset({"epochs", "patience", "resume", "quiet", "workers", "out", "plots", "then_epochs",
                               "nproc_per_node", "nnodes", "node_rank", "rdzv_endpoint", "rdzv_timeout", "log"})
# Fields holding a path (or a keyword): compared as resolved paths on resume.
PATH_FIELDS = {"data": ("synthetic",), "weights": ("none", "imagenet")}
# Seeds feed torch, numpy and blake2b; 0..2^32-1 is the range every one of them takes as is.
SEED_MAX = 2**32 - 1
# Bounds that keep a run's bookkeeping (Python lists of samples, PIL images) allocatable;
# the memory a network needs at a given size is estimated separately (memory.py).
SYNTHETIC_MAX = 1_000_000
IMG_SIZE_MAX = 8192
WORKERS_MAX = 256  # DataLoader processes: more only exhausts the machine
PROCESSES_MAX = 1024  # training processes per machine, and machines (torchrun's own scale)
ACCUMULATE_MAX = 1024  # micro-batches per optimizer step
RDZV_TIMEOUT_MAX = 86_400  # a day of waiting for the other machines is already absurd


@dataclass
class TrainConfig:
    """One training run (defaults follow the reports' best settings where they state them)."""

    arch: str  # zoo name (zoo. prefix accepted) or architecture file
    strategy: str = "scratch"  # scratch | last-layer | head | partial:K | full
    data: str = "synthetic"  # image folder (train/<class>/*) or "synthetic"
    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3  # peak learning rate (after warmup)
    img_size: int | None = None  # square input side; None: the architecture's default
    weights: str = "none"  # a checkpoint path, "imagenet" (torch hub cache) or "none"
    out: str = "runs"  # run folder (created); checkpoints, metrics.json and plots go there
    device: str = "auto"  # auto | cpu | cuda
    resume: bool = False  # continue the run saved in ``out``
    seed: int = 0  # everything random derives from it: init, split, order, augmentation
    hyperparameters: dict = field(default_factory=dict)  # the architecture's own (m, k, n, org, bn, ...)
    optimizer: str = "adam"
    momentum: float = 0.9  # sgd only
    nesterov: bool = False  # sgd only
    weight_decay: float = 0.0  # L2 penalty (decoupled for adamw)
    schedule: str = "constant"
    warmup_epochs: float = 0.0  # linear warmup from 0, may be fractional
    step_size: int = 10  # step schedule: epochs between decays
    gamma: float = 0.1  # step schedule: decay factor
    clip_grad: float | None = None  # max global gradient norm
    clip_value: float | None = None  # max absolute value of every gradient element (after the norm clip)
    monitor: str = "val_acc"  # the epoch metric that picks the best weights and drives early stopping
    label_smoothing: float = 0.0
    dropout: float | None = None  # override every dropout layer's rate (scratch5: its own option)
    dropout_at: str | None = None  # comma-separated layers that get a Dropout(--dropout) before them
    # --augment SPEC: the training augmentation (augment.py), held as canonical text ("" none); a run folder's
    # old true/false reads as the default recipe / none.
    augment: str = ""
    resize: str = "crop"  # --resize: crop (shorter side, then centre crop) or plain (straight to a square)
    cache: bool = True  # last-layer: train the head on cached backbone features
    patience: int | None = None  # early stopping: epochs without a better --monitor value
    val_fraction: float = 0.2  # stratified share of train/ used for validation
    workers: int | None = None  # data-loading processes; None: 0 on CPU, up to 8 on CUDA
    amp: bool | None = None  # bf16 autocast; None: on for CUDA
    channels_last: bool | None = None  # None: on for CUDA
    compile: bool = False  # torch.compile the model
    topk: int = 5  # the k of top-k accuracy
    synthetic_size: int = 2000  # images in the synthetic dataset (train + val)
    quiet: bool = False  # no console output (tests)
    plots: bool = True  # write the PNGs (class distribution at the start; curves, class scores, ... at the end)
    # A second stage in the same run (Keras users' recipe: train the new head, then fine-tune all):
    # after ``epochs`` epochs, ``then_epochs`` more under strategy ``then`` at learning rate ``then_lr``.
    then: str | None = None
    then_epochs: int = 0
    then_lr: float | None = None  # None: --lr / 10
    # Data-parallel training (docs/training.md, "More than one GPU or machine"): ``batch_size`` stays the
    # global batch of one optimizer step, shared out over nproc_per_node × nnodes processes, each running
    # its share in ``accumulate`` micro-batches.
    nproc_per_node: int = 1  # processes on this machine (one per GPU with --device cuda)
    nnodes: int = 1  # machines taking part
    node_rank: int = 0  # this machine's rank, 0 .. nnodes - 1 (0 hosts the rendezvous)
    rdzv_endpoint: str | None = None  # HOST:PORT of machine 0, needed with nnodes > 1
    rdzv_timeout: int = 120  # seconds to wait for every machine to join
    sync_bn: bool = False  # BatchNorm statistics over the global batch, not each process's share
    accumulate: int = 1  # micro-batches per process and step (gradient accumulation)
    # --ema DECAY: an exponential moving average of the weights (and BatchNorm statistics), updated after every
    # optimizer step; validation, early stopping, best.pt and the final evaluation use it. None: off.
    ema: float | None = None
    binary: bool = False  # a 2-class dataset trained with a 1-output head, sigmoid + BCE (class 1 positive)
    # --log: where the run's events go (sinks.py), comma-separated: console, jsonl, csv, tensorboard
    log: str = "console"

    def __post_init__(self):
        # One spelling per augmentation (order, defaults written out), so a resume compares recipes, not text.
        from .augment import normalised

        self.augment = normalised(self.augment)

    def to_dict(self) -> dict:
        """A JSON-ready dict of every field."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        """The config saved by ``to_dict`` (unknown keys from newer versions ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})

    def check(self) -> "TrainConfig":
        """Validate types and ranges; each problem is a one-line error naming the option and its range.

        Every float must be finite: ``--lr inf`` or ``--momentum nan`` would
        train to NaN weights and still exit 0.
        """
        _integer(self.epochs, "--epochs", 1)
        _integer(self.batch_size, "--batch-size", 1)
        _number(self.lr, "--lr", "a finite number > 0", lambda v: v > 0)
        if self.img_size is not None:
            _integer(self.img_size, "--img-size", 1, IMG_SIZE_MAX)
        _need(self.optimizer in OPTIMIZERS, "--optimizer", self.optimizer, "one of " + ", ".join(OPTIMIZERS))
        _need(self.schedule in SCHEDULES, "--schedule", self.schedule, "one of " + ", ".join(SCHEDULES))
        _need(self.device in DEVICES, "--device", self.device, "one of " + ", ".join(DEVICES))
        _integer(self.seed, "--seed", 0, SEED_MAX)
        _number(self.momentum, "--momentum", "0 ≤ value < 1", lambda v: 0 <= v < 1)
        _number(self.weight_decay, "--weight-decay", "a finite number ≥ 0", lambda v: v >= 0)
        _number(self.warmup_epochs, "--warmup-epochs", "a finite number ≥ 0", lambda v: v >= 0)
        _number(self.label_smoothing, "--label-smoothing", "0 ≤ value < 1", lambda v: 0 <= v < 1)
        self._check_images()
        if self.dropout is not None:
            _number(self.dropout, "--dropout", "0 ≤ value < 1", lambda v: 0 <= v < 1)
        if self.dropout_at is not None:
            if not isinstance(self.dropout_at, str):
                raise CnncostError(f"--dropout-at: {self.dropout_at!r} is not a comma-separated list of layer names")
            _ = self.dropout_layers  # parses, or the one-line error
            if self.dropout is None:
                raise CnncostError("--dropout-at: give the rate with --dropout P")
        if self.clip_grad is not None:
            _number(self.clip_grad, "--clip-grad", "a finite number > 0", lambda v: v > 0)
        if self.clip_value is not None:
            _number(self.clip_value, "--clip-value", "a finite number > 0", lambda v: v > 0)
        _need(self.monitor in MONITORS, "--monitor", self.monitor, "one of " + ", ".join(MONITORS))
        if self.ema is not None:
            _number(self.ema, "--ema", "a decay with 0 < DECAY < 1", lambda v: 0 < v < 1)
        if not isinstance(self.binary, bool):
            raise CnncostError(f"--binary: {self.binary!r} is out of range (need true or false)")
        if self.patience is not None:
            _integer(self.patience, "--patience", 1)
        _number(self.val_fraction, "--val-fraction", "0 < value < 1", lambda v: 0 < v < 1)
        if self.workers is not None:
            _integer(self.workers, "--workers", 0, WORKERS_MAX)
        _integer(self.topk, "--topk", 1)
        _integer(self.step_size, "--step-size", 1)
        _number(self.gamma, "--gamma", "0 < value ≤ 1", lambda v: 0 < v <= 1)
        if not isinstance(self.plots, bool):
            raise CnncostError(f"--plots: {self.plots!r} is out of range (need true or false)")
        _integer(self.synthetic_size, "--synthetic-size", 20, SYNTHETIC_MAX)
        self._check_then()
        self._check_parallel()
        self._check_log()
        if not isinstance(self.out, (str, os.PathLike)) or not os.fspath(self.out).strip():
            raise CnncostError("--out: empty; need the name of a run folder (new, empty, or a run to --resume)")
        return self

    def _check_images(self) -> None:
        """--augment parses (the one-line error names the transform and its range); --resize is known."""
        from .augment import parse
        from ..runtime.images import RESIZES

        parse(self.augment)
        _need(self.resize in RESIZES, "--resize", self.resize, "one of " + ", ".join(RESIZES))

    def _check_log(self) -> None:
        """--log names known sinks; tensorboard's package is there when it is one of them."""
        from .sinks import parse_names, require_tensorboard

        if "tensorboard" in parse_names(self.log):
            require_tensorboard()

    def _check_then(self) -> None:
        """The second stage's options: all or none of them, and a stage that fine-tunes."""
        if self.then is None:
            if self.then_epochs or self.then_lr is not None:
                raise CnncostError("--then-epochs/--then-lr: give --then STRATEGY for the second stage")
            return
        from cnncost.finetune import parse_strategy

        try:
            second = parse_strategy(self.then)
        except CnncostError as error:
            raise CnncostError("--then" + str(error).removeprefix("--strategy")) from None
        if second.kind == "scratch":
            raise CnncostError("--then: scratch would discard the first stage; choose last-layer, head, partial:K "
                               "or full")
        _integer(self.then_epochs, "--then-epochs", 1)
        if self.then_lr is not None:
            _number(self.then_lr, "--then-lr", "a finite number > 0", lambda v: v > 0)
        if self.patience is not None:
            raise CnncostError("--patience: not with --then (each stage runs all its epochs)")

    def _check_parallel(self) -> None:
        """The data-parallel options, and a global batch that shares out evenly over processes and micro-batches."""
        _integer(self.nproc_per_node, "--nproc-per-node", 1, PROCESSES_MAX)
        _integer(self.nnodes, "--nnodes", 1, PROCESSES_MAX)
        _integer(self.node_rank, "--node-rank", 0, self.nnodes - 1)
        _integer(self.rdzv_timeout, "--rdzv-timeout", 1, RDZV_TIMEOUT_MAX)
        _integer(self.accumulate, "--accumulate", 1, ACCUMULATE_MAX)
        if not isinstance(self.sync_bn, bool):
            raise CnncostError(f"--sync-bn: {self.sync_bn!r} is out of range (need true or false)")
        if self.nnodes > 1 or self.rdzv_endpoint is not None:
            endpoint_parts(self.rdzv_endpoint)
        if self.nnodes > 1 and self.rdzv_endpoint is None:
            raise CnncostError(f"--rdzv-endpoint: {self.nnodes} machines need HOST:PORT of machine 0 "
                               "(the same on every machine)")
        processes, parts = self.world_size, self.world_size * self.accumulate
        if self.batch_size % parts:
            low = self.batch_size - self.batch_size % parts
            nearest = f"{low:,} or {low + parts:,}" if low else f"{parts:,}"
            raise CnncostError(f"--batch-size: {self.batch_size:,} does not share out over {processes:,} "
                               f"process{'es' if processes > 1 else ''} × {self.accumulate:,} "
                               f"micro-batch{'es' if self.accumulate > 1 else ''} (need a multiple of "
                               f"{parts:,}: {nearest})")

    @property
    def world_size(self) -> int:
        """Processes training together: torchrun's ``WORLD_SIZE`` when started by it, else nproc × nnodes."""
        launched = os.environ.get("WORLD_SIZE", "")
        return int(launched) if launched.isdigit() and int(launched) > 0 else self.nproc_per_node * self.nnodes

    @property
    def micro_batch(self) -> int:
        """Images one process runs through the network at once: the global batch / (world size × accumulate)."""
        return max(1, self.batch_size // (self.world_size * self.accumulate))

    @property
    def dropout_layers(self) -> tuple:
        """--dropout-at's layer names, parsed."""
        from .dropout_at import parse_layers

        return parse_layers(self.dropout_at)

    @property
    def total_epochs(self) -> int:
        """Epochs of the whole run, both stages."""
        return self.epochs + (self.then_epochs if self.then else 0)

    def second_stage(self) -> "TrainConfig":
        """The options the second stage trains with: its strategy, learning rate and length (its schedule
        spans its own epochs)."""
        return dataclasses.replace(self, strategy=self.then, lr=self.then_lr or self.lr / 10, epochs=self.then_epochs)

    def changed_fields(self, saved: "TrainConfig") -> list:
        """Fields that differ from a saved run's config, except those a resume may change."""
        mine, theirs = self.to_dict(), saved.to_dict()
        for name, keywords in PATH_FIELDS.items():
            mine[name], theirs[name] = _as_path(mine[name], keywords), _as_path(theirs.get(name), keywords)
        changed = [name for name in mine if name not in RESUMABLE_CHANGES and mine[name] != theirs.get(name)]
        if self.then and self.epochs != saved.epochs:  # with a second stage, --epochs is where it begins
            changed.append("epochs")
        return changed


def endpoint_parts(endpoint) -> tuple:
    """(host, port) of ``--rdzv-endpoint HOST:PORT``; else the one-line error."""
    text = endpoint if isinstance(endpoint, str) else ""
    host, _, port = text.strip().rpartition(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise CnncostError(f"--rdzv-endpoint: {endpoint!r} is out of range (need HOST:PORT, the port from 1 "
                           "to 65,535)")
    return host.strip("[]"), int(port)


def _as_path(value, keywords: tuple):
    """A path field made comparable: ./data, data and /abs/data are one folder; keywords stay as they are."""
    if not isinstance(value, str) or value in keywords or not value:
        return value
    return os.path.realpath(os.path.expanduser(value))


def _need(ok: bool, option: str, value, allowed: str) -> None:
    if not ok:
        raise CnncostError(f"{option}: {value!r} is out of range (need {allowed})")


def _integer(value, option: str, low: int, high: int | None = None) -> None:
    """An int (not a bool) with low ≤ value (≤ high): else the one-line error stating the range."""
    allowed = f"an integer ≥ {low:,}" if high is None else f"an integer from {low:,} to {high:,}"
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= low and (high is None or value <= high)
    if not ok:
        raise CnncostError(f"{option}: {_shown(value)} is out of range (need {allowed})")


def _number(value, option: str, allowed: str, ok) -> None:
    """A finite real number for which ``ok`` holds: NaN and ±inf fail every range."""
    is_real = isinstance(value, (int, float)) and not isinstance(value, bool)
    try:
        finite = is_real and math.isfinite(value)
    except OverflowError:  # an int beyond every float
        finite = False
    if not finite or not ok(value):
        raise CnncostError(f"{option}: {_shown(value)} is out of range (need {allowed})")


def _shown(value) -> str:
    """A value for an error line: digit groups for ints, never hundreds of digits."""
    if isinstance(value, int) and not isinstance(value, bool):
        digits = len(str(abs(value)))
        return f"{value:,}" if digits <= 30 else f"a {digits}-digit integer"
    return repr(value)
