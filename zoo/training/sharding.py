"""Which images each process trains on in each step: pure functions of the epoch order and the world.

The epoch's order (``run.epoch_order``, a function of seed and epoch alone) is cut into global steps
of ``batch`` consecutive indices, as one process cuts it into batches. Process ``r`` of ``world`` takes
the r-th of ``world`` near-equal slices of each step, and runs its slice in ``accumulate`` near-equal
micro-batches. So the images of one step, over all processes, are exactly the one-process batch,
and the same order gives the same steps on any machine.

Every process must run the same number of micro-batches per step (SyncBatchNorm and DDP's gradient
all-reduce are collectives), so a short last step with fewer than world × accumulate images is
dropped by every process alike; ``dropped`` says how many images that is.
"""

from __future__ import annotations

from typing import NamedTuple


class Step(NamedTuple):
    """One optimizer step as one process sees it."""

    images: int  # images in the whole global step (every process's share together)
    micro: tuple  # this process's micro-batches: tuples of dataset indices, never empty


class EpochPlan(NamedTuple):
    """One epoch's steps for one process, and the images no process trains on."""

    steps: tuple
    dropped: int  # the short last step's images, when too few to give every micro-batch one


def bounds(count: int, parts: int) -> list:
    """``parts`` near-equal (start, stop) slices of ``range(count)``, in order (sizes differ by ≤ 1)."""
    return [(part * count // parts, (part + 1) * count // parts) for part in range(parts)]


def step_sizes(count: int, batch: int, world: int, accumulate: int) -> tuple:
    """(images in each global step of an epoch of ``count`` images, images dropped at its end)."""
    full, short = divmod(count, batch)
    sizes = [batch] * full
    if short >= world * accumulate:
        sizes.append(short)
        short = 0
    return tuple(sizes), short


def epoch_plan(order: list, batch: int, world: int, rank: int, accumulate: int) -> EpochPlan:
    """Process ``rank``'s micro-batches of every step of an epoch in ``order``."""
    sizes, dropped = step_sizes(len(order), batch, world, accumulate)
    steps, start = [], 0
    for size in sizes:
        low, high = bounds(size, world)[rank]
        mine = order[start + low:start + high]
        micro = tuple(tuple(mine[a:b]) for a, b in bounds(len(mine), accumulate))
        steps.append(Step(size, micro))
        start += size
    return EpochPlan(tuple(steps), dropped)


def shard(count: int, world: int, rank: int) -> list:
    """Process ``rank``'s contiguous share of ``range(count)`` (validation: each image evaluated once)."""
    low, high = bounds(count, world)[rank]
    return list(range(low, high))
