"""On-disk cache of rendered formulas, so repeated ``cnncost formula`` calls skip sympy.

Deriving a closed form costs ~0.4 s of sympy import plus the derivation; a
cache hit costs a file read. Entries are keyed by the request and by a
fingerprint of cnncost's and zoo's source files (size and mtime), so any change
to the code invalidates them.

The cache is an optimisation only, and it must never print anything but the
formula it would derive. So an entry is trusted only when it verifies: its
header names its own key and a SHA-256 of its text. Anything else (truncated,
empty, edited, a link to another entry, a FIFO, a device, a directory, an
oversized file) is a miss: the formula is derived again and the entry rewritten
where the name allows it. Entries are read through :mod:`cnncost.userfile`,
which never follows a link, never blocks and bounds the bytes read; writes are
atomic (a fresh temporary file, then rename). Where no usable cache directory
exists, formulas are simply derived every time.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from .errors import CnncostError

ENV_DIR = "CNNCOST_CACHE_DIR"
MAGIC = "cnncost formula cache 2"  # first line of every entry; older entries simply miss
LIMIT = 4 * 1024 * 1024  # bytes; the largest zoo formula page is a few kB


def cache_dir() -> Path | None:
    """$CNNCOST_CACHE_DIR, else $XDG_CACHE_HOME/cnncost, else $HOME/.cache/cnncost; None when
    none is usable (the cache is then off).

    As the XDG spec says, a relative XDG_CACHE_HOME is ignored. $HOME must be set, absolute,
    not ``/``, an existing writable directory: the cache never creates a home directory and
    never falls back to a directory under ``/``.
    """
    if os.environ.get(ENV_DIR):
        return Path(os.environ[ENV_DIR])
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if os.path.isabs(xdg):
        return Path(xdg) / "cnncost"
    home = os.environ.get("HOME", "")
    if not os.path.isabs(home) or Path(home).resolve() == Path("/"):
        return None
    if not (os.path.isdir(home) and os.access(home, os.W_OK | os.X_OK)):
        return None
    return Path(home) / ".cache" / "cnncost"


CODE_PACKAGES = ("cnncost", "zoo")  # zoo converts --module networks: its code shapes their formulas too


def code_fingerprint() -> str:
    """Digest of every source file's name, size and mtime in the cnncost and zoo packages."""
    root = Path(__file__).parent.parent
    digest = hashlib.sha256()
    for package in CODE_PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            stat = path.stat()
            digest.update(f"{path.relative_to(root)}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return digest.hexdigest()


def key(request: dict) -> str:
    """Cache key of a request (any JSON-serialisable description of it)."""
    text = json.dumps(request, sort_keys=True, default=str) + code_fingerprint()
    return hashlib.sha256(text.encode()).hexdigest()


def _checksum(entry: str, text: str) -> str:
    return hashlib.sha256(f"{entry}\n{text}".encode("utf-8")).hexdigest()


def encode(entry: str, text: str) -> bytes:
    """The bytes stored for ``text`` under ``entry``: a header (magic, key, checksum), then the text."""
    return f"{MAGIC}\nkey {entry}\nsha256 {_checksum(entry, text)}\n{text}".encode("utf-8")


def decode(entry: str, data: bytes) -> str | None:
    """The text stored in ``data`` if it is a complete, unedited entry for ``entry``; else None."""
    try:
        magic, key_line, sum_line, text = data.decode("utf-8").split("\n", 3)
    except (UnicodeDecodeError, ValueError):  # not text, or fewer than four parts
        return None
    if magic != MAGIC or key_line != f"key {entry}" or sum_line != f"sha256 {_checksum(entry, text)}":
        return None
    return text


def get(entry: str) -> str | None:
    """The cached text for ``entry``, or None (a miss) unless a regular file verifies."""
    directory = cache_dir()
    if directory is None:
        return None
    from .userfile import read_bytes

    try:
        data = read_bytes(directory / f"{entry}.txt", "formula cache entry", limit=LIMIT, follow_links=False)
    except CnncostError:  # missing, a link, not a regular file, too large: all just misses
        return None
    return decode(entry, data)


def put(entry: str, text: str) -> None:
    """Store ``text`` atomically; failures are ignored (the cache is optional)."""
    directory = cache_dir()
    data = encode(entry, text)
    if directory is None or len(data) > LIMIT:
        return
    temporary = None
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        # mkstemp opens a new name exclusively, so a planted link at the temporary name is never written through.
        descriptor, temporary = tempfile.mkstemp(prefix=f".{entry}.", suffix=".tmp", dir=directory)
        with os.fdopen(descriptor, "wb") as out:
            out.write(data)
        # rename replaces a link, FIFO or stale file at the entry's name, never what it points to.
        os.replace(temporary, directory / f"{entry}.txt")
        temporary = None
    except OSError:
        pass
    finally:
        if temporary is not None:
            try:
                os.unlink(temporary)
            except OSError:
                pass
