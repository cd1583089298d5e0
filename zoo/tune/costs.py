"""A trial's exact costs, from the engine, before it trains.

The network is described exactly as ``cnncost train`` will build it (``model.describe``: the data's
classes, or one output with ``--binary``, no auxiliary heads, the trial's input side and dropout), so the
counts are those of the run itself: params and MACs as ``cnncost count`` prints them, and the training step the run
takes (``memory.run_step``: its strategy, batch, optimizer, autocast and device) as ``cnncost memory``.
"""

from __future__ import annotations

from cnncost import conventions, engine
from cnncost.errors import CnncostError

from ..runtime import model
from ..training import memory
from ..runtime.config import TrainConfig


def count(config: TrainConfig, classes: int, device: str, amp: bool) -> dict:
    """{params, macs, flops, train_flops, train_bytes, saved_bytes} of ``config``'s run, as ints.

    ``device`` is "cpu" or "cuda" and ``amp`` whether the run autocasts (``setup.make_runtime``).
    An invalid configuration (an input too small for the network, a value out of range) is the
    engine's one-line CnncostError; a step the engine cannot analyse leaves the step costs out.
    """
    outputs = model.head_outputs(classes, config.binary)  # --binary builds a 1-output head
    _arch, _config, network = model.describe(config.arch, config.hyperparameters, config.img_size, outputs,
                                             config.dropout, dropout_at=config.dropout_layers)
    table = engine.analyze(network)
    totals = conventions.totals(table)
    result = {"params": int(totals["params"]), "macs": int(totals["macs"]), "flops": int(totals["flops"])}
    step = memory.run_step(config, device, amp)
    cost = memory.step_cost(table, step, ema=config.ema is not None)  # --ema keeps an averaged copy resident
    if cost is not None:
        result.update(train_flops=int(cost.train_flops), train_bytes=int(cost.train_bytes),
                      saved_bytes=int(cost.saved_bytes))
    return result


def over_budget(costs: dict, budgets: dict) -> str | None:
    """Why ``costs`` break a budget ('macs 2,359,296 > max_macs 1,000,000'), or None when within all."""
    for cost, limit in budgets.items():
        if cost not in costs:
            raise CnncostError(f"max_{cost}: the engine cannot count this trial's {cost} (its training step "
                               "is not modelled), so the budget cannot be checked")
        if costs[cost] > limit:
            return f"{cost} {costs[cost]:,} > max_{cost} {limit:,}"
    return None
