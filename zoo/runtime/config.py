"""The configuration of one training run: every option of ``cnncost train``, as data.

The same record is written into every checkpoint and into ``metrics.json``, so
a run can be resumed (``--resume`` refuses a changed configuration, naming the
field) and evaluated later without repeating its options.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field

from cnncost.arch import ParameterError

from .choices import DEVICES, RESIZES  # --device's and --resize's words, shared with evaluate and show
from .fields import Choice, Integer, Real, Switch, check_field, check_fields, option

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


# The option texts that are more than a phrase.
AUGMENT_HELP = ("training augmentation, on the batch's device: a comma-separated list of hflip, vflip (each p = 0.5), "
                "rotate=F (up to ±F of a full turn, Keras RandomRotation's factor), crop=A (random resized crop "
                "keeping ≥ A of the area), pad-crop=P (pad P pixels, crop back), jitter=S (brightness, contrast and "
                "saturation; or brightness=S, contrast=S, saturation=S), mixup=ALPHA, cutmix=ALPHA; alone: "
                "crop=0.35,hflip,brightness=0.2,contrast=0.2")
LOG_HELP = ("where the run's records go, comma-separated: console (the lines and the epoch table), jsonl "
            "(RUN/events.jsonl), csv (RUN/epochs.csv), tensorboard (RUN/tensorboard/; pip install tensorboard); "
            "e.g. console,jsonl")
MONITOR_HELP = ("the epoch metric that picks best.pt and drives --patience: " + " | ".join(MONITORS)
                + " (macro)")
POSITIVE = Real(0, low_open=True)  # a finite number > 0
RATE = Real(0, 1)  # 0 ≤ value < 1


@dataclass
class TrainConfig:
    """One training run (defaults follow the reports' best settings where they state them).

    Every field but ``arch`` and ``hyperparameters`` is a ``cnncost train`` option, declared here once
    (``fields.option``: help line, range, spelling); ``check`` tests the ranges and what joins fields.
    """

    arch: str  # zoo name (zoo. prefix accepted) or architecture file
    strategy: str = option("scratch", "scratch | last-layer | head (the classifier top) | partial:K | full")
    data: str = option("synthetic", "image folder (train/<class>/*, optional val/ or test/) or 'synthetic'",
                       searchable=False)
    epochs: int = option(10, "training epochs", Integer(1))
    batch_size: int = option(32, "images per step", Integer(1))
    lr: float = option(1e-3, "peak learning rate", POSITIVE)
    img_size: int | None = option(None, "input side S (H = W = S, as formulas write it); default: the network's",
                                  Integer(1, IMG_SIZE_MAX), flags=("--img-size", "--hw"))
    weights: str = option("none", "checkpoint PATH, 'imagenet' (torch hub cache) or 'none'")
    out: str = option("runs", "run folder (checkpoints, metrics.json, plots); default runs/NAME-STRATEGY-TIME",
                      cli_default=None, searchable=False)
    device: str = option("auto", "auto | cpu | cuda", Choice(DEVICES))
    resume: bool = option(False, "continue the run saved in --out", Switch(), searchable=False)
    # everything random derives from it: init, split, order, augmentation
    seed: int = option(0, "seed for init, split, order and augmentation", Integer(0, SEED_MAX))
    hyperparameters: dict = field(default_factory=dict)  # the architecture's own (m, k, n, org, bn, ...)
    optimizer: str = option("adam", "adam | adamw | sgd", Choice(OPTIMIZERS))
    momentum: float = option(0.9, "sgd momentum", RATE)
    nesterov: bool = option(False, "sgd with Nesterov momentum", Switch())
    weight_decay: float = option(0.0, "L2 penalty (decoupled for adamw)", Real(0))
    schedule: str = option("constant", "constant | cosine | onecycle | step", Choice(SCHEDULES))
    warmup_epochs: float = option(0.0, "linear warmup length in epochs", Real(0))
    step_size: int = option(10, "step schedule: epochs per decay", Integer(1))
    gamma: float = option(0.1, "step schedule: decay factor", Real(0, 1, low_open=True, high_open=False))
    clip_grad: float | None = option(None, "max gradient norm", POSITIVE)
    clip_value: float | None = option(None, "clamp every gradient element to ±VALUE (after --clip-grad)", POSITIVE)
    monitor: str = option("val_acc", MONITOR_HELP, Choice(tuple(MONITORS)))
    label_smoothing: float = option(0.0, "label smoothing in [0, 1)", RATE)
    # scratch5 and the other networks with a dropout parameter: their dropout layers' rate
    dropout: float | None = option(None, "dropout rate (the network's dropout layers)", RATE)
    dropout_at: str | None = option(None, "add a Dropout(--dropout) before these layers (comma-separated engine "
                                          "names, e.g. conv1,fc)", metavar="LAYERS")
    # --augment SPEC: the training augmentation (augment.py), held as canonical text ("" none); a run folder's
    # old true/false reads as the default recipe / none. Given alone, the option is the default recipe.
    augment: str = option("", AUGMENT_HELP, metavar="[SPEC]", cli_default=None)
    resize: str = option("crop", "every split: crop (shorter side to S·256/224, centre crop S×S) or plain "
                                 "(straight to S×S, aspect not kept, as Keras)", Choice(RESIZES),
                         metavar="crop|plain")
    # last-layer: train the head on cached backbone features
    cache: bool = option(True, "keep decoded images (last-layer: backbone features) in memory across epochs",
                         Switch())
    patience: int | None = option(None, "early stopping after this many epochs without a better --monitor value",
                                  Integer(1))
    val_fraction: float = option(0.2, "stratified validation share of train/", Real(0, 1, low_open=True))
    workers: int | None = option(None, "data-loading processes (default: 8 on CUDA, 0 on CPU)",
                                 Integer(0, WORKERS_MAX))
    amp: bool | None = option(None, "bf16 autocast (default: on for CUDA)", Switch())
    channels_last: bool | None = option(None, "NHWC memory format (default: on for CUDA)", Switch())
    compile: bool = option(False, "torch.compile the model", Switch())
    topk: int = option(5, "k of the top-k accuracy", Integer(1))
    synthetic_size: int = option(2000, "images in --data synthetic", Integer(20, SYNTHETIC_MAX))
    quiet: bool = option(False, "no progress output", Switch(), searchable=False)
    plots: bool = option(True, "write the PNGs: the class distribution at the start; curves, class scores, "
                               "confusion, predictions and filters at the end", Switch())
    # A second stage in the same run (Keras users' recipe: train the new head, then fine-tune all):
    # after ``epochs`` epochs, ``then_epochs`` more under strategy ``then`` at learning rate ``then_lr``.
    # Their ranges depend on one another: _check_then.
    then: str | None = option(None, "a second stage after --epochs (e.g. --strategy head --then full)",
                              metavar="STRATEGY")
    then_epochs: int = option(0, "epochs of the --then stage")
    then_lr: float | None = option(None, "peak learning rate of the --then stage (default: --lr / 10)")
    # Data-parallel training (docs/training.md, "More than one GPU or machine"): ``batch_size`` stays the
    # global batch of one optimizer step, shared out over nproc_per_node × nnodes processes, each running
    # its share in ``accumulate`` micro-batches.
    nproc_per_node: int = option(1, "training processes on this machine (one per GPU with --device cuda), "
                                    "started through torchrun's engine; --batch-size stays the global batch of "
                                    "one step", Integer(1, PROCESSES_MAX))
    nnodes: int = option(1, "machines taking part (each runs the same command)", Integer(1, PROCESSES_MAX))
    # 0 hosts the rendezvous
    node_rank: int = option(0, "this machine's rank, 0 .. --nnodes - 1", Integer(0, lambda c: c.nnodes - 1))
    rdzv_endpoint: str | None = option(None, "machine 0's address, the same on every machine", metavar="HOST:PORT")
    rdzv_timeout: int = option(120, "seconds to wait for every machine", Integer(1, RDZV_TIMEOUT_MAX))
    sync_bn: bool = option(False, "BatchNorm statistics over the global batch", Switch())
    accumulate: int = option(1, "micro-batches per process and step (gradient accumulation)",
                             Integer(1, ACCUMULATE_MAX), metavar="K")
    # --ema DECAY: an exponential moving average of the weights (and BatchNorm statistics), updated after every
    # optimizer step; validation, early stopping, best.pt and the final evaluation use it. None: off.
    ema: float | None = option(None, "keep an exponential moving average of the weights and BatchNorm statistics "
                                     "(0 < DECAY < 1, e.g. 0.999), updated after every optimizer step; "
                                     "validation, early stopping, best.pt and the final evaluation use the average",
                               Real(0, 1, low_open=True, word="DECAY", lead="a decay with "), metavar="DECAY")
    # a 2-class dataset trained with a 1-output head, sigmoid + BCE (class 1 positive)
    binary: bool = option(False, "a 2-class dataset with one output unit, sigmoid + binary cross-entropy (class 1, "
                                 "the second class name in sorted order, is the positive one)", Switch())
    # --log: where the run's events go (sinks.py)
    log: str = option("console", LOG_HELP, metavar="SINKS", searchable=False)

    def __post_init__(self):
        # One spelling per augmentation (order, defaults written out), so a resume compares recipes, not text.
        from .augment_spec import normalised

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
        """Validate types and ranges; each problem is a one-line ``ParameterError`` naming the field and its range.

        The ranges are the fields' declarations (``fields.check_fields``); then what joins fields: the
        second stage, the data-parallel share of the batch, the augmentation and log specs, the run folder.
        Every float must be finite: ``--lr inf`` or ``--momentum nan`` would train to NaN weights and still
        exit 0.
        """
        check_fields(self)
        self._check_dropout_at()
        self._check_specs()
        self._check_then()
        self._check_parallel()
        if not isinstance(self.out, (str, os.PathLike)) or not os.fspath(self.out).strip():
            raise ParameterError("out", "empty; need the name of a run folder (new, empty, or a run to {listed})",
                                 ("resume",))
        return self

    def _check_dropout_at(self) -> None:
        """--dropout-at parses into layer names, and comes with the rate (--dropout)."""
        if self.dropout_at is None:
            return
        if not isinstance(self.dropout_at, str):
            raise ParameterError("dropout_at", f"{self.dropout_at!r} is not a comma-separated list of layer names")
        _ = self.dropout_layers  # parses, or the one-line error
        if self.dropout is None:
            raise ParameterError("dropout_at", "give the rate with {listed} P", ("dropout",))

    def _check_specs(self) -> None:
        """--augment parses (the one-line error names the transform and its range); --log names known sinks,
        and tensorboard's package is there when it is one of them."""
        from .augment_spec import parse
        from .log_spec import parse_names, require_tensorboard

        parse(self.augment)
        if "tensorboard" in parse_names(self.log):
            require_tensorboard()

    def _check_then(self) -> None:
        """The second stage's options: all or none of them, and a stage that fine-tunes."""
        if self.then is None:
            if self.then_epochs or self.then_lr is not None:
                raise ParameterError(("then_epochs", "then_lr"), "give {listed} STRATEGY for the second stage",
                                     ("then",))
            return
        from cnncost.finetune import parse_strategy

        try:
            second = parse_strategy(self.then)
        except ParameterError as error:  # it names strategy; here the strategy is the second stage's
            raise ParameterError("then", error.complaint, error.listed) from None
        if second.kind == "scratch":
            raise ParameterError("then", "scratch would discard the first stage; choose last-layer, head, "
                                         "partial:K or full")
        check_field(self, "then_epochs", Integer(1))
        if self.then_lr is not None:
            check_field(self, "then_lr", POSITIVE)
        if self.patience is not None:
            raise ParameterError("patience", "not with {listed} (each stage runs all its epochs)", ("then",))

    def _check_parallel(self) -> None:
        """The rendezvous endpoint, and a global batch that shares out evenly over processes and micro-batches."""
        if self.nnodes > 1 or self.rdzv_endpoint is not None:
            endpoint_parts(self.rdzv_endpoint)
        if self.nnodes > 1 and self.rdzv_endpoint is None:
            raise ParameterError("rdzv_endpoint", f"{self.nnodes} machines need HOST:PORT of machine 0 "
                                                  "(the same on every machine)")
        processes, parts = self.world_size, self.world_size * self.accumulate
        if self.batch_size % parts:
            low = self.batch_size - self.batch_size % parts
            nearest = f"{low:,} or {low + parts:,}" if low else f"{parts:,}"
            raise ParameterError("batch_size", f"{self.batch_size:,} does not share out over {processes:,} "
                                               f"process{'es' if processes > 1 else ''} × {self.accumulate:,} "
                                               f"micro-batch{'es' if self.accumulate > 1 else ''} (need a "
                                               f"multiple of {parts:,}: {nearest})")

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
        assert self.then is not None  # only a run with a second stage has one
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
        raise ParameterError("rdzv_endpoint", f"{endpoint!r} is out of range (need HOST:PORT, the port "
                                              "from 1 to 65,535)")
    return host.strip("[]"), int(port)


def _as_path(value, keywords: tuple):
    """A path field made comparable: ./data, data and /abs/data are one folder; keywords stay as they are."""
    if not isinstance(value, str) or value in keywords or not value:
        return value
    return os.path.realpath(os.path.expanduser(value))
