"""``--augment SPEC`` as data: the transforms a spec names, their values and ranges, and its one spelling.

A spec is a comma-separated list of named transforms, each with an optional value
(``hflip,vflip,rotate=0.1,crop=0.35,pad-crop=4,jitter=0.2,mixup=0.2,cutmix=1.0``); ``KINDS`` lists them in
the order they run. Parsing needs neither torch nor kornia: a run's config checks its spec with it, and
``zoo.training.augment`` applies the parsed spec to batches.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Callable

from cnncost.arch import ParameterError
from cnncost.errors import CnncostError

# What bare --augment means: the recipe the single --augment switch applied before it took a spec
# (random resized crop, horizontal flip, brightness and contrast jitter of ±20 %).
DEFAULT = "crop=0.35,hflip,brightness=0.2,contrast=0.2"
ALPHA_MAX = 1000.0  # Beta(α, α) above this is λ = 0.5 to within float noise
PAD_MAX = 1024
_DECIMAL = re.compile(r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_INTEGER = re.compile(r"[0-9]{1,7}")


@dataclass(frozen=True)
class Kind:
    """One named transform: its default value (None: it takes none) and the range of its value."""

    default: float | int | None
    allowed: str = ""  # the range in words, for the error line
    ok: Callable[[float], bool] | None = None  # value -> whether it is in range; None for a kind without a value
    integer: bool = False


# In the order they are applied.
KINDS = {
    "crop": Kind(0.35, "the smallest area fraction kept, 0 < A ≤ 1", lambda v: 0 < v <= 1),
    "pad-crop": Kind(4, f"pixels of zero padding, an integer from 1 to {PAD_MAX:,}", lambda v: 1 <= v <= PAD_MAX,
                     integer=True),
    "hflip": Kind(None),
    "vflip": Kind(None),
    "rotate": Kind(0.1, "a fraction of a full turn as Keras RandomRotation's factor, 0 < F ≤ 0.5",
                   lambda v: 0 < v <= 0.5),
    "jitter": Kind(0.2, "a strength, 0 < S < 1", lambda v: 0 < v < 1),
    "brightness": Kind(0.2, "a strength, 0 < S < 1", lambda v: 0 < v < 1),
    "contrast": Kind(0.2, "a strength, 0 < S < 1", lambda v: 0 < v < 1),
    "saturation": Kind(0.2, "a strength, 0 < S < 1", lambda v: 0 < v < 1),
    "mixup": Kind(0.2, f"a Beta(α, α) parameter, 0 < α ≤ {ALPHA_MAX:,.0f}", lambda v: 0 < v <= ALPHA_MAX),
    "cutmix": Kind(1.0, f"a Beta(α, α) parameter, 0 < α ≤ {ALPHA_MAX:,.0f}", lambda v: 0 < v <= ALPHA_MAX),
}
USAGE = ("crop=A, pad-crop=P, hflip, vflip, rotate=F, jitter=S (or brightness=S, contrast=S, saturation=S), "
         "mixup=ALPHA, cutmix=ALPHA")
COLOURS = ("brightness", "contrast", "saturation")  # jitter=S is all three at strength S


def parse(spec) -> tuple:
    """``((name, value), ...)`` of a spec, in application order, every value given or defaulted.

    ``True`` and ``"default"`` (what bare ``--augment`` passes) are ``DEFAULT``; ``False``, ``None``,
    ``""`` and ``"none"`` are no augmentation (run folders written before --augment took a spec hold
    a bool). Anything else that is not a well-formed spec is the one-line error naming --augment,
    the transform and its range.
    """
    text = _legacy(spec)
    if not isinstance(text, str):
        raise ParameterError("augment", f"{_shown(spec)} is not a comma-separated list of transforms ({USAGE})")
    if text.strip().lower() in ("", "none"):
        return ()
    if text.strip().lower() == "default":
        text = DEFAULT
    given: dict = {}
    for item in text.split(","):
        name, value = _item(item, text)
        if name in given:
            raise ParameterError("augment", f"{name} is given twice in {_shown(text)}")
        given[name] = value
    if "crop" in given and "pad-crop" in given:
        raise ParameterError("augment", "crop and pad-crop both choose the crop; give one of them")
    parts = [name for name in COLOURS if name in given]
    if "jitter" in given and parts:
        raise ParameterError("augment", f"jitter is brightness, contrast and saturation at once; give jitter or "
                                        f"{', '.join(parts)}, not both")
    return tuple((name, given[name]) for name in KINDS if name in given)


def canonical(spec) -> str:
    """The spec as text in application order with every value written out (what a run's config holds)."""
    return ",".join(name if value is None else f"{name}={value}" for name, value in parse(spec))


def normalised(spec):
    """``canonical(spec)`` when it parses, else ``spec`` unchanged (``TrainConfig.check`` then says what is wrong)."""
    try:
        return canonical(spec)
    except CnncostError:
        return spec


def _legacy(spec):
    """A run folder's ``augment: true/false`` (and None) as spec text."""
    if spec is True:
        return DEFAULT
    if spec is False or spec is None:
        return ""
    return spec


def _item(item: str, text: str) -> tuple:
    """(name, value) of one ``name`` or ``name=value`` of the spec, checked against its kind."""
    name, equals, value_text = item.partition("=")
    name, value_text = name.strip(), value_text.strip()
    if not name:
        raise ParameterError("augment", f"an empty transform in {_shown(text)} (need a comma-separated list "
                                        f"such as hflip,rotate=0.1)")
    kind = KINDS.get(name)
    if kind is None:
        raise ParameterError("augment", f"unknown transform {_shown(name)} (the transforms: {USAGE})")
    if kind.default is None:
        if equals:
            raise ParameterError("augment", f"{name} takes no value (got {name}={_plain(value_text)})")
        return name, None
    if not equals:
        return name, kind.default
    pattern = _INTEGER if kind.integer else _DECIMAL
    value = None
    if pattern.fullmatch(value_text):
        value = int(value_text) if kind.integer else float(value_text)
    assert kind.ok is not None  # every kind that takes a value declares its range (KINDS)
    if value is None or not math.isfinite(value) or not kind.ok(value):
        raise ParameterError("augment", f"{name}={_plain(value_text)} is out of range (need {kind.allowed})")
    return name, value


def _plain(text: str) -> str:
    """A value as the user typed it when it is short printable text, else ``_shown``."""
    return text if text.isprintable() and 0 < len(text) <= 40 else _shown(text)


def _shown(value) -> str:
    """A value for an error line: repr (one line whatever it holds), cut to 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
