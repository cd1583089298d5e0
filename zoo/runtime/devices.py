"""``--device``: its choices, their check, and the torch device a choice means on this machine."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cnncost.arch import ParameterError

from .choices import DEVICES

if TYPE_CHECKING:  # torch comes with the work: the CLI reads DEVICES for --help
    import torch


def check_device(device: str) -> None:
    """Refuse a ``--device`` that is not one of ``DEVICES`` (auto, cpu, cuda)."""
    if device not in DEVICES:
        raise ParameterError("device", f"{device!r} is not one of {', '.join(DEVICES)}")


def pick_device(device: str) -> "torch.device":
    """The torch device ``device`` means: auto takes CUDA when torch sees it; cuda without one is an error."""
    import torch

    # cuda asked for explicitly must not fall back to the CPU silently: the run would be far slower than meant
    if device == "cuda" and not torch.cuda.is_available():
        raise ParameterError("device", "cuda was asked for but torch sees no CUDA device")
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    return torch.device("cuda" if use_cuda else "cpu")
