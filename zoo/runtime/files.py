"""Atomic file writes for a run folder: checkpoints, metrics.json, plots.

Every writer goes through :func:`open_atomic`: the bytes go to a temporary file
in the target's own directory (so the final ``os.replace`` is a rename within one
file system, which POSIX and Windows make atomic), are flushed and fsynced, and
only then replace the target. A crash, Ctrl-C or an exception mid-way leaves the
old file (or no file) and no temporary behind; never a half-written one, which
matters most for the checkpoint that ``--resume`` reads back.

torch is imported only by :func:`save_atomic_torch`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator


@contextlib.contextmanager
def open_atomic(path: str | os.PathLike) -> Iterator[IO[bytes]]:
    """A binary file handle whose contents replace ``path`` only if the block succeeds.

    On any exception (KeyboardInterrupt included) the temporary file is removed
    and ``path`` is left exactly as it was.
    """
    target = Path(path)
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        # mkstemp creates the file 0600; a run folder's files should be readable
        # like any other file the user writes, so apply the usual umask instead.
        os.chmod(temporary, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())  # the data is on disk before the rename makes it visible
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _fsync_directory(target.parent)


def write_atomic(path: str | os.PathLike, data: bytes | str) -> None:
    """Write ``data`` (str is encoded as UTF-8) to ``path`` atomically."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    elif not isinstance(data, (bytes, bytearray, memoryview)):
        # bytes(12) would silently write twelve zero bytes
        raise TypeError(f"write_atomic takes str or bytes, not {type(data).__name__}")
    with open_atomic(path) as handle:
        handle.write(data)


def write_json_atomic(path: str | os.PathLike, obj) -> None:
    """Write ``obj`` as indented, strict JSON to ``path`` atomically.

    The object is serialised completely before the file is touched, so a value
    that cannot be serialised raises without creating even a temporary file.
    Conversions (see :func:`jsonable`): dataclasses become dicts, paths strings,
    tensors and numpy values lists or numbers, and non-finite floats (a diverged
    loss) become ``null`` so that every JSON parser reads the file.
    """
    text = json.dumps(jsonable(obj), indent=2, allow_nan=False, ensure_ascii=False)
    write_atomic(path, text + "\n")


def save_atomic_torch(obj, path: str | os.PathLike) -> None:
    """``torch.save(obj)`` to ``path`` atomically: a checkpoint is whole or absent."""
    import torch

    with open_atomic(path) as handle:
        torch.save(obj, handle)


def jsonable(obj):
    """``obj`` with every value made plain JSON (dict keys become strings).

    Raises TypeError for values with no JSON meaning, as ``json.dumps`` would.
    """
    if isinstance(obj, dict):
        return {str(key): jsonable(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(value) for value in obj]
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if obj is None or isinstance(obj, (str, int, bool)):
        return obj
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return jsonable(dataclasses.asdict(obj))
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if hasattr(obj, "tolist"):  # torch tensors, numpy arrays and numpy scalars
        return jsonable(obj.tolist())
    raise TypeError(f"cannot write a {type(obj).__name__} to JSON: {obj!r}")


def _umask() -> int:
    # The only portable way to read the umask is to set it and put it back.
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable on POSIX; directories cannot be opened on Windows.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
