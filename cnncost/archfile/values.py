"""Type checks of raw TOML values, each failing with ``FILE:LINE: field: problem``."""

from __future__ import annotations

import difflib
import re
from typing import Any

from .locate import Source

SYMBOL_NAME = re.compile(r"[A-Za-z]+")  # letters only: check's claim parser reads "2mk" as 2·m·k


def describe(value: Any) -> str:
    """A TOML value's kind, for 'expected X, got Y' messages."""
    kinds = {bool: "true/false", int: "a whole number", float: "a decimal number", str: "a string",
             list: "an array", dict: "a table"}
    kind = next((text for t, text in kinds.items() if isinstance(value, t)), type(value).__name__)
    if isinstance(value, bool):
        return f"{kind} ({str(value).lower()})"  # as TOML spells it
    return f"{kind} ({value!r})" if isinstance(value, (int, float, str)) else kind


def table(source: Source, path: tuple, value: Any, allowed, what: str) -> dict:
    """``value`` as a table whose keys are all in ``allowed`` (None: any key)."""
    if not isinstance(value, dict):
        raise source.error(path, f"expected a table, got {describe(value)}")
    for key in value if allowed is not None else ():
        if key not in allowed:
            raise source.error(path + (key,), f"unknown field for {what}{suggest(key, allowed)} "
                                              f"(fields: {', '.join(allowed)})")
    return value


def suggest(word: str, choices) -> str:
    """' (did you mean X?)' when a close match exists."""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def integer(source: Source, path: tuple, value: Any, minimum: int) -> int:
    """A whole number ≥ ``minimum`` (TOML booleans and decimals refused)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise source.error(path, f"expected a whole number ≥ {minimum}, got {describe(value)}")
    if value < minimum:
        raise source.error(path, f"{value} is out of range (need a whole number ≥ {minimum})")
    return value


def string(source: Source, path: tuple, value: Any) -> str:
    """A string."""
    if not isinstance(value, str):
        raise source.error(path, f"expected a string, got {describe(value)}")
    return value


def boolean(source: Source, path: tuple, value: Any) -> bool:
    """true or false."""
    if not isinstance(value, bool):
        raise source.error(path, f"expected true or false, got {describe(value)}")
    return value


def number(source: Source, path: tuple, value: Any, low: float, high: float, closed_high: bool) -> float:
    """A decimal (or whole) number in [low, high] or [low, high)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise source.error(path, f"expected a number, got {describe(value)}")
    if not (low <= value <= high) or (value == high and not closed_high):
        bound = f"{low} ≤ value {'≤' if closed_high else '<'} {high}"
        raise source.error(path, f"{value} is out of range (need {bound})")
    return float(value)


def symbol_name(source: Source, path: tuple, name: Any, reserved: frozenset, what: str) -> str:
    """A name a symbol or repeat index may have: letters only, not reserved."""
    name = string(source, path, name)
    if not SYMBOL_NAME.fullmatch(name):
        raise source.error(path, f"{what} {name!r} must be letters only (A-Z, a-z), so that "
                                 "check's claims can use it")
    if name in reserved:
        raise source.error(path, f"{what} {name!r} is a reserved name (input size, padding word, "
                                 "Python keyword or sympy name); choose another")
    return name
