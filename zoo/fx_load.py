"""Finding, importing and calling a user's module factory (``module:SPEC``), and its input size.

The dotted form is imported with ``importlib.import_module``, the current directory
first on ``sys.path``; the file form by path (``spec_from_file_location``), its own
folder on ``sys.path`` for sibling imports. Errors in the user's code become one line.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable

from cnncost.archs.registry import MODULE_PREFIX
from cnncost.errors import CnncostError

SIZE_ATTRIBUTES = ("input_size", "input_shape")


def split_spec(spec: str) -> tuple:
    """``target:factory`` -> (target, factory)."""
    target, sep, factory = spec.rpartition(":")
    if not sep or not target or not factory:
        raise CnncostError(f"{MODULE_PREFIX}{spec}: give the factory after a colon, e.g. "
                           "module:path/to/net.py:make or module:package.net:Net")
    return target, factory


def _is_path(target: str) -> bool:
    return target.endswith(".py") or "/" in target or os.sep in target


def source_file(target: str) -> Path | None:
    """The file the target's code comes from (None when it cannot be told without importing)."""
    if _is_path(target):
        path = Path(target).expanduser()
        if not path.is_file():
            raise CnncostError(f"{target}: no such file")
        return path.resolve()
    try:
        with _on_path(os.getcwd()):
            found = importlib.util.find_spec(target)
    except (ImportError, ValueError) as error:
        raise CnncostError(f"cannot import {target}: {error}") from None
    if found is None:
        raise CnncostError(f"cannot import {target}: no module named {target!r} (current directory included)")
    return Path(found.origin) if found.origin and os.path.isfile(found.origin) else None


def digest(path: Path | None) -> str:
    """SHA-256 of a source file's bytes ("" for none)."""
    return hashlib.sha256(path.read_bytes()).hexdigest() if path else ""


@contextmanager
def _on_path(folder: str):
    """``folder`` first on sys.path while the user's code is imported."""
    sys.path.insert(0, folder)
    try:
        yield
    finally:
        if folder in sys.path:
            sys.path.remove(folder)


def load_factory(target: str, factory_name: str) -> Callable:
    """Import the target (by path or dotted name) and return its factory attribute."""
    try:
        module = _import_path(Path(target).resolve()) if _is_path(target) else _import_dotted(target)
    except CnncostError:
        raise
    except Exception as error:  # the user's module failed to import
        raise CnncostError(f"importing {target} failed: {type(error).__name__}: {error}") from None
    factory: Any = module
    for part in factory_name.split("."):
        if not hasattr(factory, part):
            raise CnncostError(f"{target} has no attribute {factory_name!r}")
        factory = getattr(factory, part)
    if not callable(factory):
        raise CnncostError(f"{target}:{factory_name} is not a class or function")
    return factory


def _import_dotted(target: str):
    with _on_path(os.getcwd()):
        return importlib.import_module(target)


def _import_path(path: Path):
    name = "_cnncost_user_" + hashlib.sha256(str(path).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise CnncostError(f"{path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look modules up here
    with _on_path(str(path.parent)):  # the file's own sibling imports
        spec.loader.exec_module(module)
    return module


def instantiate(factory: Callable, name: str) -> Any:
    """``factory()``, which must return an ``nn.Module``."""
    from torch import nn

    try:
        module = factory()
    except Exception as error:
        raise CnncostError(f"calling {name}() failed: {type(error).__name__}: {error}") from None
    if not isinstance(module, nn.Module):
        raise CnncostError(f"{name}() returned an object of type {type(module).__name__}, not a torch.nn.Module")
    return module


def input_size(*owners: Any) -> tuple | None:
    """(C or None, H, W) from the first ``input_size``/``input_shape`` attribute of the owners
    (the factory, then its module)."""
    for owner in owners:
        for attribute in SIZE_ATTRIBUTES:
            value = getattr(owner, attribute, None)
            if value is not None:
                return parse_size(value, f"{attribute} of {getattr(owner, '__name__', type(owner).__name__)}")
    return None


def parse_size(value: Any, what: str) -> tuple:
    """(C or None, H, W) from (C, H, W), (N, C, H, W), (H, W) or one int; anything else is an error."""
    if isinstance(value, int):
        value = (value, value)
    dims = tuple(value) if isinstance(value, (tuple, list)) else ()
    if len(dims) == 4:
        dims = dims[1:]  # (N, C, H, W)
    if len(dims) == 2:
        dims = (None,) + dims
    if len(dims) != 3 or not all(type(d) is int and d >= 1 for d in dims if d is not None):
        raise CnncostError(f"{what}: {value!r} is not an input size (give (C, H, W), (H, W) or one int)")
    return dims
