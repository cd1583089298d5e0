"""Plain-number claims as people write them: ``1.8G``, ``1.8 GFLOPs``, ``4.1 GMACs``, ``25.6M params``.

A claim that is a number followed by a scale (K, M, G, B, T, thousand, million,
billion, trillion) and/or a unit word (FLOPs, MACs, MAdds, params) is split into
the number, the scale and the quantity the unit names. Formulas are never split:
the number part must contain no names, and a scale letter that is a variable of
the architecture, or a lowercase k/m, is a scale only with a unit word after it
(``25.6m params``); otherwise it is left to the formula parser. The written
precision (``1.8`` means ±0.05) is kept, so a number near another convention's
value can be named as that mix-up.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import NamedTuple

SCALES = {"K": 10**3, "k": 10**3, "thousand": 10**3, "M": 10**6, "m": 10**6, "million": 10**6,
          "G": 10**9, "B": 10**9, "billion": 10**9, "T": 10**12, "trillion": 10**12}
UNITS = {"flops": "flops", "flop": "flops", "macs": "macs", "mac": "macs", "madds": "macs",
         "mult-adds": "macs", "multiply-adds": "macs", "params": "params", "parameters": "params"}
_TAIL = re.compile(r"(?P<scale>thousand|million|billion|trillion|[KkMmGBT])?\s*"
                   r"(?P<unit>FLOPs?|FLOPS|flops?|MACs?|MACS|macs?|MAdds|[Mm]ult-[Aa]dds|[Mm]ultiply-[Aa]dds|"
                   r"[Pp]arams|[Pp]arameters)?\s*$")
# The written figure: digits, an optional decimal part, an optional power of ten.
_FIGURE = re.compile(r"\s*(?P<whole>[0-9][0-9,_]*)(?:\.(?P<fraction>[0-9]+))?"
                     r"\s*(?:[eE][+-]?[0-9]+|[×x*·]\s*10\s*(?:\^|\*\*)\s*[0-9]+)?\s*$")


class Number(NamedTuple):
    """A number claim's parts: ``number`` is the text left for the parser."""

    number: str
    scale: int  # 1 when none was written
    quantity: str | None  # what the unit word counts, if one was written
    unit: str  # the scale and unit as written ("GFLOPs"), for messages


def split(text: str, names: dict) -> Number | None:
    """The parts of a number-with-units claim, or None when ``text`` has no scale or unit."""
    match = _TAIL.search(text)
    # every part of the pattern is optional and it is anchored at the end: it matches any text
    assert match is not None
    scale, unit = match.group("scale"), match.group("unit")
    if not scale and not unit:
        return None
    if not unit and (scale in names or scale in ("k", "m")):
        return None  # a variable (2mk ends in k): a formula, not a unit; "25.6m params" is a unit
    number = text[:match.start()].rstrip()
    if not number or re.search(r"[^\W\d_]", number.replace("×", "").replace("e", "").replace("E", "")):
        return None  # no figure, or names in front: the parser will say what is wrong
    if number[-1] not in "0123456789)]⁰¹²³⁴⁵⁶⁷⁸⁹":
        return None
    return Number(number, SCALES[scale] if scale else 1, UNITS[unit.lower()] if unit else None,
                  text[match.start():].strip())


def rounding(number_text: str, scale: int) -> float:
    """The relative precision of a written figure: 1.8 means ±0.05/1.8, 116,800,000 ±50,000/116,800,000;
    233,603,072 alone is exact."""
    match = _FIGURE.match(number_text)
    if not match:
        return 0.0
    whole = match.group("whole").replace(",", "").replace("_", "")
    fraction = match.group("fraction") or ""
    powered = scale != 1 or match.group(0).strip() != (match.group("whole") + (f".{fraction}" if fraction else ""))
    if not fraction and not powered:
        # An integer written in full is exact unless it ends in zeros: 116,800,000 may be
        # 116.8 M rounded (±50,000). Rounding only ever explains a NOT EQUAL, never makes EQUAL.
        zeros = len(whole) - len(whole.rstrip("0"))
        value = int(whole) if whole.isdigit() else 0
        return float(Fraction(10 ** zeros, 2 * value)) if zeros and value else 0.0
    mantissa = Fraction(int(whole + fraction), 10 ** len(fraction))
    if mantissa == 0:
        return 0.0
    return float(Fraction(1, 2 * 10 ** len(fraction)) / mantissa)
