"""Registered architectures; importing this package registers them all."""

from . import googlenet, inception, mobilenet, resnet, scratch5, seeds, vgg  # noqa: F401  (register)
from .registry import Arch, Param, get, names, register, resolve

__all__ = ["Arch", "Param", "get", "names", "register", "resolve"]
