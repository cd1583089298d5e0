"""Small run files for the checkpoint tests, saved directly (no training: each takes milliseconds)."""

from __future__ import annotations

from pathlib import Path

import torch

from zoo.runtime import model
from zoo.runtime import checkpoint
from zoo.training import synthetic
from zoo.runtime.config import TrainConfig

SMALL = {"m": 8, "n": 32}  # smallcnn_res at 32×32: a few thousand parameters
CLASSES = list(synthetic.SHAPES)  # the class folders shapes_folder writes, in sorted order


def save_run(folder: Path, arch: str = "smallcnn_res", hyperparameters: dict | None = None,
             classes: list | None = None) -> Path:
    """A best.pt of ``arch`` (randomly initialised, seeded) as ``cnncost train`` writes it; its folder."""
    classes = CLASSES if classes is None else classes
    hyper = dict(SMALL if hyperparameters is None else hyperparameters)
    torch.manual_seed(0)
    prepared = model.prepare(arch, hyper, 32, len(classes))
    folder.mkdir(parents=True, exist_ok=True)
    config = TrainConfig(arch, hyperparameters=hyper, img_size=32, out=str(folder))
    checkpoint.save_best(folder, config=config, classes=classes, epoch=1, model=prepared.model)
    return folder


def edited(source: Path, target: Path, edit) -> Path:
    """A copy of the run file ``source`` whose loaded dict ``edit`` changed in place, saved at ``target``."""
    state = torch.load(source, map_location="cpu", weights_only=True)
    edit(state)
    torch.save(state, target)
    return target


def shapes_folder(root: Path, train_per_class: int = 2, test_per_class: int = 1) -> Path:
    """The synthetic shapes as PNG files, train/<shape>/ and test/<shape>/ (the classes of CLASSES)."""
    for split, count, offset in (("train", train_per_class, 0), ("test", test_per_class, 10_000)):
        for label, name in enumerate(synthetic.SHAPES):
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(count):
                synthetic.render(1, offset + label + 10 * i, 40).save(folder / f"{i}.png")
    return root
