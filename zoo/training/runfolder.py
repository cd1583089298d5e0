"""The run folder (``--out``): checked, claimed with a lock, cleaned of stale temporaries.

A run owns its folder for as long as it runs:

* ``check_out`` refuses, before anything is written, a path that cannot be a run
  folder: empty, a file, under a file, inside a virtual file system (/proc,
  /sys, /dev), or under a folder that cannot be written;
* ``claim`` takes an exclusive ``fcntl.flock`` on ``FOLDER/.lock`` (the file
  names the holder's process id), so a second run into the same folder fails
  at once instead of both writing it. The lock goes with the process, so a
  killed run never leaves the folder locked;
* under the lock, temporaries a killed write left (``.best.pt.*.tmp``, see
  ``files.open_atomic``) are removed: no live writer can own them;
* a folder that holds anything else is refused unless the run is resumed: a new
  run never overwrites an old one's files;
* what a run writes before its first epoch (``START_FILES``: the class-distribution
  chart) is removed again when the run ends without a checkpoint, and a folder holding
  only such files counts as empty: that run saved nothing;
* if the claim created the folder and the run fails before writing anything
  (a bad ``--data``, Ctrl-C while loading), the folder is removed again.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
from pathlib import Path
from typing import Iterator

from cnncost.arch import ParameterError

LOCK = ".lock"
# Written when a run starts, before any epoch: no trace of a run on its own (see claim).
START_FILES = ("class_distribution.png",)
# Virtual file systems: writing a run there is never what the user meant.
VIRTUAL_ROOTS = ("/proc", "/sys", "/dev")
# files.open_atomic's temporaries: ".{name}.{random}.tmp" next to the file they replace.
_TEMPORARY = re.compile(r"^\..+\.[^.]+\.tmp$")


def check_out(out: str) -> Path:
    """``out`` as a folder path a run can be written to; else the one-line ``--out`` error."""
    text = os.fspath(out)
    if not text.strip():
        raise ParameterError("out", "empty; need the name of a run folder (new, empty, or a run to {param:resume})")
    folder = Path(text).expanduser()
    real = os.path.realpath(folder)
    for root in VIRTUAL_ROOTS:
        if real == root or real.startswith(root + "/"):
            raise ParameterError("out", f"{text} is inside {root}, a virtual file system; choose a folder on disk")
    if folder.exists() and not folder.is_dir():
        raise ParameterError("out", f"{text} is a file; need a folder (new, empty, or a run to {{param:resume}})")
    parent = _first_existing(folder)
    if not parent.is_dir():
        raise ParameterError("out", f"{parent} is a file, so {text} cannot be a folder under it")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ParameterError("out", f"cannot write in {parent} (permission denied); choose another {{param:out}}")
    return folder


@contextlib.contextmanager
def claim(folder: Path, resume: bool) -> Iterator[Path]:
    """Hold ``folder`` for one run: created if needed, locked, stale temporaries removed.

    Without ``resume`` the folder must be new or empty. On leaving, the lock is
    released, ``START_FILES`` are removed when no epoch was saved, and, if this
    claim created the folder and nothing else was written in it, the folder is removed.
    """
    created = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ParameterError("out", f"cannot create {folder} ({error.strerror or error})") from None
    try:
        with _locked(folder):
            remove_stale_temporaries(folder)
            if not resume:
                _require_empty(folder)
            try:
                yield folder
            finally:
                if not has_checkpoint(folder):  # a run that saved nothing leaves nothing
                    _remove_start_files(folder)
    finally:
        if created:
            with contextlib.suppress(OSError):
                folder.rmdir()  # only succeeds when empty: a run that wrote nothing leaves nothing


def remove_stale_temporaries(folder: Path) -> list:
    """Delete the ``.NAME.*.tmp`` files an interrupted atomic write left in ``folder``; their names."""
    removed = []
    for entry in os.scandir(folder):
        if entry.is_file(follow_symlinks=False) and _TEMPORARY.match(entry.name):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
                removed.append(entry.name)
    return sorted(removed)


def _remove_start_files(folder: Path) -> None:
    for name in START_FILES:
        with contextlib.suppress(FileNotFoundError):
            (folder / name).unlink()


def has_checkpoint(folder: Path) -> bool:
    """Whether ``folder`` holds a finished epoch (a run that ``--resume`` can continue)."""
    from ..runtime.checkpoint import CHECKPOINT  # checkpoint imports torch; this module does not

    return (Path(folder) / CHECKPOINT).is_file()


def saved_an_epoch(out: str) -> bool:
    """Whether the run folder ``out`` (as the user wrote it) holds a finished epoch, for the line a stopped run
    ends with; an unreadable folder counts as holding none."""
    try:
        return has_checkpoint(Path(out).expanduser())
    except OSError:
        return False


def _require_empty(folder: Path) -> None:
    entries = sorted(name for name in os.listdir(folder) if name != LOCK)
    if set(entries) <= set(START_FILES):  # left by a run killed before its first epoch: it saved nothing
        _remove_start_files(folder)
        return
    if has_checkpoint(folder):
        raise ParameterError("out", f"{folder} already holds a run; continue it with {{param:resume}} "
                                    "or choose another {param:out}")
    shown = ", ".join(entries[:3]) + (f" and {len(entries) - 3:,} more" if len(entries) > 3 else "")
    raise ParameterError("out", f"{folder} is not empty (it holds {shown}); a new run needs a new or empty "
                                "folder: choose another {param:out}")


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """An exclusive, non-blocking flock on ``folder/.lock`` holding this process's id."""
    import fcntl

    path = folder / LOCK
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            holder = _holder(fd)
            os.close(fd)
            if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise ParameterError("out", f"cannot lock {path} ({error.strerror})") from None
            who = f"process {holder}" if holder else "another process"
            raise ParameterError("out", f"{folder} is in use by another cnncost train ({who}); wait for it "
                                        "to finish or choose another {param:out}") from None
        # The holder before us may have unlinked the file between our open and our lock:
        # a lock on a removed file guards nothing, so lock the file that is there now.
        if _same_file(fd, path):
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)  # while still locked: a waiting process then re-opens a fresh file
        os.close(fd)


def _holder(fd: int) -> str:
    """The process id written in a lock file, or '' when unreadable."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return ""
    return text if text.isdigit() else ""


def _same_file(fd: int, path: Path) -> bool:
    try:
        mine, there = os.fstat(fd), os.stat(path)
    except FileNotFoundError:
        return False
    return (mine.st_dev, mine.st_ino) == (there.st_dev, there.st_ino)


def _first_existing(path: Path) -> Path:
    """The nearest of ``path``'s ancestors (itself included) that exists."""
    path = Path(os.path.abspath(path))
    while not path.exists() and path != path.parent:
        path = path.parent
    return path
