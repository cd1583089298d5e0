"""What one training step is: strategy, batch, optimizer, precision and device, checked once."""

from __future__ import annotations

from typing import Any, NamedTuple

from ..arch import ParameterError
from ..finetune import Strategy, parse_strategy

OPTIMIZERS = ("sgd", "momentum", "adam", "adamw")
DTYPES = ("fp32", "bf16", "fp16")  # fp32, or autocast to bf16/fp16 (parameters, gradients, state stay fp32)
DEVICES = ("cuda", "cpu")
# The loss on the network's output: softmax cross-entropy over its class scores, or ``cnncost train --binary``'s
# binary cross-entropy on the logit z of a 1-output head (read from the scores [0, z] the run forms).
LOSSES = ("cross-entropy", "binary")


class Step(NamedTuple):
    """One training step of ``cnncost train``."""

    strategy: Strategy = Strategy("scratch")
    batch: Any = 1  # samples per step: an int ≥ 1, or a symbol
    optimizer: str = "sgd"
    dtype: str = "fp32"
    device: str = "cuda"
    loss: str = "cross-entropy"  # one of LOSSES

    @property
    def autocast(self) -> str | None:
        """The autocast dtype, or None in full precision."""
        return None if self.dtype == "fp32" else self.dtype


def parse_step(strategy: str = "scratch", batch: Any = 1, optimizer: str = "sgd", dtype: str = "fp32",
               device: str = "cuda", loss: str = "cross-entropy") -> Step:
    """A ``Step`` from option values; each bad value is a one-line error naming its option and choices."""
    if isinstance(batch, int) and (isinstance(batch, bool) or batch < 1):
        raise ParameterError("batch", f"{batch} is not a batch size; give a whole number ≥ 1")
    for name, value, choices in (("optimizer", optimizer, OPTIMIZERS), ("dtype", dtype, DTYPES),
                                 ("device", device, DEVICES), ("loss", loss, LOSSES)):
        if value not in choices:
            raise ParameterError(name, f"{value!r} is not one of {', '.join(choices)}")
    return Step(parse_strategy(strategy), batch, optimizer, dtype, device, loss)
