"""``--ema DECAY``: an exponential moving average of a run's weights, the ones it validates and keeps.

Built on torch's own ``torch.optim.swa_utils.AveragedModel`` with ``get_ema_multi_avg_fn(DECAY)``:
after every optimizer step, each averaged tensor W̄ becomes DECAY·W̄ + (1 − DECAY)·W (the first step copies
W). ``use_buffers=True`` averages the buffers too, so the BatchNorm running statistics the average
evaluates with are averaged alongside its weights rather than borrowed from the live model.

The average is what the run shows and keeps: validation (so ``--monitor`` and ``--patience``), ``best.pt``
and the final test evaluation use it; ``checkpoint.pt`` stores it beside the live weights (which training
continues from), so ``--resume`` continues it exactly. It is one more copy of every parameter and buffer,
held all run long (``memory.WithAverage`` adds it to the predicted memory).
"""

from __future__ import annotations

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

PREFIX = "module."  # AveragedModel holds the copy as its submodule ``module``
COUNTER = "n_averaged"  # its count of averaged steps (a buffer of its own)


class WeightAverage:
    """The moving average of ``source``'s parameters and buffers (``source``: the module the optimizer steps)."""

    def __init__(self, source: torch.nn.Module, decay: float):
        self.source = source
        self.decay = decay
        self.averaged = AveragedModel(source, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
        # The copy is only ever evaluated: no gradient is asked of it.
        self.averaged.requires_grad_(False)

    @property
    def module(self) -> torch.nn.Module:
        """The averaged copy of the network (same class, same state_dict keys as ``source``)."""
        return self.averaged.module

    def update(self) -> None:
        """Fold the source's current weights into the average: call once after every optimizer step."""
        self.averaged.update_parameters(self.source)

    def state_dict(self) -> dict:
        """The average and its step counter, for ``checkpoint.pt``."""
        return self.averaged.state_dict()

    def load_state_dict(self, state: dict) -> None:
        """Continue from a checkpoint's ``state_dict()`` (a resumed run)."""
        self.averaged.load_state_dict(state)


def start(model: torch.nn.Module, decay: float | None) -> WeightAverage | None:
    """The run's average of ``model`` when ``--ema`` is given, else None."""
    return None if decay is None else WeightAverage(model, decay)


def averaged_weights(state: dict) -> dict:
    """The network's state_dict inside a saved ``WeightAverage.state_dict()`` (its counter left out)."""
    return {key[len(PREFIX):]: value for key, value in state.items() if key.startswith(PREFIX)}


def is_average_state(state) -> bool:
    """Whether ``state`` (read from a run file) has the shape of a ``WeightAverage.state_dict()``: tensors, the
    counter among them, every other key under ``module.``."""
    return (isinstance(state, dict) and COUNTER in state and len(state) > 1
            and all(isinstance(key, str) and isinstance(value, torch.Tensor) for key, value in state.items())
            and all(key == COUNTER or key.startswith(PREFIX) for key in state))
