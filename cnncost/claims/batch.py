"""Many claims at once, from a TOML file: for grading a stack of reports.

    [[claim]]
    name = "001: parameters"          # how the claim is referred to
    source = "001_ffbe2a0302554a71.txt" # optional: where it was written
    arch = "scratch5"                  # optional, default scratch5
    quantity = "params"
    claim = "k*k*3*m + (k*k*m*m)*4 + (8*8*m*n+n) + (10*n+10)"
    layer = "conv1"                    # optional: one layer's count
    tolerance = 0.05                   # optional: a rounded number is right within ±5%
    note = "..."                       # optional: context shown in the report
    options = { padding = "same", hw = 256 }

Top-level ``title`` and ``intro`` head the Markdown report.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from ..errors import CnncostError

KEYS = {"name", "source", "arch", "quantity", "claim", "layer", "options", "note", "tolerance"}


def load(path: str | Path) -> tuple:
    """(page header, claims) of a TOML file, validated; errors name the file and the claim."""
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise CnncostError(f"--claims: cannot read {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise CnncostError(f"--claims: {path}: {error}") from None
    claims = doc.get("claim")
    if not isinstance(claims, list) or not claims:
        raise CnncostError(f"--claims: {path} has no [[claim]] tables")
    for number, item in enumerate(claims, 1):
        unknown = set(item) - KEYS
        if unknown:
            raise CnncostError(f"--claims: {path}: claim {number}: unknown key {sorted(unknown)[0]!r}")
        for key in ("claim", "quantity"):
            if not isinstance(item.get(key), (str, int)):
                raise CnncostError(f"--claims: {path}: claim {number}: missing {key!r}")
    return {"title": doc.get("title", "Claims"), "intro": doc.get("intro", "")}, claims
