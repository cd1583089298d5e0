"""The fvcore and ptflops conventions against the tools themselves.

Single layers of every type (fixed cases and Hypothesis over shapes and options),
a network with residual adds and concatenations, per-layer attribution, scratch5
over its options, and registered networks at a small input size: in the suite the
sample covering every family and node kind, every one with ``python -m tests.test_tool_conventions``.
"""

from __future__ import annotations

import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cnncost
import zoo
from cnncost import archs, engine, kinds
from cnncost import layers as L
from cnncost import tool_conventions as tc
from cnncost.conventions import CONVENTIONS, QUANTITIES, totals
from cnncost.errors import CnncostError
from zoo import oracles, to_module
from zoo.from_spec import ACTIVATIONS

from .strategies import scratch5_configs
from .zoo_helpers import config, covering_sample, fast_build, small_size

warnings.filterwarnings("ignore", module="fvcore")  # tracer and unsupported-op chatter
warnings.filterwarnings("ignore", message=".*TracerWarning.*")


def tools_agree(network: L.Network) -> None:
    """Engine totals of both conventions == the tools' totals on the torch module."""
    table = engine.analyze(network)
    module = to_module(network)
    shape = tuple(network.input_shape)
    assert table.total("fvcore") == oracles.fvcore_total(module, shape)
    assert table.total("ptflops") == oracles.ptflops_macs(module, shape)


# --- every layer type and option, once --------------------------------------

CASES = [
    (L.Conv2d("c", 4, 3, padding=1), (3, 9, 8)),
    (L.Conv2d("c", 6, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=3, bias=False), (3, 11, 9)),
    (L.Conv2d("c", 4, 4, padding="same"), (2, 7, 6)),  # fvcore alone would count 0 here
    (L.Conv2d("c", 4, 3, padding="valid", groups=2), (2, 7, 6)),
    (L.Conv2d("c", 8, 3, stride=2, padding=1, groups=8, bias=False), (8, 9, 9)),  # depthwise
    (L.Linear("fc", 7), (12,)),
    (L.Linear("fc", 7, bias=False), (12,)),
    (L.BatchNorm2d("bn"), (3, 5, 4)),
    (L.BatchNorm2d("bn", affine=False), (3, 5, 4)),
    (L.BatchNorm2d("bn", track_running_stats=False), (3, 5, 4)),  # runs in training mode in eval
    (L.BatchNorm2d("bn", affine=False, track_running_stats=False), (3, 5, 4)),
    (L.BatchNorm1d("bn"), (10,)),
    (L.BatchNorm1d("bn", affine=False), (10,)),
    (L.MaxPool2d("p", 3, 2, 1), (2, 9, 8)),
    (L.MaxPool2d("p", 2, ceil_mode=True, dilation=2), (2, 9, 8)),
    (L.AvgPool2d("p", 2), (2, 9, 8)),
    (L.AvgPool2d("p", 3, 2, 1, ceil_mode=True, count_include_pad=False), (2, 9, 8)),
    (L.AdaptiveAvgPool2d("p", 1), (4, 5, 6)),
    (L.AdaptiveAvgPool2d("p", (2, 3)), (4, 5, 6)),
    (L.Dropout("d"), (3, 4, 4)),
    (L.Dropout("d", 0.2), (10,)),
    (L.Flatten("f"), (3, 4, 5)),
    (L.ZeroPad2d("z", (1, 2, 0, 3)), (2, 4, 5)),
    *[(L.Activation("a", function), (3, 4, 5)) for function in ACTIVATIONS],
    *[(L.Activation("a", function), (10,)) for function in ACTIVATIONS],
]


@pytest.mark.parametrize("node, shape", CASES,
                         ids=[f"{type(n).__name__}-{getattr(n, 'function', i)}-{len(s)}d" for i, (n, s) in enumerate(CASES)])
def test_each_layer_type_matches_the_tools(node, shape):
    tools_agree(L.Network("t", shape, (node,)))


# --- random shapes and options ------------------------------------------------

@st.composite
def convs(draw):
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    cin, cout = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    padding = draw(st.one_of(st.integers(0, 2), st.tuples(st.integers(0, 2), st.integers(0, 2)),
                             st.sampled_from(["same", "valid"])))
    stride = 1 if padding == "same" else (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    node = L.Conv2d("c", cout, (draw(st.integers(1, 4)), draw(st.integers(1, 4))), stride, padding,
                    (draw(st.integers(1, 2)), draw(st.integers(1, 2))), groups, draw(st.booleans()))
    return node, (cin, draw(st.integers(8, 16)), draw(st.integers(8, 16)))


@st.composite
def pools(draw):
    k = draw(st.integers(1, 3))
    stride = draw(st.one_of(st.none(), st.integers(1, 3)))
    pad = draw(st.integers(0, k // 2))
    if draw(st.booleans()):
        node = L.MaxPool2d("p", k, stride, pad, draw(st.integers(1, 2)), draw(st.booleans()))
    else:
        node = L.AvgPool2d("p", k, stride, pad, draw(st.booleans()), draw(st.booleans()))
    return node, (draw(st.integers(1, 4)), draw(st.integers(8, 14)), draw(st.integers(8, 14)))


def spatial(low: int = 1):
    return st.tuples(st.integers(1, 4), st.integers(low, 9), st.integers(low, 9))


SINGLE_LAYERS = st.one_of(
    convs(),
    pools(),
    st.tuples(st.builds(L.AdaptiveAvgPool2d, st.just("p"),
                        st.one_of(st.integers(1, 4), st.tuples(st.integers(1, 4), st.integers(1, 4))),
                        call=st.just("module")), spatial()),
    # BatchNorm without running stats runs in training mode: torch needs > 1 value per channel.
    st.tuples(st.builds(lambda a, t: L.BatchNorm2d("bn", a, t), st.booleans(), st.booleans()), spatial(low=2)),
    st.tuples(st.builds(lambda a: L.BatchNorm1d("bn", a), st.booleans()), st.tuples(st.integers(1, 40))),
    st.tuples(st.builds(L.Linear, st.just("fc"), st.integers(1, 30), st.booleans(), call=st.just("module")),
              st.tuples(st.integers(1, 60))),
    st.tuples(st.builds(L.Activation, st.just("a"), st.sampled_from(sorted(ACTIVATIONS)), call=st.just("module")),
              st.one_of(spatial(), st.tuples(st.integers(1, 50)))),
    st.tuples(st.builds(L.ZeroPad2d, st.just("z"), st.tuples(*[st.integers(0, 3)] * 4), mode=st.just("constant"),
                        value=st.just(0.0)), spatial()),
    st.tuples(st.just(L.Flatten("f")), spatial()),
    st.tuples(st.just(L.Dropout("d")), st.one_of(spatial(), st.tuples(st.integers(1, 50)))),
)


@settings(max_examples=120)
@given(SINGLE_LAYERS)
def test_random_single_layers_match_the_tools(case):
    node, shape = case
    tools_agree(L.Network("t", shape, (node,)))


# --- composites and per-layer attribution --------------------------------------

def kitchen_sink() -> L.Network:
    """Every layer type, a residual add (identity and projected) and a concatenation."""
    acts = tuple(sorted(ACTIVATIONS))
    return L.Network("sink", (3, 17, 15), (
        L.Conv2d("stem", 8, 3, padding="same", bias=False), L.BatchNorm2d("stem_bn"), L.Activation("stem_act"),
        L.Residual("res1", body=(L.Conv2d("res1.c1", 8, 3, padding=1), L.Activation("res1.a", "gelu"),
                                 L.Conv2d("res1.c2", 8, 3, padding=1, groups=4)),
                   after=(L.Activation("res1.out", "relu6"),)),
        L.Residual("res2", body=(L.Conv2d("res2.c1", 12, 3, stride=2, padding=1),),
                   shortcut=(L.Conv2d("res2.proj", 12, 1, stride=2, bias=False),
                             L.BatchNorm2d("res2.bn", affine=False)),
                   after=(L.Activation("res2.out", "silu"),)),
        L.Concat("mix", branches=(
            (L.Conv2d("mix.b0", 4, 1), L.Activation("mix.b0a", "mish")),
            (L.ZeroPad2d("mix.pad", (1, 1, 1, 1)), L.AvgPool2d("mix.avg", 3, 1)),
            (L.MaxPool2d("mix.max", 3, 1, 1), L.Activation("mix.maxa", "elu")),
        )),
        L.AdaptiveAvgPool2d("gap", (2, 2)), L.Flatten("flat"), L.Dropout("drop"),
        L.Linear("fc1", 16), L.BatchNorm1d("fc1_bn"), L.Activation("fc1_act", "tanh"),
        *[L.Activation(f"extra_{a}", a) for a in acts],
        L.Linear("fc2", 5, bias=False), L.Activation("out", "sigmoid"),
    ))


def test_residual_adds_and_concatenations_count_nothing_extra():
    tools_agree(kitchen_sink())


def test_every_row_matches_the_tools_per_module():
    network = kitchen_sink()
    table = engine.analyze(network)
    module = to_module(network)
    shape = tuple(network.input_shape)
    by_module = oracles.fvcore_analysis(module, shape).by_module()
    ptflops = oracles.ptflops_per_module(module, shape)
    assert "" not in ptflops  # nothing counted outside the leaves (no patched add or cat)
    assert sum(ptflops.values()) == oracles.ptflops_macs(module, shape)
    for row in table.layers:
        assert (row.name, row.fvcore) == (row.name, by_module[row.name])
        assert (row.name, row.ptflops) == (row.name, ptflops[row.name])


@settings(max_examples=8)
@given(scratch5_configs(max_extra=6, max_m=4))
def test_scratch5_matches_the_tools(configuration):
    table = cnncost.count("scratch5", **configuration)
    module = zoo.build("scratch5", **configuration)
    shape = (3, configuration["h"], configuration["w"])
    assert table.total("fvcore") == oracles.fvcore_total(module, shape)
    assert table.total("ptflops") == oracles.ptflops_macs(module, shape)


# --- registries: complete, and unknown layers raise ----------------------------

def test_every_tool_registry_covers_every_kind():
    """(Oracle cases for every kind: tests/test_kinds_complete.py.)"""
    assert set(ACTIVATIONS) == set(kinds.elementwise.FUNCTIONS)
    for tool in tc.TOOLS:
        assert set(tc.registry(tool)) == set(kinds.KINDS)


def test_unknown_layer_type_or_activation_raises_never_zero():
    class Mystery(tuple):
        name = "mystery"

    for tool in tc.TOOLS:
        with pytest.raises(CnncostError, match="mystery: no counting rule for layer type Mystery"):
            tc.tool_count(tool, Mystery(), (3, 4, 4), (3, 4, 4))
        with pytest.raises(CnncostError, match="a: no activation function 'swish' \\(known: relu, "):
            tc.tool_count(tool, L.Activation("a", "swish"), (3, 4, 4), (3, 4, 4))


def test_tool_quantities_are_conventions_and_skip_auxiliary_heads():
    assert {"fvcore", "ptflops"} <= set(QUANTITIES) & set(CONVENTIONS)
    head = L.Auxiliary("aux", (L.Conv2d("aux.c", 2, 1), L.Activation("aux.a")))
    table = engine.analyze(L.Network("t", (3, 4, 4), (L.Conv2d("c", 2, 1), head)))
    assert table.layers[1].fvcore == 2 * 2 * 16 and table.layers[1].auxiliary
    assert totals(table)["fvcore"] == 2 * 3 * 16 and totals(table)["ptflops"] == 2 * 3 * 16 + 2 * 16


def test_symbolic_counts():
    import sympy

    h, w = sympy.symbols("H W", integer=True, positive=True)
    table = engine.analyze(L.Network("t", (3, h, w), (L.Conv2d("c", 4, 3, padding=1), L.BatchNorm2d("bn"),
                                                     L.Activation("a"), L.MaxPool2d("p", 2))))
    assert sympy.expand(table.total("fvcore") - (4 * 27 * h * w + 8 * h * w)) == 0
    assert sympy.expand(table.total("ptflops") - (4 * 28 * h * w + 8 * h * w + 8 * h * w + 8 * h * w)) == 0


# --- every registered network ------------------------------------------------------

def _sized(name: str) -> dict:
    if archs.get(name).param("h") is None:
        return config(name)
    size, step = small_size(name), archs.get(name).param("h").multiple
    return config(name, h=size, w=size + (3 if step == 1 else step))  # non-square catches H/W mix-ups


# The tools run for real on CPU tensors (0.1-3 s a network, 71 s for the whole zoo): the suite checks the sample
# that covers every family file and every node kind each family uses; ``python -m tests.test_tool_conventions``
# checks every registered network.
@pytest.mark.usefixtures("one_torch_thread")
@pytest.mark.parametrize("name", covering_sample())
def test_registered_network_matches_the_tools(name):
    cfg = _sized(name)
    table = cnncost.count(name, **cfg)
    module = fast_build(name, **cfg)
    shape = table.network.input_shape
    t = totals(table)
    assert t["fvcore"] == oracles.fvcore_total(module, shape)
    assert t["ptflops"] == oracles.ptflops_macs(module, shape)


if __name__ == "__main__":  # every registered network, outside the suite's time budget
    import torch

    torch.set_num_threads(1)
    for registered in archs.names():
        test_registered_network_matches_the_tools(registered)
        print("tools agree:", registered, flush=True)
