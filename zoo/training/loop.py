"""One training epoch and one evaluation pass, for a module or for a head on cached features.

Batches are ``(inputs, labels, bad_paths)``: the data pipeline drops images it
cannot decode and names them, and the loop reports each such file once. A batch
of augmented training images has a fourth element, its ``augment.BatchPlan``:
it is applied once the batch is on the device, before the forward (``on_device``).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, NamedTuple

import torch
from torch import nn

from .augment import apply as apply_augmentation
from .augment import labels_of, loss_of
from .metrics import ClassificationMeter
from .sample import GridSample

if TYPE_CHECKING:  # for an annotation: the loop runs with whatever average setup made, ema imported there
    from ..runtime.ema import WeightAverage


@dataclass
class Runtime:
    """Where and how tensors run (decided once per run)."""

    device: torch.device
    amp: bool  # bf16 autocast
    channels_last: bool  # NHWC memory format for 4-D inputs
    bad_files: set = field(default_factory=set)  # undecodable images reported so far
    warn: Callable[[str], object] = print  # how a new bad file is reported (one line each)

    def autocast(self):
        """bf16 autocast on this device when amp is on, else nothing."""
        if not self.amp:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def inputs(self, tensor: torch.Tensor) -> torch.Tensor:
        """Move a batch to the device (non-blocking from pinned memory), NHWC when asked."""
        tensor = tensor.to(self.device, non_blocking=True)
        if self.channels_last and tensor.dim() == 4:
            tensor = tensor.contiguous(memory_format=torch.channels_last)
        return tensor

    def note_bad(self, paths: list) -> None:
        """Report each undecodable file the first time it is met."""
        for path in paths:
            if path not in self.bad_files:
                self.bad_files.add(path)
                self.warn(f"skipped unreadable image: {path}")

    def synchronize(self) -> None:
        """Wait for queued GPU work (so timings measure the work, not its queueing)."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)


class Step(NamedTuple):
    """What one optimisation step needs."""

    # the whole model, or the classifier alone on cached features (a module, or torch.compile's wrapper of one,
    # or a memory probe's function around it: run.py)
    forward: Callable[..., Any]
    optimizer: torch.optim.Optimizer
    # an LRScheduler; setup's memory probes pass None and never reach an optimizer step
    scheduler: Any
    # mean cross-entropy, or --binary's BCE (model.BinaryCrossEntropy); label smoothing; a function of (logits,
    # labels) in a memory probe
    criterion: Callable[..., Any]
    clip_grad: float | None
    parameters: list  # the trainable parameters (for clipping)
    # Several processes: the DistributedDataParallel wrapper ``forward`` runs (its ``no_sync``), and
    # ``criterion`` gives per-sample losses (steps.train_steps scales them); None in one process.
    ddp: nn.parallel.DistributedDataParallel | None = None
    clip_value: float | None = None  # clamp every gradient element to ±clip_value (after the norm clip)
    average: WeightAverage | None = None  # --ema: the ema.WeightAverage folded in after every optimizer step, or None


def clip(step: Step) -> None:
    """--clip-grad (the global norm), then --clip-value (each element), on the trainable gradients."""
    if step.clip_grad:
        nn.utils.clip_grad_norm_(step.parameters, step.clip_grad)
    if step.clip_value:
        nn.utils.clip_grad_value_(step.parameters, step.clip_value)


def on_device(runtime: Runtime, inputs: torch.Tensor, labels: torch.Tensor, plan: list) -> tuple:
    """(inputs, loss targets, labels the metrics count) of a training batch, on the device.

    ``plan`` is the batch's elements after the third: empty, or its ``augment.BatchPlan``, which is
    applied here, on the device and before the forward; with mixup/cutmix the targets are
    ``augment.Mixed`` and the metrics count each image's dominant label.
    """
    labels = labels.to(runtime.device, non_blocking=True)
    if not plan:
        return runtime.inputs(inputs), labels, labels
    augmented, targets = apply_augmentation(plan[0], inputs.to(runtime.device, non_blocking=True), labels)
    return runtime.inputs(augmented), targets, labels_of(targets)  # channels_last after the augmentation


def logits_of(output) -> torch.Tensor:
    """The main logits of a model output (auxiliary outputs, if any, come after them)."""
    return output[0] if isinstance(output, tuple) else output


def train_epoch(step: Step, batches, runtime: Runtime, meter: ClassificationMeter, progress=None) -> dict:
    """Train over ``batches`` once; returns the meter's result plus images and seconds."""
    meter.reset()
    images, loss_total, correct, start = 0, 0.0, 0, time.perf_counter()
    for inputs, labels, bad, *plan in batches:
        runtime.note_bad(bad)
        if len(labels) == 0:
            continue
        inputs, targets, labels = on_device(runtime, inputs, labels, plan)
        with runtime.autocast():
            logits = logits_of(step.forward(inputs)).float()
        loss = loss_of(step.criterion, logits, targets)
        step.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        clip(step)
        step.optimizer.step()
        step.scheduler.step()
        if step.average is not None:
            step.average.update()
        batch_loss = loss.item() * len(labels)
        meter.update(logits.detach(), labels, batch_loss)
        images += len(labels)
        loss_total += batch_loss
        correct += int((logits.detach().argmax(1) == labels).sum())
        if progress is not None:
            progress.advance(loss_total / images, correct / images, images / (time.perf_counter() - start))
    runtime.synchronize()
    seconds = time.perf_counter() - start  # the steps only, as steps.train_steps: not the epoch's metrics
    return {**meter.result(), "images": images, "seconds": seconds}


@torch.no_grad()
def evaluate(forward: Callable[..., Any], batches, runtime: Runtime, meter: ClassificationMeter, keep: int = 0,
             seed: int = 0) -> dict:
    """Evaluate over ``batches``; ``keep`` inputs, a stratified sample drawn by ``seed``
    (``sample.GridSample``: every class when they fit), are returned with their predictions.

    Returns the meter's result plus ``kept`` = (inputs on CPU, true labels, predicted labels),
    sorted by class; (None, [], []) when nothing was kept.
    """
    meter.reset()
    sample = GridSample(meter.num_classes, keep, seed)
    criterion = nn.CrossEntropyLoss(reduction="sum")
    for inputs, labels, bad in batches:
        runtime.note_bad(bad)
        if len(labels) == 0:
            continue
        device_inputs, labels_on = runtime.inputs(inputs), labels.to(runtime.device)
        with runtime.autocast():
            logits = logits_of(forward(device_inputs)).float()
        meter.update(logits, labels_on, criterion(logits, labels_on).item())
        if keep:
            sample.add(inputs.cpu(), labels.tolist(), logits.argmax(1).tolist())
    return {**meter.result(), "kept": sample.result()}
