"""cnncost: exact parameter and operation counts of CNNs, as closed forms and numbers.

Light on purpose: importing cnncost (and ``cnncost count``) loads neither sympy
nor torch. ``count`` gives numbers; ``formula`` (which imports sympy) gives
closed forms.
"""

from __future__ import annotations

__version__ = "0.1.0"


def count(arch: str = "scratch5", **hyperparameters):
    """Per-layer costs of ``arch`` at concrete sizes: a ``CostTable`` of ints.

    >>> count("scratch5", m=64, k=3, h=100, w=100).total("params")
    159114
    """
    from . import archs, engine

    spec = archs.get(arch)
    return engine.analyze(spec.build(**archs.resolve(spec, hyperparameters)))


def formula(arch: str = "scratch5", divisible: int | None = None, **bindings):
    """Closed forms for ``arch``: a ``Derivation`` (sympy expressions per convention).

    Variables not given in ``bindings`` stay symbolic.
    """
    from .symbolic import derive

    return derive(arch, bindings, divisible)
