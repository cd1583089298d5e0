"""Training FLOPs per image, from the engine's per-layer forward counts.

Forward FLOPs are the engine's ``flops`` convention (2 × MACs of conv and
linear layers; see docs/conventions.md). The backward pass is approximated the
usual way: for each layer, the gradient with respect to its input costs about
one forward (needed only when some layer upstream trains), and the gradient
with respect to its weights costs about one forward (only when the layer
trains). So a trainable layer costs 3 × forward, a frozen layer behind a
trainable one 2 ×, and the frozen prefix 1 × (just its forward). Elementwise
layers, pooling and BatchNorm are left out, as in the MACs convention.
"""

from __future__ import annotations

from typing import NamedTuple


class TrainingFlops(NamedTuple):
    """FLOPs per image of one training step and of one inference pass."""

    forward: int  # inference: 2 × MACs of the whole network
    train: int  # forward + backward per the approximation above
    head_only: int  # train FLOPs of the trainable layers alone (cached last-layer epochs)


def training_flops(table, plan) -> TrainingFlops:
    """Per-image FLOPs for ``table`` (an engine CostTable) under ``plan`` (freeze.Plan)."""
    rows = [row for row in table.layers if not row.auxiliary]
    head = [row for row in rows if row.name in plan.trainable]
    return TrainingFlops(sum(2 * row.macs for row in rows), _step(rows, plan), _step(head, plan))


def _step(rows: list, plan) -> int:
    """Forward + backward FLOPs of ``rows`` run in order."""
    total, upstream_trains = 0, False
    for row in rows:
        trains = row.name in plan.trainable
        total += 2 * row.macs * (1 + upstream_trains + trains)
        upstream_trains = upstream_trains or trains
    return total
