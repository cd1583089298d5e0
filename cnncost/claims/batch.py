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

import math
import tomllib

from ..arch import ParameterError
from ..userfile import read_text

KEYS = {"name", "source", "arch", "quantity", "claim", "layer", "options", "note", "tolerance"}
TOP_KEYS = {"title", "intro", "claim"}
TEXT_KEYS = ("name", "source", "arch", "quantity", "layer", "note")  # strings when present
MODULE_PREFIX = "module:"  # archs.registry.MODULE_PREFIX: an arch of this form imports code


def load(path) -> tuple:
    """(page header, claims) of a TOML file, validated; errors name the file, the claim and the field."""
    text = read_text(path, "claims file")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise _refused(f"{path}: {error}") from None
    for key in sorted(set(doc) - TOP_KEYS):
        raise _refused(f"{path}: unknown top-level key {key!r} (allowed: {', '.join(sorted(TOP_KEYS))})")
    for key in ("title", "intro"):
        if key in doc and not isinstance(doc[key], str):
            raise _refused(f"{path}: {key} must be a string, not {_kind(doc[key])}")
    claims = doc.get("claim")
    if not isinstance(claims, list) or not claims:
        raise _refused(f"{path} has no [[claim]] tables")
    for number, item in enumerate(claims, 1):
        _check_item(path, number, item)
    return {"title": doc.get("title", "Claims"), "intro": doc.get("intro", "")}, claims


def _check_item(path, number: int, item) -> None:
    """Refuse a claim table with a missing, unknown or mistyped field."""
    where = f"{path}: claim {number}"
    if not isinstance(item, dict):
        raise _refused(f"{where}: must be a [[claim]] table, not {_kind(item)}")
    if isinstance(item.get("name"), str):
        where += f" ({item['name']})"
    for key in sorted(set(item) - KEYS):
        raise _refused(f"{where}: unknown key {key!r} (allowed: {', '.join(sorted(KEYS))})")
    for key in ("claim", "quantity"):
        if key not in item:
            raise _refused(f"{where}: missing {key!r}")
    for key in TEXT_KEYS:
        if key in item and not isinstance(item[key], str):
            raise _refused(f"{where}: {key} must be a string, not {_kind(item[key])}")
    claim = item["claim"]
    if not isinstance(claim, str) and (not isinstance(claim, int) or isinstance(claim, bool)):
        raise _refused(f"{where}: claim must be a string (or an integer), not {_kind(claim)}")
    tolerance = item.get("tolerance", 0.0)
    if (isinstance(tolerance, bool) or not isinstance(tolerance, (int, float))
            or not math.isfinite(tolerance) or not 0 <= tolerance <= 1):
        raise _refused(f"{where}: tolerance must be a number from 0 to 1 (a relative error), "
                           f"not {tolerance!r}")
    options = item.get("options", {})
    if not isinstance(options, dict):
        raise _refused(f"{where}: options must be a table such as {{ hw = 100, padding = \"same\" }}, "
                           f"not {_kind(options)}")
    for key, value in options.items():
        if isinstance(value, (dict, list)) or (isinstance(value, float) and not math.isfinite(value)):
            raise _refused(f"{where}: options.{key} must be a number, a string or a boolean, "
                               f"not {_kind(value)}")


def refuse_modules(path, claims: list, allowed: set) -> None:
    """A claims file is data: an arch ``module:SPEC`` (which imports code) runs only when the
    user named that same SPEC with --module on the command line."""
    for number, item in enumerate(claims, 1):
        arch = item.get("arch", "")
        if arch.startswith(MODULE_PREFIX) and arch.removeprefix(MODULE_PREFIX) not in allowed:
            spec = arch.removeprefix(MODULE_PREFIX)
            raise _refused(f"{path}: claim {number}: arch {arch!r} would import and run code; a claims file "
                           f"may only name a module given on the command line too: add --module {spec} to allow it")


def _refused(text: str) -> ParameterError:
    """The error for a bad claims file: ``text`` (which names the file and quotes what it holds) said of the
    parameter ``claims``."""
    return ParameterError("claims", text)


def _kind(value) -> str:
    """'the integer 1', 'an array' — the TOML type of a value, for messages."""
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"the integer {value}"
    if isinstance(value, float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__
