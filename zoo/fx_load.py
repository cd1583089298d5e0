"""Finding, importing and calling a user's module factory (``module:SPEC``), and its input size.

The dotted form is imported with ``importlib.import_module``, the current directory
first on ``sys.path``; the file form by path (``spec_from_file_location``), its own
folder on ``sys.path`` for sibling imports. Whatever the user's code raises — an
exception, a syntax error, even ``sys.exit()`` — becomes one line naming the file and
line of the user's code (:func:`user_code`); only Ctrl-C stays Ctrl-C.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
import sysconfig
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable

from cnncost.archs.registry import MODULE_PREFIX
from cnncost.errors import CnncostError
from cnncost.userfile import read_bytes, require_regular

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
        require_regular(path, "module file")  # a FIFO would block the import, a directory is no module
        return path.resolve()
    try:
        # find_spec imports the parent packages of a dotted name: their code is the user's too.
        with _on_path(os.getcwd()), user_code("imported", f"cannot import {target}"):
            found = importlib.util.find_spec(target)
    except CnncostError:
        raise
    except (ImportError, ValueError) as error:
        raise CnncostError(f"cannot import {target}: {error}") from None
    if found is None:
        raise CnncostError(f"cannot import {target}: no module named {target!r} (current directory included)")
    return Path(found.origin) if found.origin and os.path.isfile(found.origin) else None


def digest(path: Path | None) -> str:
    """SHA-256 of a source file's bytes ("" for none)."""
    return hashlib.sha256(read_bytes(path, "module file")).hexdigest() if path else ""


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
    with user_code("imported", f"importing {target} failed"):
        module = _import_path(Path(target).resolve()) if _is_path(target) else _import_dotted(target)
    factory: Any = module
    for part in factory_name.split("."):
        if not hasattr(factory, part):
            raise CnncostError(f"{target} has no attribute {factory_name!r}{_candidates(module)}")
        factory = getattr(factory, part)
    if not callable(factory):
        raise CnncostError(f"{target}:{factory_name} is not a class or function")
    return factory


def _candidates(module: Any) -> str:
    """' (it defines: make, Net)': the public functions and classes the module itself defines."""
    names = [name for name, value in vars(module).items() if not name.startswith("_") and callable(value)
             and getattr(value, "__module__", None) == module.__name__]
    shown = ", ".join(names[:8]) + (", …" if len(names) > 8 else "")
    return f" (it defines: {shown})" if names else " (it defines no functions or classes)"


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

    with user_code("built", f"calling {name}() failed"):
        module = factory()
    if not isinstance(module, nn.Module):
        raise CnncostError(f"{name}() returned an object of type {type(module).__name__}, not a torch.nn.Module")
    return module


@contextmanager
def user_code(stage: str, failure: str):
    """Run the user's code; anything it raises becomes one ``CnncostError`` line.

    ``stage`` says what the module was doing ("imported", "built", "traced") and ``failure``
    begins the line for an exception ("importing net.py failed"). The line starts with the
    file and line of the user's code where it happened. ``SystemExit`` and the other
    ``BaseException`` subclasses are caught too: a module calling ``sys.exit()`` must not end
    cnncost with exit code 0 and no output. ``KeyboardInterrupt`` passes: Ctrl-C stays Ctrl-C.
    """
    try:
        yield
    except (CnncostError, KeyboardInterrupt):
        raise
    except SystemExit as error:
        raise CnncostError(f"{_where(error)}the module called sys.exit({error.code!r}) while being {stage}; "
                           "a module cnncost imports must not exit") from None
    except BaseException as error:  # noqa: BLE001 (the user's code: GeneratorExit, exceptions, ...)
        raise CnncostError(f"{_where(error)}{failure}: {_describe(error)}") from None


def _describe(error: BaseException) -> str:
    """``Type: first line of the message`` (one line, whatever the message holds)."""
    if isinstance(error, SyntaxError):
        text = error.msg or ""
    else:
        text = next((line.strip() for line in str(error).splitlines() if line.strip()), "")
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _library_dirs() -> tuple:
    """Folders whose code is not the user's: Python's, installed packages', cnncost's and zoo's."""
    import cnncost

    paths = sysconfig.get_paths()
    folders = (paths["stdlib"], paths["purelib"], paths["platlib"], os.path.dirname(os.path.abspath(cnncost.__file__)),
               os.path.dirname(os.path.abspath(__file__)))
    return tuple({os.path.realpath(folder) + os.sep for folder in folders})


_LIBRARY_DIRS = _library_dirs()


def _is_users(filename: str) -> bool:
    """True for a real file that is neither Python's, an installed package's, nor cnncost's own."""
    if not filename or filename.startswith("<"):
        return False
    return not (os.path.realpath(filename) + os.sep).startswith(_LIBRARY_DIRS)


def _where(error: BaseException) -> str:
    """``FILE:LINE: `` of the deepest frame of the user's code in the traceback ("" if none);
    a syntax error's own file and line."""
    if isinstance(error, SyntaxError) and error.filename and error.lineno:
        return f"{error.filename}:{error.lineno}: "
    found = ""
    frame = error.__traceback__
    while frame is not None:
        if _is_users(frame.tb_frame.f_code.co_filename):
            found = f"{frame.tb_frame.f_code.co_filename}:{frame.tb_lineno}: "
        frame = frame.tb_next
    return found


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
