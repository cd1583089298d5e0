"""Elementwise arithmetic: ``Scale`` (a number or a held tensor) and two-tensor merges (SE gates,
residual adds, differences), in every form, against torch, fvcore and ptflops."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from cnncost import engine
from cnncost import layers as L
from cnncost.kinds.arithmetic import Scale
from zoo.fx_import import convert_module

from .kind_oracles import check_case, module_agrees

CASES = [
    (Scale("s", "mul", None, value=0.5), (3, 4, 5)),
    (Scale("s", "add", None, value=2.0, call="torch"), (3, 4, 5)),
    (Scale("s", "mul", None, value=3.0, call="method"), (6,)),
    (Scale("s", "sub", None, value=1.0, call="torch"), (3, 4, 5)),
    (Scale("s", "mul", (3, 1, 1)), (3, 4, 5)),  # ConvNeXt's layer scale
    (Scale("s", "mul", (3, 1, 1), call="torch"), (3, 4, 5)),  # ptflops aligns dims from the left
    (Scale("s", "mul", (1, 3, 1, 1), call="method"), (3, 4, 5)),
    (Scale("s", "add", (5,), learned=False, call="torch"), (3, 4, 5)),  # a buffer: no parameters
    (Scale("s", "div", (3, 4, 5), call="method"), (3, 4, 5)),
]


@pytest.mark.parametrize("node, shape", CASES, ids=[f"{n.op}-{n.call}-{n.operand}" for n, _ in CASES])
def test_each_scale_matches_every_oracle(node, shape):
    check_case(node, shape)


class SqueezeExcite(nn.Module):
    """torchvision's SqueezeExcitation idiom: ``scale * input`` (or a chosen form)."""

    def __init__(self, channels: int, squeeze: int, form: str):
        super().__init__()
        self.conv = nn.Conv2d(3, channels, 3, padding=1)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1, self.fc2 = nn.Conv2d(channels, squeeze, 1), nn.Conv2d(squeeze, channels, 1)
        self.form = form

    def forward(self, x):
        x = self.conv(x)
        scale = torch.sigmoid(self.fc2(torch.relu(self.fc1(self.avgpool(x)))))
        if self.form == "operator":
            return scale * x
        if self.form == "torch":
            return torch.mul(x, scale)
        if self.form == "method":
            return x.mul(scale)
        return x.mul_(scale)


@settings(max_examples=12, deadline=None)
@given(st.integers(1, 6), st.integers(1, 4), st.sampled_from(["operator", "torch", "method", "method_"]),
       st.integers(3, 9), st.integers(3, 9))
def test_squeeze_excitation_gates_match_the_tools(channels, squeeze, form, h, w):
    module_agrees(SqueezeExcite(channels, squeeze, form), (3, h, w))


class Mixed(nn.Module):
    """Layer scale, a scalar, a no-op, a difference and a quotient of two branches."""

    def __init__(self):
        super().__init__()
        self.a, self.b, self.c = nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(3, 4, 1), nn.Conv2d(3, 4, 1)
        self.layer_scale = nn.Parameter(torch.ones(4, 1, 1))
        self.register_buffer("mean", torch.zeros(1, 4, 1, 1))

    def forward(self, x):
        y = self.layer_scale * self.a(x) + 0
        y = (y - self.mean) * 0.5
        z = torch.sub(y, self.b(x)) / (self.c(x).sigmoid() + 1)
        return torch.add(z, 1) * 1


def test_layer_scale_scalars_and_two_tensor_arithmetic_match_the_tools():
    module = Mixed()
    module_agrees(module, (3, 6, 7))
    names = [leaf.name for leaf in L.leaves(convert_module(module, "m", (3, 6, 7)).layers)]
    assert "layer_scale" in names and "mean" in names  # held tensors keep their own names


def test_symbolic_gate_equals_the_numeric_count():
    import sympy

    h, w = sympy.symbols("H W", integer=True, positive=True)
    converted = convert_module(SqueezeExcite(4, 2, "torch"), "m", (3, 8, 8))
    symbolic = engine.analyze(converted.network(h, w))
    for size in ((5, 7), (9, 4)):
        numeric = engine.analyze(converted.network(*size))
        for quantity in ("params", "macs", "fvcore", "ptflops"):
            assert sympy.sympify(symbolic.total(quantity)).subs({h: size[0], w: size[1]}) == numeric.total(quantity)
