"""One training step, exactly: its FLOPs forward and backward, the tensors autograd saves, and model state.

``analyze_step(table, step)`` walks an engine ``CostTable``'s network as one step of ``cnncost train``
runs it (``zoo.training.freeze``: the strategy's layers train, the layers before the first of them and
every frozen BatchNorm run in eval mode; a cross-entropy loss on the logits, or ``--binary``'s
binary cross-entropy on a 1-output head, ``Step.loss``) and returns a ``StepCost``. Quantities (defined
in ``cnncost.conventions.STEP_QUANTITIES``):

* train-flops: forward FLOPs plus, per conv/linear layer, an input gradient where its input requires
  grad and a weight gradient where it trains (2 FLOPs per MAC each), as autograd runs them;
* saved-bytes: the distinct storages the step's autograd graph saves (``saved_tensors_hooks``), model
  state (parameters, buffers) excluded, the loss's included;
* param-, buffer-, grad- and optimizer-bytes, and train-bytes, their sum with saved-bytes.

Everything is an int for numeric tables and a closed form for symbolic ones; the batch may be a symbol.
"""

from __future__ import annotations

from .analysis import LayerStep, StepCost, analyze_step
from .options import DEVICES, DTYPES, OPTIMIZERS, Step, parse_step

__all__ = ["DEVICES", "DTYPES", "LayerStep", "OPTIMIZERS", "Step", "StepCost", "analyze_step", "parse_step"]
