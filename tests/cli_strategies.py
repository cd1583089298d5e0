"""Hypothesis strategies for command lines: option values drawn from each architecture's declaration.

The declaration (``cnncost.archs.registry``: name, default, choices, minimum, symbolic) says which
options a network takes; the strategies draw, per option, nothing, a valid value, or a hostile one
(huge, negative, malformed, superscript digits, empty, NaN), so that one strategy exercises both
the right answers and the one-line refusals.
"""

from __future__ import annotations

from hypothesis import strategies as st

from cnncost.archs import registry

# Numbers a user (or a fuzzer) types where an integer is expected.
HOSTILE_NUMBERS = (
    "9223372036854775808",  # 2^63: one past int64
    "18446744073709551616",  # 2^64
    "-9223372036854775809", "-1", "0", "-0", "²", "³2", "1e5", "1.5", "", " ", "nan", "inf", "-inf",
    "0x10", "1_000", "٣", "+3", "3" * 400, "1,000", "10**3", "2^63",
)
HOSTILE_WORDS = ("", " ", "VALID", "full", "relu6", "same,valid", "nan", "0", "é", "\x00", "-" * 3)
# Options each command spells as a flag; any other declared parameter goes through --set.
FLAGS = {"h", "w", "m", "k", "n", "classes", "in_channels", "padding", "org", "bn", "dropout",
         "activation", "aux_logits"}
EXAMPLE_FILES = ("examples/scratch5.toml", "examples/tiny_inception.toml", "examples/tiny_resnet.toml")


def zoo_names() -> list:
    """Every registered zoo network (what ``cnncost zoo --json`` lists)."""
    return registry.names()


def declared(arch_name: str) -> tuple:
    """The architecture's parameter declarations (zoo name or architecture file)."""
    return registry.get(arch_name).params


def option(name: str, value) -> list:
    """The argv words that set parameter ``name`` to ``value`` (``True``/``False`` for flags)."""
    if name in FLAGS:
        flag = registry.flag(name)
        if isinstance(value, bool):
            return [flag if value else "--no-" + flag[2:]]
        return [flag, str(value)]
    return ["--set", f"{name}={value}"]


def valid_value(p, size_cap: int):
    """A strategy of values the declaration of ``p`` accepts (a network may still refuse them)."""
    if p.choices:
        return st.sampled_from(p.choices)
    if isinstance(p.default, bool):
        return st.booleans()
    if isinstance(p.default, float):
        return st.sampled_from([0.0, 0.1, 0.5, 0.9])
    top = max(p.minimum + 1, min(size_cap, 2 * int(p.default) + 2))
    return st.integers(p.minimum, top)


def hostile_value(p):
    """A strategy of values the declaration of ``p`` must refuse (or, for a few, accept exactly)."""
    if p.choices:
        return st.sampled_from(HOSTILE_WORDS)
    if isinstance(p.default, bool):
        return st.sampled_from(["--" + p.name.replace("_", "-") + "=maybe"])
    return st.sampled_from(HOSTILE_NUMBERS)


@st.composite
def option_args(draw, arch_name: str, hostile: bool = True, size_cap: int = 400):
    """(argv words, bound values) for a random set of ``arch_name``'s options.

    Each declared option is left out, set validly, or (with ``hostile``) set to a hostile value;
    ``bound`` holds the valid values only, keyed by parameter name.
    """
    words, bound = [], {}
    square = draw(st.booleans())
    for p in declared(arch_name):
        if square and p.name == "w":
            continue
        choice = draw(st.sampled_from(("omit", "valid", "valid", "hostile") if hostile else ("omit", "valid")))
        if choice == "omit":
            continue
        if choice == "hostile":
            value = draw(hostile_value(p))
            if isinstance(p.default, bool):
                words.append(value)
            else:
                words += option(p.name, value)
            continue
        value = draw(valid_value(p, size_cap))
        if square and p.name == "h":
            words += ["--hw", str(value)]
            bound["h"] = bound["w"] = value
            continue
        words += option(p.name, value)
        bound[p.name] = value
    return words, bound


def bound_everything(draw, arch_name: str, size_cap: int = 300) -> dict:
    """Valid values for every symbolic parameter of ``arch_name`` (a fully bound formula) plus
    random choices for the others; ``draw`` is a Hypothesis draw function."""
    values = {}
    for p in declared(arch_name):
        if p.symbolic or p.choices or isinstance(p.default, bool) or draw(st.booleans()):
            values[p.name] = draw(valid_value(p, size_cap))
    return values


def words_for(values: dict) -> list:
    """The argv words setting every parameter in ``values``."""
    words = []
    for name, value in values.items():
        words += option(name, value)
    return words
