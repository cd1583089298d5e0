"""One training epoch of global steps: several processes, several micro-batches per step, or both.

The gradient of each step is the one-process gradient of its whole global batch, exactly: each
micro-batch's loss is (sum of its per-sample losses) × world / images-in-the-step; DDP averages over
the world and accumulation sums over micro-batches, which leaves the mean over the step's images,
whatever the slices' sizes. Only the last micro-batch of a step all-reduces (``no_sync`` before).

Unreadable images are dropped from their micro-batch as in one process; the step's image count is
then summed over the processes before the first backward. A step in which some process would run an
empty micro-batch is skipped by every process (its collectives would not match); the epoch's row says
how many were.

A run of one process with one micro-batch never comes here: ``loop.train_epoch`` trains it, as before.
"""

from __future__ import annotations

import contextlib
import time

from .augment import loss_of
from .loop import Runtime, Step, clip, logits_of, on_device
from .metrics import ClassificationMeter


def train_steps(step: Step, plan, batches, runtime: Runtime, meter: ClassificationMeter, world,
                progress=None) -> dict:
    """Train once over ``plan`` (a ``sharding.EpochPlan``) whose micro-batches ``batches`` yields in order.

    ``step.criterion`` gives per-sample losses (``reduction='none'``); ``step.ddp`` is the
    DistributedDataParallel wrapper, or None when the gradients are averaged here (the cached head).
    Returns the meter's result over every process, images (all processes) and seconds (the slowest).
    """
    meter.reset()
    feed = iter(batches)
    done = {"images": 0, "loss": 0.0, "correct": 0, "skipped": 0}
    start = time.perf_counter()
    for planned in plan.steps:
        loaded = [next(feed) for _ in planned.micro]
        for _, _, bad, *_ in loaded:
            runtime.note_bad(bad)
        mine = [(inputs, labels, plan) for inputs, labels, _, *plan in loaded]  # plan: augmented batches only
        images, empty = world.sum_ints([sum(len(labels) for _, labels, _ in mine),
                                        int(any(len(labels) == 0 for _, labels, _ in mine))])
        if images == 0:  # nothing readable in the whole step: no step, as in one process
            continue
        if empty:
            done["skipped"] += 1
            continue
        _one_step(step, mine, images, runtime, meter, world, done)
        if progress is not None:
            progress.advance(done["loss"] / done["images"], done["correct"] / done["images"],
                             done["images"] / (time.perf_counter() - start))
    runtime.synchronize()
    seconds = world.max_float(time.perf_counter() - start)
    world.reduce_meter(meter)
    total, skipped = world.sum_ints([done["images"], done["skipped"]])
    return {**meter.result(), "images": total, "seconds": seconds, "skipped_steps": skipped // world.size}


def _one_step(step: Step, micro: list, images: int, runtime: Runtime, meter, world, done: dict) -> None:
    """Forward and backward every micro-batch of one step (only the last one all-reduces), then update."""
    step.optimizer.zero_grad(set_to_none=True)
    scale = world.size / images
    for index, (inputs, labels, plan) in enumerate(micro):
        last = index == len(micro) - 1
        quiet = step.ddp.no_sync() if step.ddp is not None and not last else contextlib.nullcontext()
        with quiet:
            inputs, targets, labels = on_device(runtime, inputs, labels, plan)
            with runtime.autocast():
                logits = logits_of(step.forward(inputs)).float()
            losses = loss_of(step.criterion, logits, targets)  # per sample, mixed ones included
            (losses.sum() * scale).backward()
        loss_sum = losses.detach().sum()
        meter.update(logits.detach(), labels, loss_sum)
        done["images"] += len(labels)
        done["loss"] += float(loss_sum)
        done["correct"] += int((logits.detach().argmax(1) == labels).sum())
    if step.ddp is None:
        world.average_gradients(step.parameters)
    clip(step)
    step.optimizer.step()
    step.scheduler.step()
    if step.average is not None:  # --ema: once per optimizer step, however many micro-batches it had
        step.average.update()
