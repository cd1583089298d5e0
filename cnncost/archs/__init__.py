"""Registered architectures; importing this package registers them all."""

from . import scratch5  # noqa: F401  (registers)
from .registry import Arch, Param, get, names, register, resolve

__all__ = ["Arch", "Param", "get", "names", "register", "resolve"]
