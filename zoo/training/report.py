"""What a run says and leaves behind: the headline, epoch records, metrics.json and the plots.

The run's reports are typed events (``events.py``): ``run_started`` and ``epoch_row`` build them, ``finish``
emits the last one; the sinks (``sinks.py``) print and write them.

Per epoch, each row has train and validation macro precision, recall and F1 (torchmetrics, through
``ClassificationMeter``), their per-class figures, and the validation confusion matrix (up to
``EPOCH_CONFUSION_CLASSES`` classes: C² numbers an epoch, in metrics.json and in every checkpoint).

Throughput: images/s over the training steps of an epoch, and achieved
FLOP/s = images/s × training FLOPs per image, where the FLOPs per image come
from the engine's exact training step (``flops.py`` says what is counted). For
cached last-layer epochs only the trainable layers run, so only their FLOPs count.

Memory: the step's predicted train-bytes and saved-bytes (``cnncost.trainstep``)
next to what the run measured: the peak of ``torch.cuda.max_memory_allocated``
on a GPU, the saved-tensor total of the first training step on a CPU.
"""

from __future__ import annotations

import torch

from ..runtime.files import write_json_atomic
from ..runtime import checkpoint
from . import plots
from .events import EpochEnded, RunEnded, RunStarted, Scores
from .loop import evaluate
from .memory import human_bytes
from .metrics import SCORES, ClassificationMeter, peak_flops_for
from .runfolder import START_FILES

FLOPS_NOTE = ("training FLOPs/image = one step as cnncost.trainstep counts it: forward FLOPs (2 x MACs of conv and "
              "linear layers) + an input gradient (2 x MACs) for each such layer whose input requires grad (something "
              "upstream in the dataflow trains) + a weight gradient (2 x MACs) for each layer that trains; cached "
              "last-layer epochs count the trainable layers' forward and weight gradient only")
APPROXIMATE_NOTE = ("training FLOPs/image approximated (the step could not be analysed): forward FLOPs x 3 for "
                    "trainable layers, x 2 for frozen layers after a trainable one in execution order, x 1 for the "
                    "frozen prefix; cached last-layer epochs count the classifier only")
PREDICTION_GRID = 30  # the 10 x 3 grid of test images: a seeded stratified sample (sample.py)
EPOCH_CONFUSION_CLASSES = 100  # above this many classes an epoch row has no confusion matrix (the end's has)
CLASS_DISTRIBUTION = START_FILES[0]  # drawn when a run starts; removed again if the run saves no epoch
# The PNGs at the end of a run, in the order the last line names them.
END_PLOTS = ("curves.png", "class_scores.png", "confusion.png", "predictions.png", "filters.png")


def run_started(session) -> RunStarted:
    """The run's first event: what it trains, the engine's parameter counts, and the checkpoint it continues
    (its ``headline()`` is the console's first line)."""
    plan, runtime, resumed = session.plan, session.runtime, session.resumed
    return RunStarted(folder=str(session.folder), network=session.prepared.arch.name, strategy=str(session.strategy),
                      classes=tuple(session.data.classes), image_size=session.size,
                      epochs=session.config.total_epochs, trainable_params=plan.trainable_params,
                      frozen_params=plan.frozen_params, device=runtime.device.type, bf16=bool(runtime.amp),
                      channels_last=bool(runtime.channels_last), processes=session.world.size,
                      resumed_from=resumed["epoch"] if resumed else 0,
                      restored=tuple(resumed["history"]) if resumed else ())


def stage_line(session) -> str:
    """'stage 2 from epoch 4: full · lr 0.0001 · trainable 11,689,512 of 11,689,512 (engine formula agrees)'."""
    config, plan = session.config, session.plan
    total = plan.trainable_params + plan.frozen_params
    return (f"stage 2 from epoch {config.epochs + 1}: {session.strategy} · lr {config.second_stage().lr:g} · "
            f"trainable {plan.trainable_params:,} of {total:,}, frozen {plan.frozen_params:,} "
            "(engine formula agrees)")


def batch_line(config, processes: int, dropped: int) -> str:
    """'global batch 64 = 2 processes × 32 (× 1 micro-batch)': how one optimizer step's images are shared out,
    and the images of each epoch that no process trains on, if any."""
    share, micro = config.batch_size // processes, config.accumulate
    parts = f"× {micro} micro-batch{'es' if micro > 1 else ''}" + (f" of {share // micro:,}" if micro > 1 else "")
    line = (f"global batch {config.batch_size:,} = {processes:,} process{'es' if processes > 1 else ''} × "
            f"{share:,} ({parts})")
    if dropped:
        line += (f"; the last {dropped:,} image{'s' if dropped > 1 else ''} of each epoch "
                 f"{'are' if dropped > 1 else 'is'} dropped: fewer than {processes:,} process"
                 f"{'es' if processes > 1 else ''} × {micro:,} micro-batch{'es' if micro > 1 else ''}")
    return line


def device_name(runtime) -> str:
    """The accelerator's name, or 'cpu'."""
    return torch.cuda.get_device_name(runtime.device) if runtime.device.type == "cuda" else "cpu"


def precision(runtime) -> str:
    """The matmul precision the peak is taken at: bf16 under autocast; on CUDA float32
    convolutions run as TF32 when cuDNN allows it (the default), else fp32."""
    if runtime.amp:
        return "bf16"
    if runtime.device.type == "cuda" and torch.backends.cudnn.allow_tf32:
        return "tf32"
    return "fp32"


def epoch_row(session, epoch: int, trained: dict, validated: dict, step, cached: bool) -> EpochEnded:
    """One epoch's record (its ``to_dict()`` is the history row): losses, accuracies, throughput and the
    learning rate at the epoch's end; stage 1 and not best until the loop says otherwise."""
    images_per_s = trained["images"] / max(trained["seconds"], 1e-9)
    flops = session.flops.head_only if cached else session.flops.train
    peak = peak_flops_for(device_name(session.runtime), precision(session.runtime))
    if peak:  # images/s are every process's together, so the peak is every device's
        peak *= session.world.size
    return EpochEnded(epoch=epoch + 1, train=_scores("train", trained), val=_scores("val", validated),
                      k=validated["k"], lr=step.optimizer.param_groups[0]["lr"], images_per_s=images_per_s,
                      tflops=images_per_s * flops / 1e12, peak_fraction=images_per_s * flops / peak if peak else None,
                      seconds=trained["seconds"], cached=cached)


def _scores(split: str, result: dict) -> Scores:
    """A split's figures from its meter's result: loss, accuracy, macro precision, recall and F1, the per-class
    lists, and for validation top-k and the confusion matrix (up to ``EPOCH_CONFUSION_CLASSES`` classes)."""
    macro = {name: result[name] for name in SCORES}
    if split != "val":
        return Scores(loss=result["loss"], top1=result["top1"], per_class=result["per_class"], **macro)
    small = len(result["per_class"]["support"]) <= EPOCH_CONFUSION_CLASSES
    return Scores(loss=result["loss"], top1=result["top1"], per_class=result["per_class"], topk=result["topk"],
                  confusion=result["confusion"] if small else None, **macro)


def class_counts(data) -> dict:
    """Images per class in each split of ``data`` (a DataSource): ``{"train": [...], "val": [...], "test": [...]}``."""
    counts = {}
    for split in ("train", "val", "test"):
        per_class = [0] * len(data.classes)
        for sample in getattr(data, split):
            per_class[sample.label] += 1
        counts[split] = per_class
    return counts


def start(session) -> None:
    """What a run draws before its first epoch: the class distribution of its data, once (rank 0, with plots)."""
    path = session.folder / CLASS_DISTRIBUTION
    if session.config.plots and session.world.leader and not path.exists():
        plots.plot_class_distribution(class_counts(session.data), session.data.classes, path)


def finish(session, state: dict, loaders, log) -> dict:
    """Evaluate the best weights on the test split (else validation); write metrics.json and plots; then the
    ``RunEnded`` event on ``log`` (sinks.RunLog)."""
    model, folder = session.prepared.model, session.folder
    best_file = folder / checkpoint.BEST
    if best_file.exists():
        model.load_state_dict(checkpoint.load(best_file)["model"])
    split = "test" if loaders.test_set is not None else "val"
    dataset = loaders.test_set if split == "test" else loaders.val_set
    meter = ClassificationMeter(len(session.data.classes), session.config.topk)
    model.eval()
    plots_on = session.config.plots
    # The prediction grid's sample is kept only for predictions.png: --no-plots skips it too.
    result = evaluate(model, loaders.fixed(dataset), session.runtime, meter,
                      keep=PREDICTION_GRID if plots_on else 0, seed=session.config.seed)
    metrics = _metrics(session, state, split, result, meter)
    write_json_atomic(folder / "metrics.json", metrics)
    if plots_on:
        _plots(session, state, result, meter)
    saved = ("metrics.json", *log.outputs, *(END_PLOTS + (CLASS_DISTRIBUTION,) if plots_on else ()))
    log.emit(RunEnded(folder=str(folder), evaluated_on=split, accuracy=result["top1"], topk=result["topk"],
                      k=result["k"], loss=result["loss"], per_class=tuple(metrics["per_class"]),
                      memory=state.get("memory"), epochs=len(state["history"]), saved=saved, plots=plots_on))
    return metrics


def _metrics(session, state: dict, split: str, result: dict, meter) -> dict:
    history = state["history"]
    device, dtype = device_name(session.runtime), precision(session.runtime)
    return {
        "config": session.config.to_dict(), "arch_config": session.prepared.config,
        "classes": session.data.classes,
        "data": {"train": len(session.data.train), "val": len(session.data.val), "test": len(session.data.test),
                 "skipped_files": len(session.data.skipped), "unreadable_images": sorted(session.runtime.bad_files),
                 "class_counts": class_counts(session.data)},
        "params": {"trainable": session.plan.trainable_params, "frozen": session.plan.frozen_params,
                   "trainable_layers": sorted(session.plan.trainable), "convention": "params (PyTorch numel)"},
        "epochs": history, "best": state["best"], "stages": _stages(session.config),
        "evaluated_on": split, "test_accuracy": result["top1"], "test_topk": result["topk"], "k": result["k"],
        "test_loss": result["loss"], "per_class": meter.per_class(), "confusion": meter.confusion(),
        "throughput": {"device": device, "dtype": dtype, "peak_flops": peak_flops_for(device, dtype),
                       "forward_flops_per_image": session.flops.forward,
                       "train_flops_per_image": session.flops.train,
                       "head_flops_per_image": session.flops.head_only,
                       "approximation": FLOPS_NOTE if getattr(session.flops, "exact", True) else APPROXIMATE_NOTE},
        "memory": state.get("memory"),
        **_parallel(session),
    }


def _parallel(session) -> dict:
    """metrics.json's ``parallel`` for a run of several processes or micro-batches (nothing otherwise): how the
    global batch was shared out. Throughput figures are every process's together (peak: per device)."""
    config, processes = session.config, session.world.size
    if processes == 1 and config.accumulate == 1:
        return {}
    return {"parallel": {"processes": processes, "global_batch": config.batch_size,
                         "per_process": config.batch_size // processes, "accumulate": config.accumulate,
                         "micro_batch": config.micro_batch, "sync_bn": config.sync_bn}}


def memory_record(step, cost, measured: dict) -> dict:
    """metrics.json's ``memory``: the step options, its predicted bytes (None when it cannot be analysed)
    and ``measured`` (``measured_saved_bytes`` on a CPU, ``measured_peak_bytes`` on a GPU), all exact ints."""
    options = {"strategy": str(step.strategy), "batch": step.batch, "optimizer": step.optimizer,
               "dtype": step.dtype, "device": step.device}
    predicted = {"predicted_train_bytes": None if cost is None else int(cost.train_bytes),
                 "predicted_saved_bytes": None if cost is None else int(cost.saved_bytes)}
    return {"step": options, **predicted, **measured}


def memory_line(record: dict) -> str:
    """'memory: predicted train-bytes 12.3 MiB (saved tensors 8.1 MiB; scratch, batch 32, adam, fp32) ·
    measured saved tensors 8.1 MiB (first step)'."""
    step = record["step"]
    options = f"{step['strategy']}, batch {step['batch']}, {step['optimizer']}, {step['dtype']}"
    if record["predicted_train_bytes"] is None:
        predicted = f"no prediction (the step cannot be analysed; {options})"
    else:
        predicted = (f"predicted train-bytes {human_bytes(record['predicted_train_bytes'])} (saved tensors "
                     f"{human_bytes(record['predicted_saved_bytes'])}; {options})")
    if record.get("measured_peak_bytes") is not None:
        measured = f"measured peak {human_bytes(record['measured_peak_bytes'])} (torch.cuda.max_memory_allocated)"
    elif record.get("measured_saved_bytes") is not None:
        measured = f"measured saved tensors {human_bytes(record['measured_saved_bytes'])} (first step)"
    else:
        measured = "not measured"
    return f"memory: {predicted} · {measured}"


def _stages(config) -> list:
    """The run's stages: strategy, epochs and learning rate of each (one without --then)."""
    stages = [{"strategy": config.strategy, "epochs": config.epochs, "lr": config.lr}]
    if config.then:
        second = config.second_stage()
        stages.append({"strategy": second.strategy, "epochs": config.then_epochs, "lr": second.lr})
    return stages


def save_prediction_grid(kept: tuple, normalisation: tuple, names: list, path) -> bool:
    """The 10×3 grid of ``evaluate(..., keep=30)``'s kept images, titled green/red; False if none."""
    images, true, pred = kept
    if images is None or images.dim() != 4:
        return False
    from ..runtime.images import denormalise

    shown = denormalise(images, *normalisation)
    if shown.shape[1] == 1:
        shown = shown.expand(-1, 3, -1, -1)
    plots.plot_predictions(shown, true, pred, names, path)
    return True


def _plots(session, state: dict, result: dict, meter) -> None:
    """The end's PNGs (``END_PLOTS``); each is optional in spirit but written whenever its data exists."""
    folder, names = session.folder, session.data.classes
    if state["history"]:
        plots.plot_curves(state["history"], folder / "curves.png")
        plots.plot_class_scores(state["history"], names, folder / "class_scores.png")
    plots.plot_confusion(meter.confusion(), names, folder / "confusion.png")
    save_prediction_grid(result["kept"], session.normalisation, names, folder / "predictions.png")
    first_conv = next((m for m in session.prepared.model.modules() if isinstance(m, torch.nn.Conv2d)), None)
    if first_conv is not None:
        plots.plot_filters(first_conv.weight.detach().float().cpu(), folder / "filters.png")
