"""Loading checkpoint files (torchvision's among them) into zoo networks, strictly.

Nothing is ever downloaded: the user points at a local file.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from cnncost.arch import ParameterError
from cnncost.errors import CnncostError
from cnncost.userfile import require_regular


class HasStateDict(Protocol):
    """What ``mismatches`` reads of a model: its state_dict (an nn.Module, or a fixed table of one)."""

    def state_dict(self) -> Any: ...


def load_weights(model: nn.Module, path: str | Path) -> nn.Module:
    """Load a state_dict file into ``model`` strictly (``weights_only=True``).

    Checkpoints of families whose published files use older key names are renamed first
    (the family's ``legacy_key``). On any mismatch, raises CnncostError naming the missing, unexpected and
    wrong-shaped keys; the model is left untouched.
    """
    path = Path(path).expanduser()
    state = current_keys(model, read_state_dict(path))
    problems = mismatches(model, state)
    if problems:
        raise ParameterError("weights", f"{path.name} does not fit {type(model).__name__}: {problems}")
    model.load_state_dict(state, strict=True)
    return model


def current_keys(model: nn.Module, state: dict) -> dict:
    """``state`` in the key names of ``model`` today: legacy names renamed by the family of ``model``
    (a zoo network) if it has a rule, and BatchNorm's step counters, which checkpoints written before
    torch had them lack (torchvision's 2017 DenseNet files), filled in as torch's BatchNorm itself does."""
    from cnncost import archs

    name = getattr(model, "network_name", "")
    if name in archs.names():  # an architecture file or a user's module is never looked up as a path
        rename = archs.get(name).legacy_key
        if rename:
            state = {rename(k): v for k, v in state.items()}
    counters = {k: v for k, v in model.state_dict().items() if k.endswith(".num_batches_tracked") and k not in state}
    if counters and any(k.removesuffix("num_batches_tracked") + "running_mean" in state for k in counters):
        state = {**state, **{k: torch.zeros_like(v) for k, v in counters.items()
                             if k.removesuffix("num_batches_tracked") + "running_mean" in state}}
    return state


def read_state_dict(path: str | Path) -> dict:
    """The tensors of a checkpoint file (``weights_only=True``; common wrappers unwrapped).

    A missing or unreadable file is a one-line error naming the parameter ``weights``.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise ParameterError("weights", f"no such file: {path}")
    try:  # a FIFO or device is refused before torch opens it (a FIFO would block forever)
        require_regular(path, "weights file")
    except CnncostError as error:
        raise ParameterError("weights", str(error)) from None
    try:
        state = load_data_only(path)
    except Exception as error:  # pickle, zip and torch errors alike: one line
        raise ParameterError("weights", f"{path} is not a readable PyTorch checkpoint "
                                        f"({error.__class__.__name__})") from None
    return _unwrap(state, path)


def load_data_only(path: Path):
    """``torch.load`` of tensors and plain data only (``weights_only``): never runs code.

    torch's own warnings while unpickling (e.g. about the pickle protocol of a hostile file)
    are silenced: what is wrong with the file reaches the user as the caller's one error line.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.load(path, map_location="cpu", weights_only=True)


def _unwrap(state, path: Path) -> dict:
    """Accept a bare state_dict or the common {'state_dict': ...}/{'model': ...} wrappers."""
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ParameterError("weights", f"{path} does not hold a state_dict of tensors")
    return state


def mismatches(model: HasStateDict, state: dict, shown: int = 5) -> str:
    """'' when ``state`` fits ``model`` exactly, else a one-line summary of the differences."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    given = {k: tuple(v.shape) for k, v in state.items()}
    missing = sorted(set(expected) - set(given))
    unexpected = sorted(set(given) - set(expected))
    wrong = sorted(k for k in set(expected) & set(given) if expected[k] != given[k])
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing ({_list(missing, shown)})")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected ({_list(unexpected, shown)})")
    if wrong:
        shapes = [f"{k} {list(given[k])} vs {list(expected[k])}" for k in wrong]
        parts.append(f"{len(wrong)} wrong-shaped ({_list(shapes, shown)})")
    return "; ".join(parts)


def _list(items: list, shown: int) -> str:
    more = f", … {len(items) - shown} more" if len(items) > shown else ""
    return ", ".join(items[:shown]) + more
