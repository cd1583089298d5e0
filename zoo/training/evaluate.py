"""``cnncost evaluate``: a saved run's accuracy on a dataset's test split.

The run file carries its configuration and class names, so the network is
rebuilt exactly (architecture, hyperparameters, input size) and the dataset's
classes must be the run's, in the same order.
"""

from __future__ import annotations

import sys
from typing import Any, NamedTuple

from torch.utils.data import DataLoader

from cnncost.arch import ParameterError

from ..runtime.config import TrainConfig
from ..runtime.runs import open_run
from . import setup
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


def load_run(run_file: str, device: str = "auto", module: str | None = None) -> LoadedRun:
    """A saved run rebuilt (``runtime.runs.open_run``: its network with the saved weights; ``module`` for a run
    of a user's module) with the runtime that evaluates it (the device, autocast and memory layout)."""
    run = open_run(run_file, device, module)
    runtime = setup.make_runtime(TrainConfig(run.config.arch, device=device), warn=_to_stderr)
    return LoadedRun(run.model, run.prepared, run.config, run.classes, runtime, run.normalisation, run.size)


def _to_stderr(line: str) -> None:
    # Skipped-image notes go to stderr: stdout carries the result (``--json`` must parse).
    print(line, file=sys.stderr)


def evaluate_run(run_file: str, data: str, batch_size: int = 64, device: str = "auto", keep: int = 0,
                 module: str | None = None) -> dict:
    """Top-1/top-k accuracy, loss and per-class figures of ``run_file`` on ``data``'s test split.

    ``keep`` first test images come back under ``kept`` (for the prediction grid);
    ``module`` is for runs of a user's module (see :func:`load_run`).
    """
    if batch_size < 1:
        raise ParameterError("batch_size", f"{batch_size} is out of range (need an integer ≥ 1)")
    run = load_run(run_file, device, module)
    source = load_data(data, val_fraction=run.config.val_fraction, seed=run.config.seed)
    if list(source.classes) != run.classes:
        raise ParameterError("data", f"its classes {source.classes} are not the run's {run.classes}")
    if not source.test:
        raise ParameterError("data", f"{data} has no test split (a test/ or val/ folder beside train/)")
    mean, std = run.normalisation
    dataset = make_dataset(source, "test", size=run.size, mean=mean, std=std,
                           channels=run.prepared.network.input_shape[0], resize=run.config.resize)
    loader = DataLoader(dataset, batch_size=batch_size, collate_fn=collate)
    meter = ClassificationMeter(len(run.classes), run.config.topk)
    skipped: list = []  # notes on unreadable images, held back: an error must stay one line
    run.runtime.warn = skipped.append
    result = evaluate(run.model, loader, run.runtime, meter, keep=keep, seed=run.config.seed)
    if result["count"] == 0:  # every test image unreadable: no accuracy to report (0/0)
        first = sorted(run.runtime.bad_files)[0] if run.runtime.bad_files else "none found"
        raise ParameterError("data", f"none of the {len(run.runtime.bad_files):,} test images in {data} is a "
                                     f"readable image (first: {first})")
    for line in skipped:
        _to_stderr(line)
    return {"arch": run.prepared.arch.name, "split": "test", "count": result["count"], "top1": result["top1"],
            "topk": result["topk"], "k": result["k"], "loss": result["loss"], "per_class": meter.per_class(),
            "confusion": meter.confusion(), "classes": run.classes, "kept": result["kept"]}
