"""Run checkpoints: everything needed to continue a run exactly where it stopped.

``DIR/checkpoint.pt`` is rewritten atomically after every epoch (a crash
mid-write leaves the previous one intact). It holds the model, optimiser and
schedule states, the epoch history, the early-stopping state and the torch
random state; the data order and augmentation are pure functions of (seed,
epoch, index), so nothing else is needed for a bit-identical continuation.
``DIR/best.pt`` holds the weights of the best validation epoch, which the
final test evaluation and ``cnncost evaluate`` use.
"""

from __future__ import annotations

from pathlib import Path

import torch

from cnncost.errors import CnncostError

from .config import TrainConfig
from .files import save_atomic_torch

CHECKPOINT, BEST = "checkpoint.pt", "best.pt"


def save(folder: Path, *, config: TrainConfig, classes: list, epoch: int, model, optimizer, scheduler,
         history: list, best: dict, stale: int) -> None:
    """Write ``folder/checkpoint.pt`` atomically (epochs done, states, history)."""
    save_atomic_torch({
        "format": "cnncost-run/1",
        "config": config.to_dict(),
        "classes": list(classes),
        "epoch": epoch,  # epochs completed
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "history": history,
        "best": best,  # {"epoch": ..., "val_acc": ...}
        "stale": stale,  # epochs since the best one (early stopping)
        "rng": torch.get_rng_state(),
    }, folder / CHECKPOINT)


def save_best(folder: Path, *, config: TrainConfig, classes: list, epoch: int, model) -> None:
    """Write ``folder/best.pt``: the best epoch's weights with what is needed to rebuild them."""
    save_atomic_torch({"format": "cnncost-run/1", "config": config.to_dict(), "classes": list(classes),
                       "epoch": epoch, "model": model.state_dict()}, folder / BEST)


def load(path: Path) -> dict:
    """A saved run file (checkpoint.pt or best.pt); a wrong file is a one-line error."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise CnncostError(f"checkpoint: no such file: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # corrupt zip, pickle or torch errors: one line
        raise CnncostError(f"checkpoint: {path} is not readable ({error.__class__.__name__})") from None
    if not isinstance(state, dict) or state.get("format") != "cnncost-run/1":
        raise CnncostError(f"checkpoint: {path} was not written by cnncost train")
    return state


def resume_state(folder: Path, config: TrainConfig) -> dict:
    """The checkpoint to resume from, after checking it belongs to the same run configuration."""
    state = load(folder / CHECKPOINT) if (folder / CHECKPOINT).exists() else None
    if state is None:
        raise CnncostError(f"--resume: no checkpoint in {folder} to resume from")
    changed = config.changed_fields(TrainConfig.from_dict(state["config"]))
    if changed:
        raise CnncostError(f"--resume: the run in {folder} was started with a different --"
                           + changed[0].replace("_", "-") + "; resume with the same options "
                           "(only --epochs, --patience and --workers may change)")
    return state
