"""Everything a run needs before its first step: device, data, model, strategy, optimiser.

Each choice is checked here, before anything is written, so a bad option
costs nothing (no half-made run folder).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import nn

from cnncost import archs, finetune
from cnncost.arch import Arch, ParameterError

from cnncost import engine

from ..runtime.devices import pick_device
from ..runtime.images import model_mean_std
from ..runtime import model
from ..runtime import checkpoint, ema
from . import freeze, memory, optim, syncbn
from ..runtime.config import TrainConfig
from .data import load_data
from .distributed import World
from .flops import training_flops
from .loop import Runtime, Step


class Session(NamedTuple):
    """A run, set up: the pieces the epoch loop and the report use."""

    config: TrainConfig
    strategy: finetune.Strategy
    folder: Path
    data: Any  # data.DataSource
    prepared: model.Prepared
    plan: freeze.Plan
    runtime: Runtime
    step: Step
    flops: Any  # flops.TrainingFlops
    size: int  # input side in pixels
    channels: int
    normalisation: tuple  # (mean, std)
    resumed: dict | None  # the checkpoint continued from, if any
    world: World = World.single()  # the processes training together (distributed.py)
    average: Any = None  # --ema: ema.WeightAverage of the model, or None


def start(config: TrainConfig, warn=print, world: World | None = None) -> Session:
    """Check the options, load data, build the model and optimiser; resume if asked.

    With several processes (``world``), rank 0 reads the checkpoint and hands it to the others (a
    machine without the run folder can take part), and ``--sync-bn`` converts the BatchNorms.
    """
    world = world or World.single()
    config.check()
    strategy = finetune.parse_strategy(config.strategy)
    _check_weights(strategy, config.weights)
    folder = Path(config.out).expanduser()
    # A new run's folder is checked by runfolder.claim (new or empty); here only resume reads it.
    resumed = world.from_leader(lambda: checkpoint.resume_state(folder, config, world.size)) if config.resume \
        else None
    runtime = make_runtime(config, warn, world)
    data = load_data(config.data, val_fraction=config.val_fraction, seed=config.seed,
                     synthetic_size=config.synthetic_size)
    if config.binary:
        _check_binary(config, data.classes)
    arch = archs.get(config.arch)  # resolved once for the run (a module: name is traced once)
    _check_memory(config, arch, len(data.classes), runtime)  # before torch allocates the module
    torch.manual_seed(config.seed)  # the initialisation, new classifier included, follows the seed
    prepared = model.prepare(arch, config.hyperparameters, config.img_size, len(data.classes),
                             config.weights, config.dropout, dropout_at=config.dropout_layers, binary=config.binary)
    plan = freeze.apply_strategy(prepared.model, prepared.network, prepared.table, strategy)
    if world.size > 1:
        _to_world(config, prepared, plan, runtime, world)
    net = prepared.model.to(runtime.device)
    if runtime.channels_last:
        # Module.to takes memory_format (torch's docs); its type stubs list only device, dtype and tensor
        net = net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    channels, size = prepared.network.input_shape[0], prepared.config["h"]
    normalisation = model_mean_std(channels)
    average = ema.start(net, config.ema)  # a copy of the model as it is now (on its device, in its layout)
    return Session(config, strategy, folder, data, prepared, plan, runtime,
                   _step(config, prepared, plan, world, average), training_flops(prepared.table, plan), size,
                   channels, normalisation, resumed, world, average)


def _check_binary(config: TrainConfig, classes: list) -> None:
    """--binary needs a dataset of exactly two classes (class 1, the second name in sorted order, is positive)."""
    if len(classes) != 2:
        shown = ", ".join(classes[:5]) + (", ..." if len(classes) > 5 else "")
        raise ParameterError("binary", f"{config.data} has {len(classes):,} classes ({shown}); a binary head needs "
                                       "exactly 2")


def _to_world(config: TrainConfig, prepared: model.Prepared, plan: freeze.Plan, runtime: Runtime,
              world: World) -> None:
    """The model made ready for several processes: synchronised BatchNorm if asked (the split of trainable and
    frozen parameters checked again: the converted layers must hold the same ones), and a random stream of its
    own for every process after rank 0 (dropout masks must not repeat across processes)."""
    if config.sync_bn:
        syncbn.convert(prepared.model, runtime.device.type == "cuda")
        trainable = sum(p.numel() for p in prepared.model.parameters() if p.requires_grad)
        frozen = sum(p.numel() for p in prepared.model.parameters() if not p.requires_grad)
        if (trainable, frozen) != (plan.trainable_params, plan.frozen_params):
            raise freeze.EngineMismatch(f"--sync-bn changed the trainable/frozen parameters to {trainable:,}/"
                                        f"{frozen:,}; the engine says {plan.trainable_params:,}/"
                                        f"{plan.frozen_params:,}")
    if not world.leader:
        torch.manual_seed((config.seed * 1_000_003 + world.rank) % 2**63)


def _check_memory(config: TrainConfig, arch: Arch, classes: int, runtime: Runtime) -> None:
    """Refuse an input size or batch the machine cannot hold, from the engine's counts alone."""
    arch, arch_config, network = model.describe(arch, config.hyperparameters, config.img_size,
                                                model.head_outputs(classes, config.binary), config.dropout,
                                                dropout_at=config.dropout_layers)
    memory.check_fits(engine.analyze(network), config.micro_batch, runtime.device.type, arch_config["h"],
                      arch.name, step=memory.run_step(config, runtime.device.type, runtime.amp),
                      ema=config.ema is not None)


def _check_weights(strategy: finetune.Strategy, weights: str) -> None:
    if strategy.kind == "scratch" and weights != "none":
        raise ParameterError("weights", "scratch trains from random initialisation; drop {param:weights}, "
                                        "or use {param:strategy} full to train everything from these weights")
    if strategy.pretrained and weights == "none":
        raise ParameterError("weights", f"{strategy} fine-tunes pretrained weights; pass {{param:weights}} PATH or "
                                        "{param:weights} imagenet (or use {param:strategy} scratch)")


def make_runtime(config: TrainConfig, warn=print, world: World | None = None) -> Runtime:
    """Device and speed settings: on CUDA, bf16 autocast and channels_last unless turned off.
    Each of several processes takes the GPU of its local rank."""
    device = pick_device(config.device)
    use_cuda = device.type == "cuda"
    if use_cuda and world is not None and world.size > 1:
        device = torch.device("cuda", world.local_rank)
    amp = use_cuda if config.amp is None else config.amp
    channels_last = use_cuda if config.channels_last is None else config.channels_last
    return Runtime(device, amp, channels_last, warn=warn)


def workers(config: TrainConfig, runtime: Runtime) -> int:
    """Data-loading processes: as asked, else up to 8 on CUDA and none on CPU."""
    if config.workers is not None:
        return config.workers
    return min(8, os.cpu_count() or 1) if runtime.device.type == "cuda" else 0


def parse(strategy: str) -> finetune.Strategy:
    """A strategy's text as data (the one parser, cnncost.finetune)."""
    return finetune.parse_strategy(strategy)


def next_stage(session: Session) -> Session:
    """The second stage of a run (``--then``): the same model and data, the second strategy applied
    (and checked against the engine), an optimiser over its trainable parameters at ``--then-lr``."""
    config = session.config.second_stage()
    strategy = parse(config.strategy)
    prepared = session.prepared
    plan = freeze.apply_strategy(prepared.model, prepared.network, prepared.table, strategy)
    return session._replace(strategy=strategy, plan=plan,
                            step=_step(config, prepared, plan, session.world, session.average),
                            flops=training_flops(prepared.table, plan))


def criterion(config: TrainConfig, reduction: str = "mean") -> nn.Module:
    """The training loss: cross-entropy over the class scores, or --binary's BCE with logits on z; label
    smoothing in both."""
    if config.binary:
        return model.BinaryCrossEntropy(config.label_smoothing, reduction)
    return nn.CrossEntropyLoss(label_smoothing=config.label_smoothing, reduction=reduction)


def _step(config: TrainConfig, prepared: model.Prepared, plan: freeze.Plan, world: World | None = None,
          average=None) -> Step:
    parameters = freeze.trainable_parameters(prepared.model)
    optimizer = optim.make_optimizer(parameters, config)
    # The schedule needs the steps per epoch, known once the loaders exist: run.py attaches it.
    if (world is None or world.size == 1) and config.accumulate == 1:
        # torch.compile wraps the same module (same parameters), so checkpoints and the
        # frozen-layer modes are unaffected; only the forward/backward kernels change.
        forward = torch.compile(prepared.model) if config.compile else prepared.model
        return Step(forward, optimizer, None, criterion(config), config.clip_grad, parameters,
                    clip_value=config.clip_value, average=average)
    # Per-sample losses: steps.train_steps weighs each micro-batch by its share of the global step.
    losses = criterion(config, reduction="none")
    ddp = None
    if world is not None and world.size > 1:
        from torch.nn.parallel import DistributedDataParallel

        device = next(prepared.model.parameters()).device
        ddp = DistributedDataParallel(prepared.model, device_ids=[device.index] if device.type == "cuda" else None)
    forward = ddp if ddp is not None else prepared.model
    forward = torch.compile(forward) if config.compile else forward
    return Step(forward, optimizer, None, losses, config.clip_grad, parameters, ddp, config.clip_value, average)
