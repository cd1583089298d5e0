"""Single-layer rules against torch: floor semantics of stride, padding (int, same, valid,
even kernels), dilation, groups, and pooling with ceil_mode."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from cnncost import engine
from cnncost import layers as L
from cnncost.errors import CnncostError
from zoo import oracles, to_module


def _engine_or_error(network):
    try:
        return engine.analyze(network)
    except CnncostError:
        return None


def _torch_or_error(module, shape):
    try:
        with torch.no_grad():
            return tuple(module.eval()(torch.zeros(1, *shape)).shape[1:])
    except RuntimeError:
        return None


@st.composite
def conv_cases(draw):
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    cin, cout = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    kernel = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = draw(st.one_of(st.integers(0, 3), st.tuples(st.integers(0, 3), st.integers(0, 3)),
                             st.sampled_from(["same", "valid"])))
    stride = 1 if padding == "same" else (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    size = (draw(st.integers(1, 24)), draw(st.integers(1, 24)))
    return L.Conv2d("conv", cout, kernel, stride, padding, dilation, groups, draw(st.booleans())), (cin,) + size


@settings(max_examples=80)
@given(conv_cases())
def test_conv_rule_matches_torch(case):
    node, shape = case
    table = _engine_or_error(L.Network("t", shape, (node,)))
    module = nn.Conv2d(shape[0], node.out_channels, node.kernel_size, node.stride, node.padding,
                       node.dilation, node.groups, node.bias)
    out = _torch_or_error(module, shape)
    assert (table is None) == (out is None)
    if table is not None:
        row = table.layers[0]
        assert row.output_shape == out
        assert row.params == oracles.param_count(module)
        assert row.macs == oracles.fvcore_macs(module, shape)
        outputs = out[0] * out[1] * out[2]
        terms = shape[0] // node.groups * node.kernel_size[0] * node.kernel_size[1]
        assert row.adds == outputs * (terms - 1) + (outputs if node.bias else 0)


@st.composite
def pool_cases(draw):
    kernel = draw(st.integers(1, 4))
    stride = draw(st.integers(1, 4))
    padding = draw(st.integers(0, 2))
    ceil_mode = draw(st.booleans())
    size = (draw(st.integers(1, 20)), draw(st.integers(1, 20)))
    if draw(st.booleans()):
        node = L.MaxPool2d("pool", kernel, stride, padding, draw(st.integers(1, 2)), ceil_mode)
    else:
        node = L.AvgPool2d("pool", kernel, stride, padding, ceil_mode)
    return node, (2,) + size


@settings(max_examples=120)
@given(pool_cases())
def test_pool_rule_matches_torch(case):
    node, shape = case
    table = _engine_or_error(L.Network("t", shape, (node,)))
    try:
        module = to_module(L.Network("t", shape, (node,)))
    except CnncostError:
        module = None
    if module is None:
        assert table is None
        return
    out = _torch_or_error(module, shape)
    assert (table is None) == (out is None)
    if out is not None:
        assert table.layers[0].output_shape == out


@given(st.integers(1, 8), st.integers(1, 30))
def test_linear_and_flatten(features, out):
    table = engine.analyze(L.Network("t", (features, 3, 2), (L.Flatten("f"), L.Linear("fc", out))))
    fc = table.layers[1]
    module = nn.Linear(features * 6, out)
    assert fc.params == oracles.param_count(module)
    assert fc.macs == oracles.fvcore_macs(module, (features * 6,))


def test_same_padding_needs_stride_one():
    with pytest.raises(CnncostError, match="stride 1"):
        engine.analyze(L.Network("t", (3, 8, 8), (L.Conv2d("c", 4, 3, stride=2, padding="same"),)))


def test_groups_must_divide_channels():
    with pytest.raises(CnncostError, match="groups"):
        engine.analyze(L.Network("t", (3, 8, 8), (L.Conv2d("c", 4, 3, groups=2),)))


def test_unknown_layer_type_is_an_error_not_zero():
    class Mystery(tuple):
        name = "mystery"

    with pytest.raises(CnncostError, match="no counting rule"):
        engine.analyze(L.Network("t", (3, 8, 8), (Mystery(),)))


def test_residual_and_concat_against_torch():
    block = L.Residual("res", body=(L.Conv2d("res.body.0", 4, 3, padding=1), L.BatchNorm2d("res.body.1")),
                       shortcut=(L.Conv2d("res.shortcut.0", 4, 1),), after=(L.Activation("res.after.0"),))
    mix = L.Concat("mix", branches=((L.Conv2d("mix.branches.0.0", 2, 1),),
                                    (L.Conv2d("mix.branches.1.0", 3, 5, padding=2),)))
    network = L.Network("t", (3, 9, 7), (block, mix))
    table = engine.analyze(network)
    module = to_module(network)
    assert table.output_shape == (5, 9, 7)
    assert table.total("params") == oracles.param_count(module)
    assert table.total("macs") == oracles.fvcore_macs(module, (3, 9, 7))
    assert oracles.output_shapes(module, (3, 9, 7)) == {r.name: r.output_shape for r in table.layers}
