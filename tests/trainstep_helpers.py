"""Shared helpers for the training-step tests: one zoo network's step as cnncost computes it and as torch runs it.

``engine_step`` is ``cnncost.trainstep.analyze_step`` on the architecture at its small test size;
``measured_step`` builds the same network with the zoo, applies the strategy as ``cnncost train`` does
(``zoo.training.freeze``) and measures one forward + loss + backward with ``zoo.saved_tensors.measure_step``.
fp32 runs on the meta device (shapes only: fast, and what autograd saves does not depend on values);
autocast runs on the real CPU (the meta device has no autocast).
"""

from __future__ import annotations

from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from cnncost import archs, engine, finetune
from cnncost.trainstep import analyze_step, parse_step

from .zoo_helpers import small_size

AUTOCAST_DEVICE = "cpu"  # the device measured autocast steps run on


def step_config(name: str, **overrides) -> dict:
    """Validated builder keywords for ``name``: its small square size (unless h/w are given) and no
    training-only auxiliary heads (``cnncost train`` builds without them)."""
    spec = archs.get(name)
    if spec.param("aux_logits") is not None:
        overrides.setdefault("aux_logits", False)
    if spec.param("h") is not None and "h" not in overrides:
        size = small_size(name, **overrides)
        overrides.update(h=size, w=size)
    return archs.resolve(spec, overrides)


def engine_table(name: str, **overrides) -> Any:
    """(network, engine CostTable) of ``name`` at its test configuration."""
    return _engine_table(name, tuple(sorted(overrides.items())))


@lru_cache(maxsize=None)
def _engine_table(name: str, overrides: tuple) -> tuple:
    # Each check needs the table three times (engine, freeze plan, input shape); a deep network's walk is not free.
    network = archs.get(name).build(**step_config(name, **dict(overrides)))
    return network, engine.analyze(network)


def engine_step(name: str, strategy: str, batch: int, dtype: str, optimizer: str = "sgd", **overrides) -> Any:
    """cnncost's StepCost of one step of ``name`` (CPU autocast rules, the device the measurements run on)."""
    _, table = engine_table(name, **overrides)
    return analyze_step(table, parse_step(strategy, batch, optimizer, dtype, AUTOCAST_DEVICE))


def device_for(dtype: str) -> str:
    """Where a step of ``dtype`` is measured: meta for fp32, the real CPU under autocast."""
    return "meta" if dtype == "fp32" else AUTOCAST_DEVICE


def prepared_model(name: str, strategy: str, device: str, **overrides) -> Any:
    """The zoo module of ``name`` on ``device``, with the strategy's requires_grad and train/eval modes."""
    import torch

    import zoo
    from zoo.training import freeze

    network, table = engine_table(name, **overrides)
    with torch.device(device):
        model = zoo.to_module(network)
    plan = freeze.apply_strategy(model, network, table, finetune.parse_strategy(strategy))
    freeze.set_training_mode(model, plan)
    return model


def batch_of(name: str, batch: int, device: str, **overrides) -> tuple:
    """(images, labels) of ``batch`` samples shaped as ``name``'s input."""
    import torch

    network, _ = engine_table(name, **overrides)
    images = torch.randn(batch, *network.input_shape, device=device)
    labels = torch.zeros(batch, dtype=torch.long, device=device)
    return images, labels


def measured_step(name: str, strategy: str, batch: int, dtype: str, device: str | None = None, **overrides) -> Any:
    """zoo.saved_tensors.MeasuredStep of one real step of ``name`` (saved storages, FlopCounterMode FLOPs,
    gradient bytes)."""
    from zoo.saved_tensors import measure_step

    device = device or device_for(dtype)
    model = prepared_model(name, strategy, device, **overrides)
    images, labels = batch_of(name, batch, device, **overrides)
    return measure_step(model, images, labels, None if dtype == "fp32" else dtype)


def flopcounter_flops(step_cost: Any) -> Any:
    """The FLOPs FlopCounterMode reports for the step: train-flops, plus the weight gradient of every grouped
    convolution counted ``groups - 1`` more times (FlopCounterMode charges a grouped conv's weight gradient as if
    every group saw all input channels)."""
    extra = sum((row.groups - 1) * row.weight_grad_flops for row in step_cost.layers)
    return step_cost.train_flops + step_cost.step.batch * extra


@contextmanager
def one_torch_thread():
    """Tiny CPU steps run fastest on one intra-op thread (conftest's fixture, usable inside a Hypothesis test)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
