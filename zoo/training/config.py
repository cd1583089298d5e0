"""The configuration of one training run: every option of ``cnncost train``, as data.

The same record is written into every checkpoint and into ``metrics.json``, so
a run can be resumed (``--resume`` refuses a changed configuration, naming the
field) and evaluated later without repeating its options.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from cnncost.errors import CnncostError

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "cosine", "onecycle", "step")
DEVICES = ("auto", "cpu", "cuda")
# Fields that may differ when a run is resumed: how long it runs and how it is watched.
RESUMABLE_CHANGES = frozenset({"epochs", "patience", "resume", "quiet", "workers"})


@dataclass
class TrainConfig:
    """One training run (defaults follow the reports' best settings where they state them)."""

    arch: str  # zoo name (zoo. prefix accepted) or architecture file
    strategy: str = "scratch"  # scratch | last-layer | partial:K | full
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
    label_smoothing: float = 0.0
    dropout: float | None = None  # override every dropout layer's rate (scratch5: its own option)
    augment: bool = False  # random resized crop, flip and jitter on training images
    cache: bool = True  # last-layer: train the head on cached backbone features
    patience: int | None = None  # early stopping: epochs without a better val accuracy
    val_fraction: float = 0.2  # stratified share of train/ used for validation
    workers: int | None = None  # data-loading processes; None: 0 on CPU, up to 8 on CUDA
    amp: bool | None = None  # bf16 autocast; None: on for CUDA
    channels_last: bool | None = None  # None: on for CUDA
    compile: bool = False  # torch.compile the model
    topk: int = 5  # the k of top-k accuracy
    synthetic_size: int = 2000  # images in the synthetic dataset (train + val)
    quiet: bool = False  # no console output (tests)

    def to_dict(self) -> dict:
        """A JSON-ready dict of every field."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        """The config saved by ``to_dict`` (unknown keys from newer versions ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})

    def check(self) -> "TrainConfig":
        """Validate ranges; each problem is a one-line error naming the option."""
        _need(self.epochs >= 1, "--epochs", self.epochs, "an integer ≥ 1")
        _need(self.batch_size >= 1, "--batch-size", self.batch_size, "an integer ≥ 1")
        _need(self.lr > 0, "--lr", self.lr, "a number > 0")
        _need(self.img_size is None or self.img_size >= 1, "--img-size", self.img_size, "an integer ≥ 1")
        _need(self.optimizer in OPTIMIZERS, "--optimizer", self.optimizer, "one of " + ", ".join(OPTIMIZERS))
        _need(self.schedule in SCHEDULES, "--schedule", self.schedule, "one of " + ", ".join(SCHEDULES))
        _need(self.device in DEVICES, "--device", self.device, "one of " + ", ".join(DEVICES))
        _need(self.weight_decay >= 0, "--weight-decay", self.weight_decay, "a number ≥ 0")
        _need(self.warmup_epochs >= 0, "--warmup-epochs", self.warmup_epochs, "a number ≥ 0")
        _need(0 <= self.label_smoothing < 1, "--label-smoothing", self.label_smoothing, "0 ≤ value < 1")
        _need(self.dropout is None or 0 <= self.dropout < 1, "--dropout", self.dropout, "0 ≤ value < 1")
        _need(self.clip_grad is None or self.clip_grad > 0, "--clip-grad", self.clip_grad, "a number > 0")
        _need(self.patience is None or self.patience >= 1, "--patience", self.patience, "an integer ≥ 1")
        _need(0 < self.val_fraction < 1, "--val-fraction", self.val_fraction, "0 < value < 1")
        _need(self.workers is None or self.workers >= 0, "--workers", self.workers, "an integer ≥ 0")
        _need(self.topk >= 1, "--topk", self.topk, "an integer ≥ 1")
        _need(self.step_size >= 1, "--step-size", self.step_size, "an integer ≥ 1")
        _need(0 < self.gamma <= 1, "--gamma", self.gamma, "0 < value ≤ 1")
        _need(self.synthetic_size >= 20, "--synthetic-size", self.synthetic_size, "an integer ≥ 20")
        return self

    def changed_fields(self, saved: "TrainConfig") -> list:
        """Fields that differ from a saved run's config, except those a resume may change."""
        mine, theirs = self.to_dict(), saved.to_dict()
        return [name for name in mine if name not in RESUMABLE_CHANGES and mine[name] != theirs.get(name)]


def _need(ok: bool, option: str, value, allowed: str) -> None:
    if not ok:
        raise CnncostError(f"{option}: {value!r} is out of range (need {allowed})")
