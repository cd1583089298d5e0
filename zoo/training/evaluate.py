"""``cnncost evaluate``: a saved run's accuracy on a dataset's test split.

The run file carries its configuration and class names, so the network is
rebuilt exactly (architecture, hyperparameters, input size) and the dataset's
classes must be the run's, in the same order.
"""

from __future__ import annotations

from pathlib import Path

from torch.utils.data import DataLoader

from cnncost.errors import CnncostError

from . import checkpoint, model, setup
from .config import TrainConfig
from .data import load_data
from .loaders import collate, make_dataset
from .loop import evaluate
from .metrics import ClassificationMeter


def evaluate_run(run_file: str, data: str, batch_size: int = 64, device: str = "auto") -> dict:
    """Top-1/top-k accuracy, loss and per-class figures of ``run_file`` on ``data``'s test split."""
    if batch_size < 1:
        raise CnncostError(f"--batch-size: {batch_size} is out of range (need an integer ≥ 1)")
    saved = checkpoint.load(Path(run_file))
    config = TrainConfig.from_dict(saved["config"])
    source = load_data(data, val_fraction=config.val_fraction, seed=config.seed)
    if list(source.classes) != list(saved["classes"]):
        raise CnncostError(f"--data: its classes {source.classes} are not the run's {saved['classes']}")
    if not source.test:
        raise CnncostError(f"--data: {data} has no test split (a test/ or val/ folder beside train/)")
    prepared = model.prepare(config.arch, config.hyperparameters, config.img_size, len(saved["classes"]),
                             "none", config.dropout)
    prepared.model.load_state_dict(saved["model"])
    runtime = setup.make_runtime(TrainConfig(config.arch, device=device))
    net = prepared.model.to(runtime.device).eval()
    channels = prepared.network.input_shape[0]
    mean, std = setup.model_mean_std(channels)
    dataset = make_dataset(source, "test", size=prepared.config["h"], mean=mean, std=std, channels=channels)
    loader = DataLoader(dataset, batch_size=batch_size, collate_fn=collate)
    meter = ClassificationMeter(len(saved["classes"]), config.topk)
    result = evaluate(net, loader, runtime, meter)
    return {"arch": prepared.arch.name, "split": "test", "count": result["count"], "top1": result["top1"],
            "topk": result["topk"], "k": result["k"], "loss": result["loss"], "per_class": meter.per_class(),
            "confusion": meter.confusion(), "classes": list(saved["classes"])}
