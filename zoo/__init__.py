"""The zoo: real PyTorch networks built from cnncost's architecture descriptions.

Importing ``zoo`` imports torch; ``cnncost`` itself never does.
"""

from __future__ import annotations

import fnmatch

from cnncost import archs

from .from_spec import SpecModule, to_module
from .weights import load_weights


def build(name: str, num_classes: int | None = None, **hyperparameters):
    """A ``torch.nn.Module`` for architecture ``name`` (``zoo.`` prefix accepted).

    ``num_classes`` sets the classifier's outputs; other keywords are the
    architecture's hyperparameters (m, k, n, h, w, padding, ...).
    """
    spec = archs.get(name)
    if num_classes is not None:
        hyperparameters["classes"] = num_classes
    return to_module(spec.build(**archs.resolve(spec, hyperparameters)))


def list_models(pattern: str = "*") -> list:
    """Names of the zoo's networks matching a shell-style pattern."""
    return [n for n in archs.names() if fnmatch.fnmatch(n, pattern)]


__all__ = ["SpecModule", "build", "list_models", "load_weights", "to_module"]
