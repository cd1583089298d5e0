"""Optimiser and learning-rate schedule, as the reports use them.

The schedule is one per-step multiplier of the peak learning rate (a
``LambdaLR``), so warmup composes with every shape and resuming restores it
exactly from the scheduler's step count.
"""

from __future__ import annotations

import math

import torch

ONECYCLE_RISE = 0.3  # share of the run spent rising when one-cycle has no explicit warmup


def make_optimizer(parameters: list, config) -> torch.optim.Optimizer:
    """adam, adamw (decoupled weight decay) or sgd (momentum, optionally Nesterov)."""
    if config.optimizer == "sgd":
        return torch.optim.SGD(parameters, lr=config.lr, momentum=config.momentum,
                               nesterov=config.nesterov and config.momentum > 0,
                               weight_decay=config.weight_decay)
    kind = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    return kind(parameters, lr=config.lr, weight_decay=config.weight_decay)


def lr_factor(step: int, steps_per_epoch: int, config) -> float:
    """Multiplier of the peak learning rate at optimiser step ``step`` (0-based)."""
    total = max(1, config.epochs * steps_per_epoch)
    warmup = config.warmup_epochs * steps_per_epoch
    if config.schedule == "onecycle" and warmup == 0:
        warmup = ONECYCLE_RISE * total
    if step < warmup:
        return (step + 1) / warmup
    if config.schedule == "constant":
        return 1.0
    if config.schedule == "step":
        return config.gamma ** (step // (config.step_size * steps_per_epoch))
    progress = min(1.0, (step - warmup) / max(1.0, total - warmup))
    if config.schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * progress))
    return max(0.0, 1.0 - progress)  # onecycle: linear fall to zero after the rise


def make_schedule(optimizer: torch.optim.Optimizer, steps_per_epoch: int, config):
    """A per-step ``LambdaLR`` following ``lr_factor``."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, steps_per_epoch, config))
