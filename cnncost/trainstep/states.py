"""Model state in bytes: parameters, buffers, gradients and optimizer state, as torch holds them.

Parameters, their gradients and the optimizer's state are float32 under every ``--dtype`` (autocast
computes in lower precision on cast copies; the copies are saved activations, counted in saved-bytes).
Optimizer state after the first step (``optimizer.state``):

* sgd: nothing; momentum: one momentum buffer per trainable parameter;
* adam, adamw: exp_avg and exp_avg_sq per trainable parameter, and one 0-d float32 ``step`` per
  trainable parameter tensor.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ..arith import total

FLOAT32 = 4


class ModelState(NamedTuple):
    """Bytes the model holds between steps."""

    params: Any  # every parameter, trainable or frozen
    buffers: Any  # running statistics, counters, constant tensors
    grads: Any  # one float32 gradient per trainable parameter
    optimizer: Any

    @property
    def total(self) -> Any:
        """All four together."""
        return total([self.params, self.buffers, self.grads, self.optimizer])


def model_state(leaves: list, step: Any) -> ModelState:
    """``leaves``: (engine row, kinds.base.State, trains) per leaf of the step's network."""
    params = total(row.params for row, _, _ in leaves)
    trainable = total(row.params for row, _, trains in leaves if trains)
    tensors = total(state.tensors for _, state, trains in leaves if trains)
    buffers = total(state.buffer_bytes for _, state, _ in leaves)
    optimizer = {"sgd": 0, "momentum": FLOAT32 * trainable,
                 "adam": 2 * FLOAT32 * trainable + FLOAT32 * tensors}
    optimizer["adamw"] = optimizer["adam"]
    return ModelState(FLOAT32 * params, buffers, FLOAT32 * trainable, optimizer[step.optimizer])
