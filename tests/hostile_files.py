"""Hostile files for the CLI property tests: everything a user (or attacker) can name as a file.

Each maker writes one kind of file that is not what a command expects (a FIFO, ``/dev/zero``
behind a link, a directory, non-UTF-8 bytes, an empty file, a file far too large, a symbolic-link
loop, a pickle whose loading would run code) under a folder the test owns, and returns its path
with the suffix the command dispatches on (``.toml`` for an architecture file, ``.pt`` for a
checkpoint). Nothing here reads the files: the product is the code under test.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

# Larger than any text file cnncost reads (cnncost.userfile.TEXT_LIMIT is 8 MiB), written sparse
# so that it costs no disk and no time; a reader that does not bound its reads would allocate it.
HUGE_TEXT_BYTES = 9 * 1024 * 1024
HUGE_BINARY_BYTES = 96 * 1024 * 1024


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _dev_zero(path: Path) -> None:
    path.symlink_to("/dev/zero")


def _directory(path: Path) -> None:
    path.mkdir()


def _non_utf8(path: Path) -> None:
    path.write_bytes(b"[network]\nname = \"\xff\xfe\xc3\x28\"\n\x80\x81\x82 = 1\n")


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _huge(path: Path) -> None:
    with open(path, "wb") as handle:
        handle.truncate(HUGE_BINARY_BYTES if path.suffix == ".pt" else HUGE_TEXT_BYTES)


def _symlink_loop(path: Path) -> None:
    other = path.with_name(path.name + ".loop")
    path.symlink_to(other)
    other.symlink_to(path)


def _dangling(path: Path) -> None:
    path.symlink_to(path.with_name("no-such-target" + path.suffix))


def _missing(path: Path) -> None:
    """Nothing at all at the path."""


def _garbage(path: Path) -> None:
    path.write_bytes(bytes(range(256)) * 7)


HOSTILE_KINDS = {
    "fifo": _fifo, "dev_zero": _dev_zero, "directory": _directory, "non_utf8": _non_utf8,
    "empty": _empty, "huge": _huge, "symlink_loop": _symlink_loop, "dangling": _dangling,
    "missing": _missing, "garbage": _garbage,
}


def make_hostile(kind: str, folder: Path, suffix: str) -> Path:
    """A fresh hostile file of ``kind`` (a key of HOSTILE_KINDS) in ``folder``, named ``*suffix``.

    Each call gets a new name, so Hypothesis examples sharing a folder never collide.
    """
    folder.mkdir(parents=True, exist_ok=True)
    serial = len(os.listdir(folder))
    path = folder / f"{kind}-{serial}{suffix}"
    HOSTILE_KINDS[kind](path)
    return path


class _RunsCode:
    """Unpickling this calls ``os.mkdir(marker)``: proof that a loader ran code from data."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def code_running_pickle(path: Path, marker: Path) -> Path:
    """A pickle (a legacy ``torch.save`` file, as far as its reader can tell) whose unpickling
    creates the folder ``marker``; a safe loader refuses it and leaves no folder."""
    path.write_bytes(pickle.dumps({"state_dict": _RunsCode(str(marker)), "config": {}}, protocol=2))
    return path


def marker_module(path: Path, marker: Path, body: str = "") -> Path:
    """A Python file that creates the folder ``marker`` when imported, then runs ``body``."""
    path.write_text(f"import os\nos.makedirs({str(marker)!r}, exist_ok=True)\n{body}\n")
    return path
