"""Run checkpoints: everything needed to continue a run exactly where it stopped.

``DIR/checkpoint.pt`` is rewritten atomically after every epoch (a crash
mid-write leaves the previous one intact). It holds the model, optimiser and
schedule states, the epoch history, the early-stopping state and the torch
random state; the data order and augmentation are pure functions of (seed,
epoch, index), so nothing else is needed for a bit-identical continuation.
``DIR/best.pt`` holds the weights of the best validation epoch, which the
final test evaluation and ``cnncost evaluate`` use.

With ``--ema`` the run's weights are the moving average (``ema.py``): ``best.pt``
holds the average's weights, and ``checkpoint.pt`` the average (``average``)
beside the live weights training continues from (``model``); a run file is
read for its average's weights when it has one (:func:`served_weights`).
"""

from __future__ import annotations

import math
import os
import pickle
from pathlib import Path

import torch

from cnncost.archs.registry import MODULE_PREFIX
from cnncost.arch import ParameterError
from cnncost.errors import CnncostError
from cnncost.userfile import require_regular

from .files import save_atomic_torch
from ..weights import load_data_only
from . import ema
from .config import TrainConfig

CHECKPOINT, BEST = "checkpoint.pt", "best.pt"
FORMAT = "cnncost-run/1"  # the format tag every run file carries


def save(folder: Path, *, config: TrainConfig, classes: list, epoch: int, model, optimizer, scheduler,
         history: list, best: dict, stale: int, rank_rng: list | None = None, average=None) -> None:
    """Write ``folder/checkpoint.pt`` atomically (epochs done, states, history).

    ``rank_rng``: in a run of several processes, every process's torch random state (by rank), so a
    resumed run continues each process's stream; the file then records the world size too.
    ``average``: --ema's ``ema.WeightAverage``, stored whole (weights, buffers, step counter).
    """
    extra = {} if rank_rng is None else {"world_size": len(rank_rng), "rank_rng": list(rank_rng)}
    if average is not None:
        extra["average"] = average.state_dict()
    save_atomic_torch({
        **extra,
        "format": FORMAT,
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
    save_atomic_torch({"format": FORMAT, "config": config.to_dict(), "classes": list(classes),
                       "epoch": epoch, "model": model.state_dict()}, folder / BEST)


def load(path: Path) -> dict:
    """A saved run file (checkpoint.pt or best.pt), its contents checked; a wrong file is a one-line error.

    Only tensors and plain data are unpickled (``weights_only``), and nothing in the file
    is ever imported: see :func:`trusted_arch` for runs of a user's module.
    """
    path = Path(path).expanduser()
    # A FIFO, device or directory is refused before torch opens it (a FIFO would block forever).
    require_regular(path, "run file")
    try:
        state = load_data_only(path)
    except pickle.UnpicklingError as error:  # a pickle asking for code: refused by weights_only
        raise CnncostError(f"{path}: not a cnncost checkpoint (torch refused to unpickle it: "
                           f"{_refusal(error)})") from None
    except Exception as error:  # corrupt zip, truncated file, torch errors: one line
        raise CnncostError(f"{path}: not a cnncost checkpoint (torch cannot read it: "
                           f"{type(error).__name__})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CnncostError(f"{path}: not a cnncost checkpoint (it was not written by cnncost train)")
    _check_contents(state, path)
    return state


def _refusal(error: Exception) -> str:
    """The line of torch's long weights_only message that says what was refused (never its advice
    to load the file with ``weights_only=False``, which would run the file's code)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    for line in lines:
        if "GLOBAL" in line or "Unsupported" in line:
            return line.rstrip(".")
    return type(error).__name__


def _check_contents(state: dict, path: Path) -> None:
    """The run file's fields have the types cnncost train writes (a malformed one is refused whole)."""
    def bad(what: str) -> CnncostError:
        return CnncostError(f"{path}: not a cnncost checkpoint ({what})")

    if not isinstance(state.get("config"), dict):
        raise bad("its run configuration is missing" if "config" not in state else
                  "its run configuration is not a table")
    classes = state.get("classes")
    if not isinstance(classes, list) or not classes or not all(isinstance(c, str) for c in classes):
        raise bad("its class names are missing or not a list of names")
    weights = state.get("model")
    if not isinstance(weights, dict) or not weights or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in weights.items()):
        raise bad("its weights are missing or not a state_dict of tensors")
    if "average" in state and not ema.is_average_state(state["average"]):
        raise bad("its averaged weights (--ema) are not an averaged model's state_dict")


def served_weights(state: dict) -> dict:
    """The weights a loaded run file stands for: its --ema average's when it holds one (checkpoint.pt of an
    --ema run), else ``model`` (best.pt, which already holds the average's weights with --ema)."""
    if "average" in state:
        return ema.averaged_weights(state["average"])
    return state["model"]


def saved_config(state: dict, path: Path) -> TrainConfig:
    """The run configuration stored in a loaded run file, its fields checked as data.

    Only the fields needed to rebuild the network are checked here; the
    architecture's own hyperparameters are checked by the registry as it rebuilds.
    """
    try:
        config = TrainConfig.from_dict(state["config"])
    except TypeError as error:  # a required field missing
        raise CnncostError(f"{path}: not a cnncost checkpoint (its run configuration is malformed: "
                           f"{error})") from None
    checks = (
        ("arch", isinstance(config.arch, str) and config.arch.strip() != "", "an architecture name"),
        ("hyperparameters", isinstance(config.hyperparameters, dict)
         and all(isinstance(k, str) for k in config.hyperparameters), "a table of hyperparameters"),
        ("img_size", config.img_size is None or (_whole(config.img_size) and 1 <= config.img_size <= 1 << 16),
         "an input side from 1 to 65536"),
        ("dropout", config.dropout is None or (_real(config.dropout) and 0 <= config.dropout < 1),
         "a rate in [0, 1)"),
        ("binary", isinstance(config.binary, bool), "true or false"),
        ("ema", config.ema is None or (_real(config.ema) and 0 < config.ema < 1), "a decay in (0, 1)"),
        ("val_fraction", _real(config.val_fraction) and 0 < config.val_fraction < 1, "a share in (0, 1)"),
        ("seed", _whole(config.seed) and config.seed >= 0, "an integer ≥ 0"),
        ("topk", _whole(config.topk) and config.topk >= 1, "an integer ≥ 1"),
    )
    for field, good, need in checks:
        if not good:
            raise CnncostError(f"{path}: not a cnncost checkpoint (its run configuration's {field} is "
                               f"{getattr(config, field)!r}; need {need})")
    return config


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _real(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def trusted_arch(arch: str, module: str | None, path: Path) -> str:
    """The architecture name to rebuild a saved run with, never importing code the file names.

    A run file is data: a run of a user's module (``module:SPEC`` in its config)
    is rebuilt only when the user names the same module again (``--module SPEC``),
    because rebuilding it imports and runs that file. ``module`` is what the user
    passed (with or without the ``module:`` prefix); the user's spelling is the one
    imported.
    """
    given = None if module is None else module.removeprefix(MODULE_PREFIX)
    if not arch.startswith(MODULE_PREFIX):
        if given is not None:
            raise ParameterError("module", f"{path} is a run of {arch}, not of a module; leave {{param:module}} out")
        return arch
    spec = arch.removeprefix(MODULE_PREFIX)
    if given is None:
        raise CnncostError(f"{path}: this run trained {arch}; pass --module {spec} to load it "
                           "(it runs that file's code)")
    if not same_module(spec, given):
        raise ParameterError("module", f"{path} is a run of {arch}, not of {MODULE_PREFIX}{given}; pass "
                                       f"{{param:module}} {spec} to load it (it runs that file's code)")
    return MODULE_PREFIX + given


def same_module(saved: str, given: str) -> bool:
    """Whether two module specs name the same factory: the same text, or the same factory in files
    that are one file. Decided from the text and the file system only: nothing is imported (even
    finding a dotted module would import its parent packages)."""
    if saved == given:
        return True
    saved_target, _, saved_factory = saved.rpartition(":")
    given_target, _, given_factory = given.rpartition(":")
    if not saved_factory or saved_factory != given_factory or not saved_target or not given_target:
        return False
    try:
        return os.path.samefile(os.path.expanduser(saved_target), os.path.expanduser(given_target))
    except (OSError, ValueError):  # either is no file (a dotted name, or gone)
        return False


def resume_state(folder: Path, config: TrainConfig, world_size: int = 1) -> dict:
    """The checkpoint to resume from, after checking it belongs to the same run configuration.

    The world size must be the checkpoint's: the global batch is the same on any number of processes,
    but each process's random stream and the order gradients are summed in are not.
    """
    state = load(folder / CHECKPOINT) if (folder / CHECKPOINT).exists() else None
    if state is None:
        raise ParameterError("resume", f"no checkpoint in {folder} to resume from")
    saved_world = state.get("world_size", 1)
    if saved_world != world_size:
        raise ParameterError("nproc_per_node",
                             f"the run in {folder} trained on {saved_world:,} "
                             f"process{'es' if saved_world != 1 else ''}; "
                             f"resume it on {saved_world:,} (processes per machine × machines), not {world_size:,}, "
                             "to continue it exactly")
    changed = config.changed_fields(TrainConfig.from_dict(state["config"]))
    if changed:
        raise ParameterError("resume", f"the run in {folder} was started with a different {{param:{changed[0]}}}; "
                                       "resume with the same options (only {param:epochs}, {param:patience} and "
                                       "{param:workers} may change)")
    return state
