"""Factories that fail in ways a well-behaved program never does: exiting, odd BaseExceptions."""

import sys

from torch import nn


def exits():
    """Calls sys.exit() instead of returning a module."""
    sys.exit("bye")  # line 10


def generator_exit():
    """Raises a BaseException that is neither an Exception nor SystemExit."""
    raise GeneratorExit()  # line 15


def _deep():
    return nn.Conv2d(3, 4, 3, groups=2)  # line 19: torch refuses: 3 channels in 2 groups


def deep_error():
    """Fails inside torch, called from the user's helper: the helper's line is named."""
    return nn.Sequential(_deep())


class ExitsInForward(nn.Module):
    """Exits while being traced."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        sys.exit(4)  # line 35
