"""``cnncost evaluate``: a saved run's accuracy on a dataset's test split.

The run file carries its configuration and class names, so the network is
rebuilt exactly (architecture, hyperparameters, input size) and the dataset's
classes must be the run's, in the same order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from torch.utils.data import DataLoader

from cnncost.errors import CnncostError

from . import checkpoint, model, setup
from .config import TrainConfig
from .data import load_data
from .loaders import collate, make_dataset
from .loop import evaluate
from .metrics import ClassificationMeter


class LoadedRun(NamedTuple):
    """A saved run rebuilt: its network with the saved weights, on the chosen device."""

    model: Any  # SpecModule in eval mode, on runtime.device
    prepared: Any  # model.Prepared (architecture, builder keywords, network, engine table)
    config: TrainConfig
    classes: list
    runtime: Any  # loop.Runtime
    normalisation: tuple  # (mean, std) the run's images were normalised with
    size: int  # input side in pixels


def load_run(run_file: str, device: str = "auto") -> LoadedRun:
    """Rebuild a run's network from its checkpoint.pt/best.pt (or its folder: best.pt) with its weights."""
    path = Path(run_file).expanduser()
    if path.is_dir():
        path = path / checkpoint.BEST
    saved = checkpoint.load(path)
    config = TrainConfig.from_dict(saved["config"])
    prepared = model.prepare(config.arch, config.hyperparameters, config.img_size, len(saved["classes"]),
                             "none", config.dropout)
    prepared.model.load_state_dict(saved["model"])
    runtime = setup.make_runtime(TrainConfig(config.arch, device=device))
    net = prepared.model.to(runtime.device).eval()
    channels = prepared.network.input_shape[0]
    return LoadedRun(net, prepared, config, list(saved["classes"]), runtime, setup.model_mean_std(channels),
                     prepared.config["h"])


def evaluate_run(run_file: str, data: str, batch_size: int = 64, device: str = "auto", keep: int = 0) -> dict:
    """Top-1/top-k accuracy, loss and per-class figures of ``run_file`` on ``data``'s test split.

    ``keep`` first test images come back under ``kept`` (for the prediction grid).
    """
    if batch_size < 1:
        raise CnncostError(f"--batch-size: {batch_size} is out of range (need an integer ≥ 1)")
    run = load_run(run_file, device)
    source = load_data(data, val_fraction=run.config.val_fraction, seed=run.config.seed)
    if list(source.classes) != run.classes:
        raise CnncostError(f"--data: its classes {source.classes} are not the run's {run.classes}")
    if not source.test:
        raise CnncostError(f"--data: {data} has no test split (a test/ or val/ folder beside train/)")
    mean, std = run.normalisation
    dataset = make_dataset(source, "test", size=run.size, mean=mean, std=std,
                           channels=run.prepared.network.input_shape[0])
    loader = DataLoader(dataset, batch_size=batch_size, collate_fn=collate)
    meter = ClassificationMeter(len(run.classes), run.config.topk)
    result = evaluate(run.model, loader, run.runtime, meter, keep=keep)
    return {"arch": run.prepared.arch.name, "split": "test", "count": result["count"], "top1": result["top1"],
            "topk": result["topk"], "k": result["k"], "loss": result["loss"], "per_class": meter.per_class(),
            "confusion": meter.confusion(), "classes": run.classes, "kept": result["kept"]}
