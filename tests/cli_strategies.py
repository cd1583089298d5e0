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


# The training-step options (cnncost.cli.options.STEP_OPTIONS) and cnncost memory's --gpu-memory: valid
# values and hostile ones, each left out, set validly or set to a hostile value.
STEP_VALUES = {
    "--strategy": (["scratch", "last-layer", "head", "full", "partial:1", "partial:3"],
                   ["partial:0", "partial:-1", "partial:99", "partial:", "partial:x", "last", "", "SCRATCH"]),
    "--batch": (["1", "2", "3", "64", "1000000"], [v for v in HOSTILE_NUMBERS if v not in ("1_000", "+3")]),
    "--optimizer": (["sgd", "momentum", "adam", "adamw"], ["lion", "", "SGD", "adam "]),
    "--dtype": (["fp32", "bf16", "fp16"], ["float32", "int8", "", "bf 16"]),
    "--device": (["cuda", "cpu"], ["tpu", "", "cuda:0", "gpu"]),
}
GPU_MEMORY = (["24GiB", "80GB", "16000MiB", "1KiB", "1.5TiB", "123456789"],
              ["", "-1GiB", "0", "24 apples", "GiB", "nanGiB", "1e3GB", "24GiB2", "١GiB"])


@st.composite
def step_args(draw, memory: bool = False):
    """argv words for a random set of step options (and ``--gpu-memory`` for ``memory``)."""
    words = []
    options = dict(STEP_VALUES, **({"--gpu-memory": GPU_MEMORY} if memory else {}))
    for flag_name, (valid, hostile) in options.items():
        choice = draw(st.sampled_from(("omit", "omit", "valid", "valid", "hostile")))
        if choice != "omit":
            words += [flag_name, draw(st.sampled_from(valid if choice == "valid" else hostile))]
    return words
