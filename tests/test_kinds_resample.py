"""Resampling layers (Upsample, ConvTranspose2d, PixelShuffle, PixelUnshuffle) against every oracle.

Each case and each random configuration goes through ``kind_oracles.check_case`` (output shape, numel,
FlopCounterMode MACs, fvcore, ptflops, fx round trip); the call forms (F.interpolate, the Upsampling*2d
subclasses, F.pixel_shuffle, ...) are users' modules converted by the importer and compared with the
real tools on those same modules; an architecture file and the symbolic path are checked too.
"""

from __future__ import annotations

import random

import pytest
import sympy
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

import cnncost
from cnncost import engine
from cnncost import layers as L
from cnncost.conventions import totals
from cnncost.errors import CnncostError
from cnncost.kinds import Unsupported, kind_for
from cnncost.kinds.base import collapse_pair
from cnncost.kinds.resample import (ALIGNED, MODES, ConvTranspose2d, PixelShuffle, PixelUnshuffle, Upsample,
                                    upsample_node)
from zoo import oracles, to_module
from zoo.fx_import import convert_module

from .kind_oracles import check_case, torch_macs

CASES = [
    (Upsample("up", scale=2), (3, 5, 7)),
    (Upsample("up", scale=(2, 3), mode="bilinear"), (3, 5, 7)),
    (Upsample("up", scale=2, mode="bilinear", align_corners=True), (2, 4, 3)),
    (Upsample("up", size=(9, 4)), (3, 5, 7)),
    (Upsample("up", size=6, mode="bilinear", call="function"), (3, 5, 7)),
    (Upsample("up", scale=3, call="subclass"), (2, 3, 4)),
    (Upsample("up", scale=(1, 2), call="function"), (3, 5, 7)),
    (Upsample("up", size=(2, 3), mode="bilinear", align_corners=True, call="subclass"), (4, 6, 5)),
    (Upsample("up", scale=2, mode="bicubic", align_corners=True), (2, 3, 5)),
    (Upsample("up", size=(7, 4), mode="bicubic", call="function"), (2, 3, 5)),
    (Upsample("up", scale=(1, 3), mode="nearest-exact", call="subclass"), (2, 3, 5)),
    (Upsample("up", scale=2, mode="area"), (3, 4, 5)),
    (Upsample("up", size=(2, 9), mode="area", call="function"), (3, 4, 5)),
    (Upsample("up", scale=3, mode="area", call="subclass"), (1, 2, 3)),
    (ConvTranspose2d("deconv", 4, 3, 2, 1, 1), (3, 5, 7)),
    (ConvTranspose2d("deconv", 6, (2, 3), (2, 1), (0, 1), 0, (1, 2), 3, False), (3, 5, 7)),
    (ConvTranspose2d("deconv", 4, 4, 3, 2, (2, 1), 2, 2, True), (2, 6, 4)),
    (ConvTranspose2d("deconv", 4, 3, 2, 1, 1, call="subclass"), (3, 5, 7)),
    (PixelShuffle("shuffle", 2), (8, 3, 5)),
    (PixelShuffle("shuffle", 3), (9, 2, 2)),
    (PixelUnshuffle("unshuffle", 2), (3, 4, 6)),
    (PixelUnshuffle("unshuffle", 3), (1, 6, 3)),
]


@pytest.mark.parametrize("node, shape", CASES, ids=lambda v: repr(v)[:60])
def test_case_matches_every_oracle(node, shape):
    check_case(node, shape)


@pytest.mark.parametrize("node, shape", CASES, ids=lambda v: repr(v)[:60])
def test_mults_and_adds_follow_their_definitions(node, shape):
    """mults = MACs (FlopCounterMode / 2); adds = MACs + one per output for a bias (a transposed convolution's
    scatter-adds, see convtranspose_counts); resampling without weights has neither."""
    table = engine.analyze(L.Network("t", shape, (node,)))
    module = to_module(L.Network("t", shape, (node,))).eval()
    with torch.no_grad():
        outputs = module(torch.zeros(1, *shape)).numel()
    macs = torch_macs(module, shape)
    bias = outputs if getattr(node, "bias", False) else 0
    assert (table.total("mults"), table.total("adds")) == (macs, macs + bias)
    assert (macs > 0) == isinstance(node, ConvTranspose2d)


# --- random configurations ---------------------------------------------------------------

_PROPERTY = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
sizes = st.integers(1, 9)


@_PROPERTY
@given(st.data())
def test_upsample_random(data):
    c, h, w = data.draw(st.integers(1, 4)), data.draw(sizes), data.draw(sizes)
    mode = data.draw(st.sampled_from(MODES))
    align = mode in ALIGNED and data.draw(st.booleans())
    call = data.draw(st.sampled_from(("module", "subclass", "function")))
    if data.draw(st.booleans()):
        size = data.draw(st.one_of(sizes, st.tuples(sizes, sizes)))
        node = Upsample("up", size=size if not isinstance(size, tuple) or size[0] != size[1] else size[0],
                        mode=mode, align_corners=align, call=call)
    else:
        scale = data.draw(st.one_of(st.integers(1, 4), st.tuples(st.integers(1, 4), st.integers(1, 4))))
        if isinstance(scale, tuple) and scale[0] == scale[1]:
            scale = scale[0]
        node = Upsample("up", scale=scale, mode=mode, align_corners=align, call=call)
    check_case(node, (c, h, w))


@st.composite
def transposed_convs(draw):
    """A valid ConvTranspose2d and input: output_padding < max(stride, dilation), non-empty output."""
    groups = draw(st.integers(1, 3))
    cin, cout = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    axes = []
    for _ in range(2):
        k, s, d = draw(st.integers(1, 4)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
        p = draw(st.integers(0, 2))
        op = draw(st.integers(0, max(s, d) - 1))
        n = draw(st.integers(1, 6))
        if (n - 1) * s - 2 * p + d * (k - 1) + op + 1 < 1:  # torch refuses an empty output
            p = 0
        axes.append((k, s, p, op, d, n))
    (kh, sh, ph, oph, dh, h), (kw, sw, pw, opw, dw, w) = axes
    node = ConvTranspose2d("deconv", cout, *(collapse_pair(v) for v in ((kh, kw), (sh, sw), (ph, pw), (oph, opw),
                                                                         (dh, dw))),
                           groups, draw(st.booleans()), draw(st.sampled_from(("module", "subclass"))))
    return node, (cin, h, w)


@_PROPERTY
@given(transposed_convs())
def test_convtranspose_random(case):
    check_case(*case)


@_PROPERTY
@given(st.integers(1, 3), st.integers(1, 3), sizes, sizes, st.booleans())
def test_pixel_shuffles_random(r, groups, a, b, unshuffle):
    if unshuffle:
        check_case(PixelUnshuffle("unshuffle", r), (groups, a * r, b * r))
    else:
        check_case(PixelShuffle("shuffle", r), (groups * r * r, a, b))


# --- minimum input sizes, against torch ---------------------------------------------------

def _torch_output(module: nn.Module, c: int, h: int, w: int) -> tuple:
    """torch's output (H, W) for a c×h×w input, (0, 0) where torch refuses it or the output is empty."""
    try:
        with torch.no_grad():
            out = module(torch.zeros(1, c, h, w))
    except RuntimeError:
        return (0, 0)
    return tuple(out.shape[2:]) if out.numel() else (0, 0)


@_PROPERTY
@given(transposed_convs(), st.integers(1, 12), st.integers(1, 12))
def test_convtranspose_min_input_is_smallest_torch_accepts(case, need_h, need_w):
    node, (cin, _, _) = case
    module = nn.ConvTranspose2d(cin, node.out_channels, node.kernel_size, node.stride, node.padding,
                                node.output_padding, node.groups, node.bias, node.dilation)
    mh, mw = kind_for(node).min_input(node, (need_h, need_w))
    oh, ow = _torch_output(module, cin, mh, mw)
    assert oh >= need_h and ow >= need_w
    assert mh == 1 or _torch_output(module, cin, mh - 1, mw)[0] < need_h
    assert mw == 1 or _torch_output(module, cin, mh, mw - 1)[1] < need_w
    # the engine's whole-network minimum (need 1×1) is one torch accepts
    h, w = engine.min_input_size(L.Network("t", (cin, 1, 1), (node,)))
    assert min(_torch_output(module, cin, h, w)) >= 1


@_PROPERTY
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 12), st.integers(1, 12), st.sampled_from("sup"))
def test_resampling_min_input_is_smallest_torch_accepts(r, r2, need_h, need_w, which):
    node = {"s": Upsample("up", scale=(r, r2)), "u": PixelUnshuffle("un", r), "p": PixelShuffle("sh", r)}[which]
    c = r * r
    module = to_module(L.Network("t", (c, 12 * r, 12 * r), (node,))).eval()
    mh, mw = kind_for(node).min_input(node, (need_h, need_w))
    oh, ow = _torch_output(module, c, mh, mw)
    assert oh >= need_h and ow >= need_w
    # one less on an axis falls short there (PixelUnshuffle: the next size torch accepts is r less)
    step = r if which == "u" else 1
    assert mh - step < 1 or _torch_output(module, c, mh - step, mw)[0] < need_h
    assert mw - step < 1 or _torch_output(module, c, mh, mw - step)[1] < need_w


# --- call forms: users' modules through the importer ----------------------------------------

class Call(nn.Module):
    """A module whose forward is one call."""

    def __init__(self, function):
        super().__init__()
        self.function = function

    def forward(self, x):
        return self.function(x)


class Net(nn.Module):
    """A small decoder: conv, then the resampling layer under test, then a conv."""

    def __init__(self, cin: int, middle: nn.Module, cmid: int):
        super().__init__()
        self.conv = nn.Conv2d(cin, 4, 3, padding=1)
        self.middle = middle
        self.head = nn.Conv2d(cmid, 2, 1)

    def forward(self, x):
        return self.head(self.middle(self.conv(x)))


class SubUpsample(nn.Upsample):
    """A user's subclass that keeps nn.Upsample's forward."""


class SubDeconv(nn.ConvTranspose2d):
    """A user's subclass that keeps nn.ConvTranspose2d's forward."""


FORMS = {
    "F.interpolate scale": (Call(lambda x: F.interpolate(x, scale_factor=2)), 4),
    "F.interpolate scale float 2.0 bilinear": (Call(lambda x: F.interpolate(x, scale_factor=2.0, mode="bilinear")),
                                               4),
    "F.interpolate scale pair align": (Call(lambda x: F.interpolate(x, scale_factor=(3, 2), mode="bilinear",
                                                                    align_corners=True)), 4),
    "F.interpolate size": (Call(lambda x: F.interpolate(x, size=(5, 9), mode="bilinear")), 4),
    "F.interpolate size int positional": (Call(lambda x: F.interpolate(x, 6)), 4),
    "F.interpolate recompute": (Call(lambda x: F.interpolate(x, scale_factor=2, recompute_scale_factor=True)), 4),
    "F.interpolate area": (Call(lambda x: F.interpolate(x, scale_factor=(2, 1), mode="area")), 4),
    "F.interpolate bicubic": (Call(lambda x: F.interpolate(x, size=5, mode="bicubic", align_corners=True)), 4),
    "F.upsample_nearest": (Call(lambda x: F.upsample_nearest(x, scale_factor=2)), 4),
    "F.upsample_bilinear": (Call(lambda x: F.upsample_bilinear(x, size=(3, 5))), 4),
    "nn.Upsample nearest-exact": (nn.Upsample(size=(5, 2), mode="nearest-exact"), 4),
    "nn.Upsample": (nn.Upsample(scale_factor=2, mode="bilinear"), 4),
    "nn.Upsample size": (nn.Upsample(size=(3, 8)), 4),
    "nn.UpsamplingNearest2d": (nn.UpsamplingNearest2d(scale_factor=3), 4),
    "nn.UpsamplingBilinear2d": (nn.UpsamplingBilinear2d(scale_factor=2), 4),
    "nn.UpsamplingBilinear2d size": (nn.UpsamplingBilinear2d(size=7), 4),
    "Upsample subclass": (SubUpsample(scale_factor=2), 4),
    "nn.ConvTranspose2d": (nn.ConvTranspose2d(4, 6, 4, stride=2, padding=1), 6),
    "ConvTranspose2d subclass": (SubDeconv(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2), 6),
    "nn.PixelShuffle": (nn.PixelShuffle(2), 1),
    "F.pixel_shuffle": (Call(lambda x: F.pixel_shuffle(x, 2)), 1),
    "torch.pixel_shuffle kw": (Call(lambda x: torch.pixel_shuffle(x, upscale_factor=2)), 1),
    "nn.PixelUnshuffle": (nn.PixelUnshuffle(2), 16),
    "F.pixel_unshuffle": (Call(lambda x: F.pixel_unshuffle(x, 2)), 16),
}


@pytest.mark.parametrize("form", FORMS)
def test_call_form_matches_tools(form):
    middle, cmid = FORMS[form]
    module = Net(3, middle, cmid).eval()
    h, w = 6, 4
    converted = convert_module(module, "m", (3, h, w))
    table = engine.analyze(converted.network(h, w))
    with torch.no_grad():
        out = module(torch.zeros(1, 3, h, w))
    assert tuple(out.shape[1:]) == tuple(table.output_shape)
    assert table.total("params") == oracles.param_count(module)
    assert table.total("macs") == torch_macs(module, (3, h, w))
    assert table.total("fvcore") == oracles.fvcore_total(module, (3, h, w))
    assert table.total("ptflops") == oracles.ptflops_macs(module, (3, h, w))


class TwoInputs(nn.Module):
    """FPN-style: upsample one map to another's size (a graph matter, not a layer)."""

    def __init__(self):
        super().__init__()
        self.down = nn.Conv2d(3, 3, 3, stride=2, padding=1)

    def forward(self, x):
        return x + F.interpolate(self.down(x), size=x.shape[2:])


REFUSED = {
    "a fractional scale": (Call(lambda x: F.interpolate(x, scale_factor=1.5)), "scale_factor=1.5"),
    "a fractional module scale": (nn.Upsample(scale_factor=0.5), "scale_factor=0.5"),
    "antialias": (Call(lambda x: F.interpolate(x, scale_factor=2, mode="bilinear", antialias=True)), "antialias"),
    "a list scale": (Call(lambda x: F.interpolate(x, scale_factor=[2, 3])), "as a list"),
    "a size from a tensor": (TwoInputs(), "taken from a tensor's size"),
}


@pytest.mark.parametrize("what", REFUSED)
def test_refused_options_name_themselves(what):
    module, words = REFUSED[what]
    with pytest.raises(CnncostError, match="cannot convert") as error:
        convert_module(module, "m", (3, 8, 8))
    assert words in str(error.value)
    if what == "a list scale":  # why it is refused: ptflops itself gives no count for it
        with pytest.raises(RuntimeError, match="ptflops failed"):
            oracles.ptflops_macs(module, (3, 8, 8))


def test_unknown_modes_are_refused():
    with pytest.raises(Unsupported, match="mode='linear'"):
        upsample_node("up", None, 2, "linear", None)


# F.upsample (deprecated) is patched by ptflops and calls the patched F.interpolate: counted twice.
@pytest.mark.parametrize("mode", ("nearest", "bilinear", "area"))
def test_F_upsample_rule_matches_tools(mode):
    check_case(Upsample("up", size=(4, 9), mode=mode, call="upsample"), (3, 5, 7), round_trip=False)


def test_F_upsample_converted_counts_as_ptflops():
    module = Call(lambda x: F.upsample(x, scale_factor=2))
    converted = convert_module(module, "m", (3, 5, 7))
    assert engine.analyze(converted.network(5, 7)).total("ptflops") == oracles.ptflops_macs(module, (3, 5, 7))


def test_invalid_nodes_are_errors():
    with pytest.raises(CnncostError, match="output_padding"):
        engine.analyze(L.Network("t", (2, 4, 4), (ConvTranspose2d("d", 2, 3, 2, 0, 2),)))
    with pytest.raises(CnncostError, match="exactly one"):
        engine.analyze(L.Network("t", (2, 4, 4), (Upsample("u", size=3, scale=2),)))
    with pytest.raises(CnncostError, match="align_corners"):
        engine.analyze(L.Network("t", (2, 4, 4), (Upsample("u", scale=2, align_corners=True),)))
    with pytest.raises(CnncostError, match="not a whole number"):
        engine.analyze(L.Network("t", (3, 4, 4), (PixelShuffle("p", 2),)))
    with pytest.raises(CnncostError, match="not a whole number"):
        engine.analyze(L.Network("t", (3, 5, 4), (PixelUnshuffle("p", 2),)))


# --- an architecture file ---------------------------------------------------------------------

ARCHFILE = """
[network]
name = "decoder"
input = [3, 12, 10]

[symbols]
m = 4

[[layers]]
type = "conv"
out = "4*m"
kernel = 3
padding = 1

[[layers]]
type = "pixelunshuffle"
factor = 2

[[layers]]
type = "convtranspose"
out = "m"
kernel = [3, 4]
stride = 2
padding = [1, 1]
output_padding = [1, 0]
groups = 2

[[layers]]
type = "upsample"
scale = [2, 3]
bilinear = true
align_corners = true

[[layers]]
type = "conv"
out = 8
kernel = 1

[[layers]]
type = "pixelshuffle"
factor = 2

[[layers]]
type = "upsample"
size = [5, 7]

[[layers]]
type = "convtranspose"
out = 3
kernel = 2
stride = 2
bias = false
"""


def test_archfile_counts_match_tools(tmp_path):
    import zoo

    path = tmp_path / "decoder.toml"
    path.write_text(ARCHFILE)
    table = cnncost.count(str(path))
    module = zoo.build(str(path)).eval()
    shape = tuple(table.network.input_shape)
    with torch.no_grad():
        out = module(torch.zeros(1, *shape))
    assert tuple(out.shape[1:]) == tuple(table.output_shape)
    assert table.total("params") == oracles.param_count(module)
    assert table.total("macs") == torch_macs(module, shape)
    assert table.total("fvcore") == oracles.fvcore_total(module, shape)
    assert table.total("ptflops") == oracles.ptflops_macs(module, shape)
    types = {type(module.get_submodule(row.name)).__name__ for row in table.layers}
    assert {"Upsample", "ConvTranspose2d", "PixelShuffle", "PixelUnshuffle"} <= types
    # the file's closed forms give the same totals at its default sizes
    derivation = cnncost.formula(str(path))
    values = {sympy.Symbol(n): v for n, v in (("H", 12), ("W", 10), ("m", 4))}
    for name, value in totals(table).items():
        expression = sympy.sympify(derivation.formulas[name])
        assert expression.subs({s: values[sympy.Symbol(s.name)] for s in expression.free_symbols}) == value, name


# --- symbolic sizes ---------------------------------------------------------------------------

SYMBOLIC_LAYERS = (
    PixelUnshuffle("unshuffle", 2),
    ConvTranspose2d("deconv", 6, (3, 4), (2, 3), (1, 2), (1, 2), (1, 2), 2, True),
    Upsample("up", scale=(2, 3), mode="bilinear", call="function"),
    L.Conv2d("conv", 8, 3, 2, 1),
    PixelShuffle("shuffle", 2),
    Upsample("fixed", size=(5, 6), mode="area", call="subclass"),
    ConvTranspose2d("deconv2", 2, 2, 2, bias=False),
)


def test_symbolic_counts_agree_with_numeric_ones():
    h, w = sympy.symbols("H W", positive=True, integer=True)
    symbolic = engine.analyze(L.Network("t", (4, h, w), SYMBOLIC_LAYERS))
    rng = random.Random(7)
    for _ in range(4):
        values = {h: 2 * rng.randint(1, 12), w: 2 * rng.randint(1, 12)}  # even: PixelUnshuffle(2) divides
        numeric = engine.analyze(L.Network("t", (4, values[h], values[w]), SYMBOLIC_LAYERS))
        for quantity in ("params", "macs", "mults", "adds", "activations", "fvcore", "ptflops"):
            expression = sympy.sympify(symbolic.total(quantity))
            assert int(expression.subs(values)) == numeric.total(quantity), (quantity, values)
    module = zoo_module(values)
    shape = (4, values[h], values[w])
    assert numeric.total("ptflops") == oracles.ptflops_macs(module, shape)
    assert numeric.total("fvcore") == oracles.fvcore_total(module, shape)


def zoo_module(values: dict) -> nn.Module:
    """The symbolic test's network at one size, built by the zoo."""
    h, w = values.values()
    return to_module(L.Network("t", (4, h, w), SYMBOLIC_LAYERS)).eval()
