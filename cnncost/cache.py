"""On-disk cache of rendered formulas, so repeated ``cnncost formula`` calls skip sympy.

Deriving a closed form costs ~0.4 s of sympy import plus the derivation; a
cache hit costs a file read. Entries are keyed by the request and by a
fingerprint of cnncost's own source files (size and mtime), so any change to
the code invalidates them. The cache is an optimisation only: any failure to
read or write it is ignored, and writes are atomic (temp file + rename).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

ENV_DIR = "CNNCOST_CACHE_DIR"


def cache_dir() -> Path:
    """$CNNCOST_CACHE_DIR, else $XDG_CACHE_HOME/cnncost, else ~/.cache/cnncost."""
    if os.environ.get(ENV_DIR):
        return Path(os.environ[ENV_DIR])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cnncost"


def code_fingerprint() -> str:
    """Digest of every source file's name, size and mtime in the cnncost package."""
    root = Path(__file__).parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        stat = path.stat()
        digest.update(f"{path.relative_to(root)}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return digest.hexdigest()


def key(request: dict) -> str:
    """Cache key of a request (any JSON-serialisable description of it)."""
    text = json.dumps(request, sort_keys=True, default=str) + code_fingerprint()
    return hashlib.sha256(text.encode()).hexdigest()


def get(entry: str) -> str | None:
    """The cached text for ``entry``, or None."""
    try:
        return (cache_dir() / f"{entry}.txt").read_text(encoding="utf-8")
    except OSError:
        return None


def put(entry: str, text: str) -> None:
    """Store ``text`` atomically; failures are ignored (the cache is optional)."""
    try:
        directory = cache_dir()
        directory.mkdir(parents=True, exist_ok=True)
        temporary = directory / f".{entry}.{os.getpid()}.tmp"
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, directory / f"{entry}.txt")
    except OSError:
        pass
