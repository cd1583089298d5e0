"""Registered architectures; importing this package registers them all.

Every module in this package other than the shared helpers registers its family when imported,
so adding a family is adding its file.
"""

import importlib
import pkgutil

from .registry import Arch, Param, get, names, register, resolve

# Modules that hold shared helpers, not families.
HELPERS = {"registry", "rounding"}

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    if _module not in HELPERS:
        importlib.import_module(f"{__name__}.{_module}")

__all__ = ["Arch", "Param", "get", "names", "register", "resolve"]
