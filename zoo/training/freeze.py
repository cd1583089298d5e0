"""Apply a strategy to a module: which parameters train, which layers run in eval mode.

The decision is the engine's (``cnncost.finetune``); this file only carries it
out and proves it was carried out: the torch module's trainable and frozen
parameter counts must equal the engine's for the same strategy, or the run
stops with ``EngineMismatch`` (a bug in cnncost, never the user's fault).

Modes during training: every layer before the first trainable one runs in
eval mode (a frozen backbone is a fixed feature extractor: its dropout is off
and its BatchNorm uses the pretrained running statistics), and every frozen
BatchNorm anywhere stays in eval mode so its statistics never drift.
"""

from __future__ import annotations

from typing import NamedTuple

from torch import nn

from cnncost import finetune


class EngineMismatch(RuntimeError):
    """The module's trainable parameters differ from the engine's count: a cnncost bug."""


class Plan(NamedTuple):
    """What trains, as decided by the engine and checked on the module."""

    strategy: finetune.Strategy
    trainable: frozenset  # leaf layer names whose parameters train
    frozen_prefix: tuple  # leaf layer names before the first trainable one (eval mode)
    trainable_params: int  # engine count, equal to the module's
    frozen_params: int


def apply_strategy(model, network, table, strategy: finetune.Strategy) -> Plan:
    """Set ``requires_grad`` per the strategy and check the counts against the engine."""
    names = finetune.trainable_layers(network, strategy)
    for name, module in model._leaves.items():
        # A leaf's own parameters, and those of a wrapper inside it (LayerNorm over channels holds an nn.LayerNorm).
        for parameter in module.parameters():
            parameter.requires_grad_(name in names)
    engine_train, engine_frozen = finetune.trainable_params(table, names)
    torch_train = sum(p.numel() for p in model.parameters() if p.requires_grad)
    torch_frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    if (torch_train, torch_frozen) != (engine_train, engine_frozen):
        raise EngineMismatch(f"{network.name} {strategy}: the module has {torch_train:,} trainable and "
                             f"{torch_frozen:,} frozen parameters, the engine says {engine_train:,} and "
                             f"{engine_frozen:,}")
    order = [row.name for row in table.layers if not row.auxiliary]
    first = next((i for i, name in enumerate(order) if name in names), len(order))
    return Plan(strategy, names, tuple(order[:first]), engine_train, engine_frozen)


def set_training_mode(model, plan: Plan, training: bool = True) -> None:
    """``model.train(training)``, then frozen prefix and frozen BatchNorm back to eval."""
    model.train(training)
    if not training:
        return
    leaves = model._leaves  # one lookup of every path per call
    for name in plan.frozen_prefix:
        leaves[name].eval()
    for name, module in leaves.items():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and name not in plan.trainable:
            module.eval()


def trainable_parameters(model) -> list:
    """The parameters the optimiser updates."""
    return [p for p in model.parameters() if p.requires_grad]
