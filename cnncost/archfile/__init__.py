"""Architecture files: a network described in TOML, loaded as an ``Arch`` (``cnncost.arch``).

``load_arch("my_net.toml")`` reads and validates the file (every error is one
line ``FILE:LINE: field: problem``) and returns an ``Arch`` whose builder makes a
``layers.Network`` for any values of the file's symbols, so every command that
takes a zoo name takes the file too. The format is documented in
docs/architecture-files.md. Nothing here imports sympy, torch or the registered families.
"""

from __future__ import annotations

import hashlib
import tomllib
from functools import partial

from ..arch import Arch
from ..errors import CnncostError
from ..userfile import read_bytes
from .build import build_network
from .header import read_header
from .locate import Source
from .schema import read_layers

TOP_LEVEL = ("network", "symbols", "layers")
# Far above any real network's file (the zoo's largest would be a few kB), and small enough
# that parsing and locating every value of the largest file allowed stays well under a second.
FILE_LIMIT = 1 << 20
_LOADED: dict = {}  # (path, digest) -> Arch: commands look the same file up several times


def load_arch(path: str) -> Arch:
    """The architecture described by the TOML file at ``path`` (not registered globally).

    ``Arch.name`` is the path as given, so resolving that name (``cnncost.resolve``) finds it again;
    ``Arch.fingerprint`` is a digest of the file's bytes (the formula cache's key).
    """
    data = _read(path)
    digest = hashlib.sha256(data).hexdigest()
    if (path, digest) not in _LOADED:
        _LOADED[(path, digest)] = _parse(path, data, digest)
    return _LOADED[(path, digest)]


def _read(path: str) -> bytes:
    """The file's bytes: regular files only (a FIFO or /dev/zero is refused, not waited on), bounded."""
    return read_bytes(path, "architecture file", FILE_LIMIT)


def _parse(path: str, data: bytes, digest: str) -> Arch:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CnncostError(f"{path}: the architecture file is not UTF-8 text (byte {error.start})") from None
    document = _toml(path, text)
    source = Source(path, text)
    for key in document:
        if key not in TOP_LEVEL:
            raise source.error((key,), f"unknown table (a file has {', '.join(TOP_LEVEL)})")
    header = read_header(source, document)
    layers = read_layers(source, document, header.symbolic, header.fixed)
    build = partial(build_network, source, header.name, layers)
    return Arch(path, build, header.params, header.description, path, fingerprint=digest)


def _toml(path: str, text: str) -> dict:
    """The parsed document; a syntax error keeps tomllib's line (and column)."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        line = text.count("\n") + 1  # "at end of document"
        if "(at line " in message:
            message, _, where = message.rpartition(" (at line ")
            line_text, _, column = where.rstrip(")").partition(", column ")
            line, message = int(line_text), f"{message} (column {column})"
        elif message.endswith(" (at end of document)"):
            message = message.removesuffix(" (at end of document)") + " (at the end of the file)"
        raise CnncostError(f"{path}:{line}: toml: {message}") from None
