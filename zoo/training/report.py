"""What a run says and leaves behind: the headline, epoch rows, metrics.json and the plots.

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

from . import checkpoint, plots
from .files import write_json_atomic
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


def headline(session) -> str:
    """'vgg19 · last-layer · 10 classes · 224×224 · trainable 40,970 of 139,611,210, frozen 139,570,240
    (engine formula agrees) · cuda bf16 channels_last'."""
    plan, data = session.plan, session.data
    total = plan.trainable_params + plan.frozen_params
    return (f"{session.prepared.arch.name} · {session.strategy} · {len(data.classes)} classes · "
            f"{session.size}×{session.size} · trainable {plan.trainable_params:,} of {total:,}, frozen "
            f"{plan.frozen_params:,} (engine formula agrees) · {session.runtime.device.type}"
            + (" bf16" if session.runtime.amp else "") + (" channels_last" if session.runtime.channels_last else ""))


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


def epoch_row(session, epoch: int, trained: dict, validated: dict, step, cached: bool) -> dict:
    """One history row: losses, accuracies, throughput and the learning rate at the epoch's end."""
    images_per_s = trained["images"] / max(trained["seconds"], 1e-9)
    flops = session.flops.head_only if cached else session.flops.train
    peak = peak_flops_for(device_name(session.runtime), precision(session.runtime))
    if peak:  # images/s are every process's together, so the peak is every device's
        peak *= session.world.size
    return {"peak_fraction": images_per_s * flops / peak if peak else None,
            "epoch": epoch + 1, "train_loss": trained["loss"], "train_acc": trained["top1"],
            "val_loss": validated["loss"], "val_acc": validated["top1"], "val_topk": validated["topk"],
            "k": validated["k"], "images_per_s": images_per_s, "tflops": images_per_s * flops / 1e12,
            "lr": step.optimizer.param_groups[0]["lr"], "seconds": trained["seconds"], "cached": cached,
            **_class_figures("train", trained), **_class_figures("val", validated)}


def _class_figures(split: str, result: dict) -> dict:
    """An epoch row's figures per class of ``split`` from its meter's result: macro precision, recall and F1,
    the per-class lists, and for validation the confusion matrix (up to ``EPOCH_CONFUSION_CLASSES`` classes)."""
    figures = {f"{split}_{name}": result[name] for name in SCORES}
    figures[f"{split}_per_class"] = result["per_class"]
    if split == "val" and len(result["per_class"]["support"]) <= EPOCH_CONFUSION_CLASSES:
        figures["val_confusion"] = result["confusion"]
    return figures


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


def finish(session, state: dict, loaders, console) -> dict:
    """Evaluate the best weights on the test split (else validation); write metrics.json and plots."""
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
    if state.get("memory") is not None:
        console.line(memory_line(state["memory"]))
    write_json_atomic(folder / "metrics.json", metrics)
    if plots_on:
        _plots(session, state, result, meter)
    console.line(f"{split} accuracy {result['top1']:.4f} (top-{result['k']} {result['topk']:.4f}) · run saved "
                 f"to {folder}/ " + (f"(metrics.json, {', '.join(END_PLOTS + (CLASS_DISTRIBUTION,))})"
                                     if plots_on else "(metrics.json; plots skipped: --no-plots)"))
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
    from .loaders import denormalise

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
