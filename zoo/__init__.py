"""The zoo: real PyTorch networks built from cnncost's architecture descriptions.

``SpecModule``, ``to_module`` and ``load_weights`` (and ``build``) import torch when first used;
importing ``zoo`` alone does not, so cnncost can load ``zoo.plugin`` to list the zoo's commands
without torch. ``cnncost`` itself never imports the zoo.
"""

from __future__ import annotations

import fnmatch
import importlib

# Names of this package that live in a submodule importing torch: module -> imported on first use.
_LAZY = {"SpecModule": "from_spec", "to_module": "from_spec", "load_weights": "weights"}


def build(name: str, num_classes: int | None = None, **hyperparameters):
    """A ``torch.nn.Module`` for architecture ``name`` (``zoo.`` prefix accepted).

    ``num_classes`` sets the classifier's outputs; other keywords are the
    architecture's hyperparameters (m, k, n, h, w, padding, ...).
    """
    from cnncost import archs

    from .from_spec import to_module

    spec = archs.get(name)
    if num_classes is not None:
        hyperparameters["classes"] = num_classes
    return to_module(spec.build(**archs.resolve(spec, hyperparameters)))


def list_models(pattern: str = "*") -> list:
    """Names of the zoo's networks matching a shell-style pattern."""
    from cnncost import archs

    return [n for n in archs.names() if fnmatch.fnmatch(n, pattern)]


def __getattr__(name: str):
    """``SpecModule``, ``to_module``, ``load_weights``: imported (with torch) when first asked for."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    globals()[name] = value
    return value


__all__ = ["SpecModule", "build", "list_models", "load_weights", "to_module"]
