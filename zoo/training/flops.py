"""Training FLOPs per image: one step of ``cnncost train`` as ``cnncost.trainstep`` counts it, exactly.

FLOP here is the engine's ``flops`` convention (2 FLOPs per multiply-accumulate of a convolution or a
linear layer; see docs/conventions.md): elementwise layers, pooling, BatchNorm and the loss count 0, as
in the MACs convention and as torch's FlopCounterMode counts them. Per image of one step:

* ``forward``: every layer's forward, 2 × MACs of the whole network;
* ``train``: the forward plus, per conv/linear layer, the gradient with respect to its input where that
  input requires grad (something upstream *in the dataflow* trains: a frozen layer on a branch fed only
  by frozen layers needs none) and the gradient with respect to its weights where it trains, 2 × MACs
  each, as autograd runs them (``StepCost.train_flops`` / batch). This equals FlopCounterMode's count of
  a real step except for grouped convolutions, whose weight gradient FlopCounterMode counts ``groups``
  times over; the figure here is the true one;
* ``head_only``: a cached last-layer epoch, where only the trainable layers run, on stored backbone
  features (no input gradient): the forward and weight-gradient FLOPs of the layers that train.

The FLOPs per image do not depend on the batch or the autocast dtype; both are passed through so the step
analysed is the run's. A network whose step ``analyze_step`` cannot walk (a layer whose saved tensors are
not modelled) falls back to the execution-order approximation of earlier versions, marked ``exact=False``.
"""

from __future__ import annotations

from typing import NamedTuple

from cnncost.errors import CnncostError
from cnncost.trainstep import analyze_step, parse_step

# Any batch gives the same FLOPs per image; 2 is the smallest at which torch trains every BatchNorm.
DEFAULT_BATCH = 2


class TrainingFlops(NamedTuple):
    """FLOPs per image of one training step and of one inference pass."""

    forward: int  # inference: 2 × MACs of the whole network
    train: int  # forward + backward of one step, per image (see above)
    head_only: int  # train FLOPs of the trainable layers alone (cached last-layer epochs)
    exact: bool = True  # False: the step could not be analysed; the old approximation is given


def training_flops(table, plan, batch_size: int = DEFAULT_BATCH, dtype: str = "fp32",
                   device: str = "cpu") -> TrainingFlops:
    """Per-image FLOPs for ``table`` (an engine CostTable) under ``plan`` (freeze.Plan), from the exact step
    of ``batch_size`` images in ``dtype`` ("fp32", or the autocast dtype) on ``device``."""
    step = parse_step(str(plan.strategy), batch_size, "sgd", dtype, device)  # the optimizer costs no FLOPs
    try:
        cost = analyze_step(table, step)
    except CnncostError:  # not walkable (e.g. a layer whose saved tensors are not modelled): approximate
        return approximate_training_flops(table, plan)
    head = sum(int(row.flops) for row in cost.layers if row.trains)  # LayerStep figures are per sample
    return TrainingFlops(_per_image(cost.forward_flops, batch_size), _per_image(cost.train_flops, batch_size), head)


def _per_image(step_total: int, batch_size: int) -> int:
    """A step total shared out over its images (every per-sample figure is an int, so this is exact)."""
    per_image, remainder = divmod(int(step_total), batch_size)
    assert remainder == 0, (step_total, batch_size)
    return per_image


def approximate_training_flops(table, plan) -> TrainingFlops:
    """The execution-order approximation: a trainable layer 3 × forward, a frozen layer *after* a
    trainable one in execution order 2 ×, the frozen prefix 1 ×. It charges an input gradient to a frozen
    layer on a branch no trainable layer feeds, so it overcounts networks with branches."""
    rows = [row for row in table.layers if not row.auxiliary]
    head = [row for row in rows if row.name in plan.trainable]
    return TrainingFlops(sum(2 * row.macs for row in rows), _in_order(rows, plan), _in_order(head, plan), False)


def _in_order(rows: list, plan) -> int:
    """Forward + backward FLOPs of ``rows`` under the approximation, run in order."""
    count, upstream_trains = 0, False
    for row in rows:
        trains = row.name in plan.trainable
        count += 2 * row.macs * (1 + upstream_trains + trains)
        upstream_trains = upstream_trains or trains
    return count
