"""Will the run fit in memory? The engine's exact step figures, computed before torch allocates.

``--img-size 100000`` would otherwise build a module with billions of parameters, or a first batch of
terabytes, and die with MemoryError (or be killed by the kernel).

The figure is ``cnncost.trainstep``'s ``peak_lower_bound`` of the run's step (its strategy, batch,
optimizer, autocast dtype and device): what the step must hold at one moment — parameters, buffers and
optimizer state, with every saved tensor at the start of backward, or the gradients at the optimizer's
step, or a layer's input and output while it runs. It leaves out gradient temporaries, workspace and
allocator slack, so it is a lower bound: a run refused by it could not have run.

When the step cannot be analysed (a layer whose saved tensors are not modelled, a BatchNorm that
would see one value per channel) or the caller gives no step, the older rough bound is used, in
float32 bytes:

* parameters × 4: the weights, their gradients and two optimiser moments;
* batch × (input + every layer's output) × 2: the activations the forward pass keeps for backward,
  and their gradients.

``--ema`` keeps one more copy of the model all run long (``torch.optim.swa_utils.AveragedModel``): every
parameter and buffer as torch holds them, and the average's step counter (one int64). It is added to both
figures exactly (``WithAverage``; the rough bound adds the parameters' float32 bytes).
"""

from __future__ import annotations

import os

from cnncost.arch import ParameterError
from cnncost.errors import CnncostError
from cnncost.trainstep import Step, StepCost, analyze_step, parse_step

BYTES = 4  # float32
COUNTER_BYTES = 8  # AveragedModel's n_averaged: a 0-d int64 buffer
GIB = 2**30
MIB = 2**20


def step_optimizer(config) -> str:
    """The trainstep optimizer ``config`` (a TrainConfig) builds (optim.make_optimizer): SGD keeps a
    momentum buffer only when its momentum is non-zero; Adam and AdamW keep two moments and a step."""
    if config.optimizer == "sgd":
        return "momentum" if config.momentum > 0 else "sgd"
    return config.optimizer


def run_step(config, device: str, amp: bool, strategy: str | None = None) -> Step:
    """The step a run takes: ``config``'s strategy (or ``strategy``, a second stage's), batch and optimizer,
    bf16 when ``amp`` (loop.Runtime autocasts to bf16) else fp32, on ``device`` ("cpu" or "cuda"), and its loss
    (``--binary``: BCE on the 1-output head)."""
    return parse_step(strategy or config.strategy, config.micro_batch, step_optimizer(config),
                      "bf16" if amp else "fp32", device, "binary" if getattr(config, "binary", False)
                      else "cross-entropy")


class WithAverage:
    """A ``StepCost`` with ``--ema``'s averaged copy of the model resident beside it: ``average_bytes`` more in
    train-bytes and in the peak, nothing more saved for backward (the copy never runs a training forward)."""

    def __init__(self, cost: StepCost):
        self.cost = cost
        self.average_bytes = average_bytes(cost)

    @property
    def train_bytes(self):
        """The step's train-bytes plus the averaged copy."""
        return self.cost.train_bytes + self.average_bytes

    def peak_lower_bound(self, batch: int) -> int:
        """The step's lower bound on its peak plus the averaged copy, which is alive throughout."""
        return self.cost.peak_lower_bound(batch) + self.average_bytes

    def __getattr__(self, name: str):
        # Everything else (saved bytes, FLOPs, the step, its layers) is the step's own.
        return getattr(self.cost, name)


def average_bytes(cost: StepCost) -> int:
    """Bytes of ``--ema``'s AveragedModel: a copy of every parameter and buffer, and its int64 step counter."""
    return cost.state.params + cost.state.buffers + COUNTER_BYTES


def step_cost(table, step: Step, ema: bool = False) -> StepCost | WithAverage | None:
    """The exact cost of ``step`` on ``table`` (an engine CostTable), with ``--ema``'s averaged copy when ``ema``;
    None when it cannot be analysed."""
    try:
        cost = analyze_step(table, step)
    except CnncostError:  # not modelled, or refused as torch would refuse it: no exact figure
        return None
    return WithAverage(cost) if ema else cost


def training_bytes(table, batch_size: int) -> int:
    """The older rough bound above for one training step of ``batch_size`` images (``table``: CostTable)."""
    rows = [row for row in table.layers if not row.auxiliary]
    params = sum(int(row.params) for row in table.layers)
    inputs = 1
    for side in table.network.input_shape:
        inputs *= int(side)
    activations = inputs + sum(int(row.activations) for row in rows)
    return BYTES * (4 * params + 2 * batch_size * activations)


def available_bytes(device: str) -> int | None:
    """The memory a run may use on ``device`` ("cpu" or "cuda"): physical RAM or the GPU's total."""
    if device == "cuda":
        import torch

        if torch.cuda.is_available():
            return int(torch.cuda.mem_get_info()[1])
        return None
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not every platform reports it
        return None


def needed_bytes(table, batch_size: int, step: Step | None = None, ema: bool = False) -> tuple:
    """(bytes, what they are): the exact step's lower bound on its peak when it can be analysed, else the rough
    bound; with ``ema``, the averaged copy of the model on top."""
    cost = step_cost(table, step, ema) if step is not None else None
    if cost is None:
        copy = BYTES * sum(int(row.params) for row in table.layers) if ema else 0
        return training_bytes(table, batch_size) + copy, "rough bound"
    assert step is not None  # a cost is only computed for a step
    return int(cost.peak_lower_bound(step.batch)), f"held at once by the step, {step.optimizer} {step.dtype}"


def check_fits(table, batch_size: int, device: str, size: int, arch: str, step: Step | None = None,
               ema: bool = False) -> None:
    """Refuse a run whose need exceeds ``device``'s memory, stating both numbers. ``step``: the run's step
    (``run_step``), for the exact figure; without it, or when it cannot be analysed, the rough bound. ``ema``:
    the run keeps an averaged copy of the model (``--ema``)."""
    if step is not None and step.batch != batch_size:
        raise ValueError(f"check_fits: the step's batch {step.batch} is not --batch-size {batch_size}")
    have = available_bytes(device)
    if have is None:
        return
    need, basis = needed_bytes(table, batch_size, step, ema)
    if need > have:
        where = "GPU memory" if device == "cuda" else "memory"
        raise ParameterError("img_size", f"{arch} at {size}×{size} with {{param:batch_size}} {batch_size} needs "
                                         f"at least {need / GIB:,.1f} GiB ({basis}), more than this machine's "
                                         f"{have / GIB:,.1f} GiB of {where}; use a smaller {{param:img_size}} or "
                                         "{param:batch_size}")


def human_bytes(count: int) -> str:
    """Bytes for a console line: MiB below a GiB, else GiB, one decimal ('15.8 MiB', '2.3 GiB')."""
    return f"{count / MIB:,.1f} MiB" if count < GIB else f"{count / GIB:,.1f} GiB"
