"""``cnncost train``: the epoch loop, checkpoints, early stopping and the final report.

Order of events per epoch: train, validate, save the checkpoint (and the best
weights when the ``--monitor`` value improved), emit the epoch's record
(``events.EpochEnded``: the console prints it, the ``--log`` files keep it), then
early stopping.
After the last epoch the best weights are evaluated on the test split (or on
validation when the dataset has no test split) and the run folder gets
``metrics.json`` and the plots.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Callable, Iterable

import torch
from torch.utils.data import DataLoader

from cnncost.arch import ParameterError

from zoo.saved_tensors import saved_storages

from ..runtime import checkpoint

from . import distributed, imagecache, memory, optim, report, runfolder, setup, sharding
from ..runtime.config import TrainConfig
from .console import TrainConsole
from .events import EpochEnded, TrainingEnded
from .features import extract, feature_batches, feature_groups
from .loaders import collate, make_dataset
from .loop import Step, evaluate, train_epoch
from .metrics import ClassificationMeter
from ..runtime.model import binary_scores
from ..runtime.log_spec import parse_names
from .sinks import RunLog, Sink, as_sink, open_log
from .steps import train_steps


def better(ended: EpochEnded, best: dict, monitor: str) -> bool:
    """Whether this epoch's ``monitor`` value beats the best so far (the first epoch always does)."""
    from ..runtime.config import MONITORS

    if monitor not in best:
        return True
    value = ended.metric(monitor)
    return value > best[monitor] if MONITORS[monitor] == "max" else value < best[monitor]


def epoch_order(count: int, seed: int, epoch: int) -> list:
    """The training order of epoch ``epoch``: a permutation fixed by (seed, epoch) alone."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(count, generator=generator).tolist()


def train(config: TrainConfig, console: TrainConsole | None = None,
          on_epoch_end: Callable[[int, dict], object] | Sink | None = None, sinks: Iterable[Sink] = ()) -> dict:
    """Run (or resume) a training run; returns the metrics also written to ``metrics.json``.

    The run's events (``events.py``) go to the sinks ``config.log`` names (``--log``: ``console`` prints on
    ``console``, a fresh TrainConsole by default), then to ``sinks`` and ``on_epoch_end``, in that order.
    ``on_epoch_end`` is a sink, or a function ``on_epoch_end(epoch, row)`` called after each epoch's
    checkpoint is saved with its metrics.json row (tests use it to interrupt a run). The caller's sinks get
    the events of this process: on every rank under torchrun (``RunEnded`` on rank 0 only), none from
    the processes this call starts itself.

    With ``--nproc-per-node``/``--nnodes`` above 1 and no torchrun around this process, the processes
    are started here (``launch.py``) and each runs this function again as one rank; under torchrun this
    process is one rank. Rank 0 alone claims the run folder, writes and prints; the metrics returned are
    rank 0's ({} on the other ranks).
    """
    config.check()
    folder = runfolder.check_out(config.out)  # every option is checked before anything is written
    if config.world_size > 1 and distributed.launched_world_size() == 1:
        from .launch import launch

        return launch(config)
    extra = [*sinks, *([as_sink(on_epoch_end)] if on_epoch_end is not None else [])]
    with distributed.joined(config.device) as world:
        with _claimed(folder, config.resume, world):
            with open_log(parse_names(config.log), folder, console, config.quiet, world.leader, extra) as log:
                return _run(config, log, world)


@contextlib.contextmanager
def _claimed(folder, resume: bool, world):
    """The run folder claimed by rank 0 for the whole run; its refusal, if any, raised on every rank."""
    if world.size == 1:
        with runfolder.claim(folder, resume):
            yield
        return
    with contextlib.ExitStack() as stack:
        world.from_leader(lambda: stack.enter_context(runfolder.claim(folder, resume)) and None)
        yield


def _run(config: TrainConfig, log: RunLog, world) -> dict:
    """``train`` inside its claimed run folder, its events on ``log``."""
    session = setup.start(config, warn=log.warn, world=world)
    log.emit(report.run_started(session))
    report.start(session)  # the class distribution chart, before any epoch
    if config.binary:
        log.line(_binary_line(session.data.classes))
    loaders = _Loaders(session)
    if loaders.parallel:
        log.line(report.batch_line(config, world.size, loaders.dropped()))
    step = _with_schedule(session, loaders.steps_per_epoch())
    cached = _cache(session, loaders, log)
    if cached is None:  # the feature cache already runs the images once; nothing to keep then
        loaders.cache_images(log)
    if config.then and session.resumed is not None and session.resumed["epoch"] >= config.epochs:
        session, step, cached = _second_stage(session, loaders, log)  # the checkpoint is the second stage's
    state = _restore(session, step)
    watch = _StepMemory(session)
    stopped_early = False
    for epoch in range(state["epoch"], config.total_epochs):
        if config.then and epoch == config.epochs and session.strategy != setup.parse(config.then):
            session, step, cached = _second_stage(session, loaders, log)
        try:
            row = _one_epoch(session, watch.first_step(session, step, cached is not None), loaders, cached, epoch,
                             log)
        finally:
            watch.close()  # never leave the probe's hooks on, whatever happened
        _require_images(session, row)
        ended = EpochEnded.from_row(row)
        improved = better(ended, state["best"], config.monitor)
        ended = dataclasses.replace(ended, stage=2 if config.then and epoch >= config.epochs else 1, best=improved)
        state["history"].append(ended.to_dict())
        if improved:
            state["best"], state["stale"] = {"epoch": epoch + 1, config.monitor: ended.metric(config.monitor)}, 0
            if world.leader:
                checkpoint.save_best(session.folder, config=config, classes=session.data.classes,
                                     epoch=epoch + 1, model=_shown_model(session))
        else:
            state["stale"] += 1
        rank_rng = world.gather_rng()  # every rank takes part; rank 0 writes
        if world.leader:
            checkpoint.save(session.folder, config=config, classes=session.data.classes, epoch=epoch + 1,
                            model=session.prepared.model, optimizer=step.optimizer, scheduler=step.scheduler,
                            history=state["history"], best=state["best"], stale=state["stale"],
                            rank_rng=rank_rng, average=session.average)
        log.emit(ended)  # after the checkpoint: no record of an epoch that --resume would train again
        if config.patience and state["stale"] >= config.patience:
            stopped_early = True
            break
    log.emit(TrainingEnded(epochs=len(state["history"]), best=dict(state["best"]), monitor=config.monitor,
                           patience=config.patience, stopped_early=stopped_early))
    state["memory"] = watch.record()
    if not world.leader:  # the test evaluation, metrics.json and the plots are rank 0's
        return {}
    return report.finish(session, state, loaders, log)


class _StepMemory:
    """What one training step holds, predicted and measured. On a GPU: the peak of
    ``torch.cuda.max_memory_allocated`` from the first epoch to the last. On a CPU: the storages autograd saves
    in the first training step this process runs (``zoo.saved_tensors.saved_storages`` around its forward and
    loss; the hooks hand every tensor back unchanged, so the step, its result and the RNG stream are the same)."""

    def __init__(self, session):
        self.device = session.runtime.device
        self.cuda = self.device.type == "cuda"
        self.predicted = None  # (trainstep.Step, its StepCost or None, cached features?) of the first step trained
        self.saved_bytes = None
        self._block = None  # the saved_storages context while the probed step runs
        self._found: dict = {}
        if self.cuda:
            torch.cuda.reset_peak_memory_stats(self.device)

    def first_step(self, session, step: Step, cached: bool) -> Step:
        """``step``, its first forward and loss wrapped in the probe while nothing has been measured yet."""
        if self.predicted is None:
            runtime = session.runtime
            run_step = memory.run_step(session.config, runtime.device.type, runtime.amp, str(session.strategy))
            # --sync-bn's BatchNorms (torch's on CUDA, syncbn.py's over gloo) save other tensors than the
            # BatchNorm the engine models: no figure rather than a wrong one.
            cost = None if session.config.sync_bn else memory.step_cost(session.prepared.table, run_step,
                                                                         ema=session.average is not None)
            self.predicted = (run_step, cost, cached)
        # torch.compile's graphs are not traced through saved_tensors_hooks: nothing is measured then.
        if self.cuda or self.saved_bytes is not None or session.config.compile:
            return step
        model, forward, criterion = session.prepared.model, step.forward, step.criterion

        def probed_forward(inputs):
            if self._block is None and self.saved_bytes is None:
                self._block = saved_storages(model)
                self._found = self._block.__enter__()
            return forward(inputs)

        def probed_criterion(logits, labels):
            loss = criterion(logits, labels)
            if self._block is not None:
                self.close()
                self.saved_bytes = sum(self._found.values())
            return loss

        return step._replace(forward=probed_forward, criterion=probed_criterion)

    def close(self) -> None:
        """Leave the probe's hooks (after the loss, or when the epoch ended early with an error)."""
        if self._block is not None:
            block, self._block = self._block, None
            block.__exit__(None, None, None)

    def record(self) -> dict | None:
        """metrics.json's ``memory`` (report.memory_record), or None when no epoch ran in this process."""
        if self.predicted is None:
            return None
        run_step, cost, cached = self.predicted
        measured: dict[str, int | None]
        if self.cuda:
            measured = {"measured_peak_bytes": int(torch.cuda.max_memory_allocated(self.device))}
        else:
            measured = {"measured_saved_bytes": self.saved_bytes}
        return {**report.memory_record(run_step, cost, measured), "cached_features": cached}


def _require_images(session, row: dict) -> None:
    """An epoch that saw no readable training or validation image is a data error, not a result."""
    for split, count in (("training", row.pop("train_images")), ("validation", row.pop("val_images"))):
        if count == 0:
            bad = len(session.runtime.bad_files)
            other = len(session.data.skipped)
            raise ParameterError("data", f"no readable {split} images in {session.data.root}: "
                                         f"{bad:,} unreadable image files skipped"
                                         + (f", {other:,} non-image entries ignored" if other else "")
                                         + "; nothing was trained")


class _Loaders:
    """The run's datasets and loaders (a new training loader per epoch: its order depends on it)."""

    def __init__(self, session):
        self.session = session
        config = session.config
        mean, std = session.normalisation
        common = dict(size=session.size, seed=config.seed, mean=mean, std=std, channels=session.channels,
                      resize=config.resize)
        self.train_set = make_dataset(session.data, "train", augment=config.augment, **common)
        self.val_set = make_dataset(session.data, "val", **common)
        self.test_set = make_dataset(session.data, "test", **common) if session.data.test else None
        self.workers = setup.workers(config, session.runtime)
        self.caches: dict = {}  # split name -> imagecache.ImageCache, for the splits kept in memory
        self.world = session.world
        # Several processes or micro-batches: steps.train_steps over sharding's plan; else loop.train_epoch.
        self.parallel = session.world.size > 1 or config.accumulate > 1

    def cache_images(self, log: RunLog) -> None:
        """Keep train (augmented: before its augmentation) and val in memory when they fit under
        ``imagecache.limit_bytes``.

        Train comes first (it is read most); val is added if the rest fits. What is
        kept and what streams is said in one line, with the sizes.
        """
        if not self.session.config.cache:
            return
        limit, used, kept, streamed = imagecache.limit_bytes(), 0, [], []
        for split, dataset in (("train", self.train_set), ("val", self.val_set)):
            need = imagecache.split_bytes(dataset)
            if used + need > limit:
                streamed.append(f"{split} ({_mib(need)} over the limit)")
                continue
            used += need
            kept.append((split, dataset))
        if kept:
            label = " · ".join(f"{split} {len(dataset):,}" for split, dataset in kept)
            with log.task_bar(f"caching images: {label} ({_mib(used)})", sum(len(d) for _, d in kept)) as bar:
                for split, dataset in kept:
                    self.caches[split] = imagecache.build(dataset, self.workers, bar)
        if streamed:
            log.line(f"images read every epoch: {', '.join(streamed)}; the cache holds at most "
                     f"{_mib(limit)} (a quarter of RAM, at most 8 GiB)")

    def steps_per_epoch(self) -> int:
        """Optimiser steps in one epoch."""
        config = self.session.config
        if self.parallel:
            sizes, _ = sharding.step_sizes(len(self.train_set), config.batch_size, self.world.size, config.accumulate)
            return max(1, len(sizes))
        return max(1, -(-len(self.train_set) // config.batch_size))

    def dropped(self) -> int:
        """Training images of each epoch no process trains on (a last step too short to share out)."""
        config = self.session.config
        return sharding.step_sizes(len(self.train_set), config.batch_size, self.world.size, config.accumulate)[1]

    def plan(self, epoch: int, count: int) -> sharding.EpochPlan:
        """This process's micro-batches of every step of ``epoch`` over ``count`` samples."""
        config = self.session.config
        order = epoch_order(count, config.seed, epoch)
        return sharding.epoch_plan(order, config.batch_size, self.world.size, self.world.rank, config.accumulate)

    def train_plan(self, epoch: int) -> tuple:
        """(this process's plan of ``epoch``, its micro-batches of images in that order)."""
        if hasattr(self.train_set, "set_epoch"):
            self.train_set.set_epoch(epoch)
        plan = self.plan(epoch, len(self.train_set))
        groups = [list(micro) for step in plan.steps for micro in step.micro]
        cuda = self.session.runtime.device.type == "cuda"
        if "train" in self.caches:
            return plan, self.caches["train"].groups(groups, pin_memory=cuda)
        return plan, DataLoader(self.train_set, batch_sampler=groups, num_workers=self.workers, pin_memory=cuda,
                                collate_fn=collate)

    def shard(self, count: int) -> list:
        """This process's share of ``count`` evaluation samples (all of them in one process)."""
        return sharding.shard(count, self.world.size, self.world.rank)

    def train(self, epoch: int) -> DataLoader:
        """The training batches of ``epoch``, in ``epoch_order``."""
        if hasattr(self.train_set, "set_epoch"):
            self.train_set.set_epoch(epoch)
        order = epoch_order(len(self.train_set), self.session.config.seed, epoch)
        return self._loader(self.train_set, order)

    def fixed(self, dataset, indices: list | None = None):
        """Batches of ``dataset`` in index order (validation, test, feature extraction), or of ``indices``."""
        return self._loader(dataset, list(range(len(dataset))) if indices is None else indices)

    def _loader(self, dataset, order: list):
        """The batches of ``order``: from the image cache when the split is kept, else a DataLoader."""
        cuda = self.session.runtime.device.type == "cuda"
        cache = next((self.caches[s] for s, d in (("train", self.train_set), ("val", self.val_set))
                      if d is dataset and s in self.caches), None)
        if cache is not None:
            return cache.batches(order, self.session.config.batch_size, pin_memory=cuda)
        return DataLoader(dataset, batch_size=self.session.config.batch_size, sampler=order,
                          num_workers=self.workers, pin_memory=cuda, collate_fn=collate)


def _second_stage(session, loaders: "_Loaders", log: RunLog) -> tuple:
    """The run's second stage (``--then``): its strategy applied and checked, a new optimiser and
    schedule at ``--then-lr``; the weights carry on. (session, step, feature cache: none)."""
    session = setup.next_stage(session)
    log.line(report.stage_line(session))
    return session, _with_schedule(session, loaders.steps_per_epoch(), session.config.second_stage()), None


def _mib(count: int) -> str:
    """Bytes as MiB, one decimal ('15.8 MiB')."""
    return f"{count / 2**20:,.1f} MiB"


def _with_schedule(session, steps_per_epoch: int, config=None) -> Step:
    step = session.step
    return step._replace(scheduler=optim.make_schedule(step.optimizer, steps_per_epoch, config or session.config))


def _cache(session, loaders: _Loaders, log: RunLog) -> dict | None:
    """Backbone features of train and val, computed once, when last-layer training allows it."""
    config, world, device = session.config, session.world, session.runtime.device
    if session.strategy.kind != "last-layer" or not config.cache or config.augment:
        return None
    cached = {}
    for split, dataset in (("train", loaders.train_set), ("val", loaders.val_set)):
        features = labels = None
        if world.leader:  # built once, by rank 0, and shared: the backbone is the same on every rank
            with log.task_bar(f"caching backbone features: {split}", len(dataset)) as bar:
                features, labels, _ = extract(session.prepared.model, session.prepared.classifier,
                                              loaders.fixed(dataset), session.runtime, bar)
        cached[split] = (world.share_tensor(features, device), world.share_tensor(labels, device))
    return cached


def _restore(session, step: Step) -> dict:
    """Fresh run state, or the checkpoint's (model, optimiser, schedule, history, RNG)."""
    saved = session.resumed
    if saved is None:
        return {"epoch": 0, "history": [], "best": {}, "stale": 0}
    session.prepared.model.load_state_dict(saved["model"])
    step.optimizer.load_state_dict(saved["optimizer"])
    step.scheduler.load_state_dict(saved["scheduler"])
    if session.average is not None:
        session.average.load_state_dict(saved["average"])
    rank_rng = saved.get("rank_rng")
    torch.set_rng_state(saved["rng"] if rank_rng is None else rank_rng[session.world.rank])
    return {"epoch": saved["epoch"], "history": list(saved["history"]), "best": dict(saved["best"]),
            "stale": saved["stale"]}


def _shown_model(session):
    """The weights a run validates, keeps in best.pt and evaluates at the end: --ema's average of the trained
    weights, else the trained weights themselves."""
    return session.average.module if session.average is not None else session.prepared.model


def _head(session, module):
    """``module``'s classifier layer, as the cached-feature epochs run it: with --binary, its logit z made the
    class scores [0, z] the whole module outputs."""
    layer = module._leaves[session.prepared.classifier]
    if not session.config.binary:
        return layer
    return lambda features: binary_scores(layer(features))


def _binary_line(classes: list) -> str:
    """Which class --binary's sigmoid scores: class 1 of the sorted class names."""
    return (f"binary: one output z = the logit of '{classes[1]}' (class 1; classes are sorted, so '{classes[0]}' "
            "is class 0) · sigmoid + BCE · predicted class 1 when z > 0")


def _one_epoch(session, step: Step, loaders: _Loaders, cached: dict | None, epoch: int, log: RunLog) -> dict:
    """Train and validate once; the epoch's row of the history (``EpochEnded.to_dict()``), with the training and
    validation images it saw (``train_images``, ``val_images``)."""
    if loaders.parallel:
        return _parallel_epoch(session, step, loaders, cached, epoch, log)
    config, runtime, model = session.config, session.runtime, session.prepared.model
    classes = len(session.data.classes)
    setup.freeze.set_training_mode(model, session.plan, True)
    meter = ClassificationMeter(classes, config.topk)
    with log.epoch_bar(epoch + 1, config.total_epochs, loaders.steps_per_epoch()) as bar:
        if cached is None:
            trained = train_epoch(step, loaders.train(epoch), runtime, meter, bar)
        else:
            head = _head(session, model)
            features, labels = cached["train"]
            order = epoch_order(len(features), config.seed, epoch)
            trained = train_epoch(step._replace(forward=head),
                                  feature_batches(features, labels, config.batch_size, order), runtime, meter, bar)
    model.eval()
    shown = _shown_model(session).eval()
    if cached is None:
        validated = evaluate(step.forward if shown is model else shown, loaders.fixed(loaders.val_set), runtime,
                             meter)
    else:
        features, labels = cached["val"]
        validated = evaluate(_head(session, shown),
                             feature_batches(features, labels, config.batch_size, list(range(len(features)))),
                             runtime, meter)
    row = report.epoch_row(session, epoch, trained, validated, step, cached is not None).to_dict()
    return {**row, "train_images": trained["images"], "val_images": validated["count"]}


def _parallel_epoch(session, step: Step, loaders: _Loaders, cached: dict | None, epoch: int, log: RunLog) -> dict:
    """``_one_epoch`` for several processes or micro-batches: global steps (sharding.py, steps.py), then
    validation sharded over the processes, its counts summed; the row is the one-process row."""
    config, runtime, model, world = session.config, session.runtime, session.prepared.model, session.world
    setup.freeze.set_training_mode(model, session.plan, True)
    meter = ClassificationMeter(len(session.data.classes), config.topk)
    with log.epoch_bar(epoch + 1, config.total_epochs, loaders.steps_per_epoch()) as bar:
        if cached is None:
            plan, batches = loaders.train_plan(epoch)
            trained = train_steps(step, plan, batches, runtime, meter, world, bar)
        else:
            features, labels = cached["train"]
            plan = loaders.plan(epoch, len(features))
            groups = [micro for planned in plan.steps for micro in planned.micro]
            head = _head(session, model)
            trained = train_steps(step._replace(forward=head, ddp=None), plan, feature_groups(features, labels, groups),
                                  runtime, meter, world, bar)
    if trained["skipped_steps"]:
        log.line(f"epoch {epoch + 1}: {trained['skipped_steps']:,} steps skipped: a micro-batch of some process "
                 "held only unreadable images")
    model.eval()
    world.share_buffers(model)  # one model validates: rank 0's BatchNorm statistics everywhere
    shown = _shown_model(session).eval()
    if shown is not model:  # --ema: each process averaged its own statistics; rank 0's average is the one kept
        world.share_buffers(shown)
    if cached is None:
        # The module itself, not the DDP wrapper: uneven shards run different batch counts, and DDP's
        # forward would broadcast buffers in each.
        validated = evaluate(shown, loaders.fixed(loaders.val_set, loaders.shard(len(loaders.val_set))), runtime,
                             meter)
    else:
        features, labels = cached["val"]
        validated = evaluate(_head(session, shown),
                             feature_batches(features, labels, config.batch_size, loaders.shard(len(features))),
                             runtime, meter)
    world.reduce_meter(meter)
    validated = {**meter.result(), "kept": validated["kept"]}
    row = report.epoch_row(session, epoch, trained, validated, step, cached is not None).to_dict()
    return {**row, "train_images": trained["images"], "val_images": validated["count"]}
