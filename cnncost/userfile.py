"""Reading a file a user named (or a cache entry) without hanging, exhausting memory or lying.

Every file cnncost reads on a user's behalf (architecture files, claims files, checkpoints'
neighbours, cache entries) goes through :func:`read_bytes`: it opens without blocking (a FIFO
would otherwise wait forever for a writer), refuses anything that is not a regular file
(``/dev/zero`` would otherwise be read until memory runs out), and reads at most ``limit`` bytes,
refusing a longer file instead of silently truncating it. Errors are one ``CnncostError`` line
naming the file and what it was meant to be.
"""

from __future__ import annotations

import os
import stat

from .errors import CnncostError

TEXT_LIMIT = 8 * 1024 * 1024  # an architecture or claims file far beyond any real one


def read_bytes(path, what: str, limit: int = TEXT_LIMIT, follow_links: bool = True) -> bytes:
    """The bytes of the regular file at ``path``; ``what`` names it in errors ("architecture file").

    Raises ``CnncostError`` when it cannot be opened, is not a regular file (FIFO, device,
    directory, socket), is a symbolic link and ``follow_links`` is false, or holds more than
    ``limit`` bytes.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    if not follow_links:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        descriptor = os.open(os.fspath(path), flags)
    except OSError as error:
        reason = "a symbolic link" if not follow_links and os.path.islink(path) else error.strerror
        raise CnncostError(f"{path}: cannot read the {what} ({reason})") from None
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise CnncostError(f"{path}: cannot read the {what} (not a regular file: {_kind(info.st_mode)})")
        if info.st_size > limit:
            raise CnncostError(f"{path}: the {what} is too large ({info.st_size:,} bytes; at most {limit:,})")
        chunks, total = [], 0
        while True:  # read to the end: the size may have grown since fstat
            chunk = os.read(descriptor, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise CnncostError(f"{path}: the {what} is too large (over {limit:,} bytes)")
        return b"".join(chunks)
    except OSError as error:
        raise CnncostError(f"{path}: cannot read the {what} ({error.strerror})") from None
    finally:
        os.close(descriptor)


def read_text(path, what: str, limit: int = TEXT_LIMIT) -> str:
    """The UTF-8 text of the regular file at ``path`` (see :func:`read_bytes`)."""
    data = read_bytes(path, what, limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CnncostError(f"{path}: the {what} is not UTF-8 text (byte {error.start})") from None


def require_regular(path, what: str) -> None:
    """Refuse ``path`` unless it is an existing regular file (checked without opening it,
    so a FIFO never blocks); for files another library opens itself, such as checkpoints."""
    try:
        mode = os.stat(os.fspath(path)).st_mode
    except OSError as error:
        raise CnncostError(f"{path}: cannot read the {what} ({error.strerror})") from None
    if not stat.S_ISREG(mode):
        raise CnncostError(f"{path}: cannot read the {what} (not a regular file: {_kind(mode)})")


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a device"),
                       (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a file"
