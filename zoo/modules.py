"""Torch modules for the engine's composite nodes (residual add, channel concat)."""

from __future__ import annotations

import torch
from torch import nn


class Residual(nn.Module):
    """``after(body(x) + shortcut(x))``; an empty shortcut is the identity."""

    def __init__(self, body: nn.Module, shortcut: nn.Module | None, after: nn.Module | None):
        super().__init__()
        self.body = body
        self.shortcut = shortcut
        self.after = after

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Sum of the two branches, then the ``after`` layers."""
        out = self.body(x) + (self.shortcut(x) if self.shortcut is not None else x)
        return self.after(out) if self.after is not None else out


class Concat(nn.Module):
    """Branches applied to the same input, concatenated along channels."""

    def __init__(self, branches: list):
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Channel-wise concatenation of every branch's output."""
        return torch.cat([branch(x) for branch in self.branches], dim=1)
