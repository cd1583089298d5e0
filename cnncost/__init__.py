"""cnncost: exact parameter and operation counts of CNNs, as closed forms and numbers.

Light on purpose: importing cnncost (and ``cnncost count``) loads neither sympy
nor torch. ``count`` gives numbers; ``formula`` (which imports sympy) gives
closed forms.
"""

from __future__ import annotations

__version__ = "0.1.0"


def count(arch="scratch5", **hyperparameters):
    """Per-layer costs of ``arch`` (a name, resolved by ``cnncost.resolve``, or an ``Arch``) at concrete
    sizes: a ``CostTable`` of ints.

    >>> count("scratch5", m=64, k=3, h=100, w=100).total("params")
    159114
    """
    from . import engine
    from .arch import as_arch, resolve

    spec = as_arch(arch)
    return engine.analyze(spec.build(**resolve(spec, hyperparameters)))


def formula(arch="scratch5", divisible: int | None = None, **bindings):
    """Closed forms for ``arch`` (a name or an ``Arch``): a ``Derivation`` (sympy expressions per convention).

    Variables not given in ``bindings`` stay symbolic.
    """
    from .symbolic import derive

    return derive(arch, bindings, divisible)
