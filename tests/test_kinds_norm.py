"""GroupNorm, LayerNorm and InstanceNorm2d against torch, FlopCounterMode, fvcore and ptflops.

Every case is checked by ``kind_oracles.check_case`` (shape, numel, buffers, FlopCounterMode
MACs, fvcore, ptflops, the fx round trip); Hypothesis draws shapes and options per kind;
user modules written with F.group_norm / F.layer_norm / F.instance_norm / torch.* and the
ConvNeXt permute idioms are converted and compared with the tools on the user's own module;
an architecture file and the symbolic path are checked against the numeric counts.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import warnings

import pytest
import sympy
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch import nn

import cnncost
import zoo
from cnncost import engine
from cnncost import layers as L
from cnncost.conventions import QUANTITIES
from cnncost.errors import CnncostError
from cnncost.kinds.base import Unsupported
from cnncost.kinds.norm import (GroupNorm, InstanceNorm2d, LayerNorm, group_norm_from_call, instance_norm_from_call,
                                layer_norm_from_call, layer_norm_over_channels)
from cnncost.sizes import WHOLE
from zoo import oracles
from zoo.fx_import import convert_module
from zoo.fx_ops import Call

from .kind_oracles import check_case, torch_macs

warnings.filterwarnings("ignore", module="fvcore")
warnings.filterwarnings("ignore", message=".*TracerWarning.*")

CASES = [
    # GroupNorm: C×H×W and flat, affine or not, every call form.
    (GroupNorm("gn", 2), (4, 5, 7)),
    (GroupNorm("gn", 1, affine=False), (3, 4, 4)),
    (GroupNorm("gn", 6, eps=1e-3), (6, 3, 2)),  # one channel per group
    (GroupNorm("gn", 4), (8,)),
    (GroupNorm("gn", 3, call="subclass"), (6, 4, 5)),
    (GroupNorm("gn", 2, affine=False, call="function"), (4, 5, 7)),
    (GroupNorm("gn", 2, affine=False, call="torch"), (4, 5, 7)),
    # LayerNorm over trailing dims: one, two, all three; flat; no bias; no affine; every call form.
    (LayerNorm("ln", (7,)), (3, 5, 7)),
    (LayerNorm("ln", (5, 7), affine=False), (3, 5, 7)),
    (LayerNorm("ln", (3, 5, 7), bias=False, eps=1e-6), (3, 5, 7)),
    (LayerNorm("ln", (10,)), (10,)),
    (LayerNorm("ln", (7,), call="subclass"), (3, 5, 7)),
    (LayerNorm("ln", (5, 7), affine=False, call="function"), (3, 5, 7)),
    (LayerNorm("ln", (7,), affine=False, call="torch"), (3, 5, 7)),
    # LayerNorm over channels (ConvNeXt): the LayerNorm2d subclass, an nn.LayerNorm between permutes,
    # F.layer_norm / torch.layer_norm between permutes.
    (LayerNorm("ln", (3,), over_channels=True, call="subclass"), (3, 5, 7)),
    (LayerNorm("ln", (4,), bias=False, over_channels=True, call="subclass"), (4, 3, 3)),
    (LayerNorm("ln", (3,), over_channels=True), (3, 5, 7)),
    (LayerNorm("ln", (3,), affine=False, over_channels=True), (3, 5, 7)),
    (LayerNorm("ln", (3,), affine=False, over_channels=True, call="function"), (3, 5, 7)),
    (LayerNorm("ln", (3,), affine=False, over_channels=True, call="torch"), (3, 5, 7)),
    # InstanceNorm2d: affine × running statistics, subclass, F.instance_norm.
    (InstanceNorm2d("in"), (4, 5, 7)),
    (InstanceNorm2d("in", affine=True), (4, 5, 7)),
    (InstanceNorm2d("in", track_running_stats=True), (4, 5, 7)),
    (InstanceNorm2d("in", affine=True, track_running_stats=True), (3, 1, 1)),  # running stats: 1×1 is fine
    (InstanceNorm2d("in", affine=True, call="subclass"), (4, 5, 7)),
    (InstanceNorm2d("in", call="function"), (4, 5, 7)),
]


def _round_trips(node) -> bool:
    """The importer gives every node back, except over-channels forms whose permutes sit outside a
    module the kind knows (the lead's permute → layer_norm → permute recognition)."""
    return not (isinstance(node, LayerNorm) and node.over_channels and node.call != "subclass")


@pytest.mark.parametrize("node, shape", CASES, ids=lambda v: repr(v) if isinstance(v, tuple) else v.name)
def test_case_meets_every_oracle(node, shape):
    check_case(node, shape, round_trip=_round_trips(node))


def test_norms_have_no_flop_counter_formula():
    """FlopCounterMode counts 0 for every norm, so MACs (its total / 2) stay 0."""
    for module, shape in ((nn.GroupNorm(2, 4), (4, 3, 3)), (nn.LayerNorm([4, 3, 3]), (4, 3, 3)),
                          (nn.InstanceNorm2d(4, affine=True), (4, 3, 3))):
        assert torch_macs(module, shape) == 0


# --- Hypothesis, per kind ---------------------------------------------------------------

def _forms(affine: bool, tracked: bool = False, functions: tuple = ("function", "torch")):
    """Call forms a node may be built in: calls carry no weights or running statistics."""
    return st.sampled_from(("module", "subclass") + (() if affine or tracked else functions))


@settings(max_examples=25)
@given(groups=st.integers(1, 4), per_group=st.integers(1, 3), hw=st.none() | st.tuples(st.integers(1, 5),
       st.integers(1, 5)), affine=st.booleans(), data=st.data())
def test_group_norm_properties(groups, per_group, hw, affine, data):
    shape = (groups * per_group,) + (hw or ())
    assume(per_group * (hw[0] * hw[1] if hw else 1) > 1)  # torch refuses one value per group at batch 1
    call = data.draw(_forms(affine))
    check_case(GroupNorm("gn", groups, affine, call=call), shape)


@settings(max_examples=30)
@given(shape=st.tuples(st.integers(1, 5), st.integers(1, 5), st.integers(1, 5)) | st.tuples(st.integers(1, 12)),
       affine=st.booleans(), bias=st.booleans(), eps=st.sampled_from((1e-5, 1e-6)), data=st.data())
def test_layer_norm_properties(shape, affine, bias, eps, data):
    over_channels = len(shape) == 3 and data.draw(st.booleans(), "over_channels")
    dims = 1 if over_channels else data.draw(st.integers(1, len(shape)), "dims")
    sizes = shape[:1] if over_channels else shape[len(shape) - dims:]
    call = data.draw(_forms(affine))
    node = LayerNorm("ln", sizes, affine, bias or not affine, eps, over_channels, call)
    check_case(node, shape, round_trip=_round_trips(node))


@settings(max_examples=20)
@given(shape=st.tuples(st.integers(1, 6), st.integers(1, 5), st.integers(1, 5)), affine=st.booleans(),
       tracked=st.booleans(), data=st.data())
def test_instance_norm_properties(shape, affine, tracked, data):
    assume(tracked or shape[1] * shape[2] > 1)  # torch needs more than one position for input statistics
    call = data.draw(_forms(affine, tracked, ("function",)))
    check_case(InstanceNorm2d("in", affine, tracked, call=call), shape)


# --- invalid layers: cnncost refuses what torch refuses -------------------------------------

def test_groups_must_divide_the_channels():
    with pytest.raises(ValueError):
        nn.GroupNorm(3, 4)
    with pytest.raises(CnncostError, match="gn: channels / groups: 4/3"):
        engine.analyze(L.Network("t", (4, 5, 5), (GroupNorm("gn", 3),)))


def test_one_value_per_group_is_refused_as_torch_does():
    with pytest.raises(ValueError):
        nn.GroupNorm(4, 4)(torch.zeros(1, 4, 1, 1))
    torch.group_norm(torch.zeros(1, 4, 1, 1), 4)  # torch.group_norm itself does not check
    with pytest.raises(CnncostError, match="one value per group"):
        engine.analyze(L.Network("t", (4, 1, 1), (GroupNorm("gn", 4),)))
    engine.analyze(L.Network("t", (4, 1, 1), (GroupNorm("gn", 4, False, call="torch"),)))


def test_instance_statistics_need_more_than_one_position():
    with pytest.raises(ValueError):
        nn.InstanceNorm2d(3).eval()(torch.zeros(1, 3, 1, 1))
    with pytest.raises(CnncostError, match="more than one position"):
        engine.analyze(L.Network("t", (3, 1, 1), (InstanceNorm2d("in"),)))


def test_normalized_shape_must_match_the_trailing_dims():
    with pytest.raises(RuntimeError):
        nn.LayerNorm([5, 8])(torch.zeros(1, 3, 5, 7))
    with pytest.raises(CnncostError, match="normalized_shape 5×8 does not match the input's trailing dims 5×7"):
        engine.analyze(L.Network("t", (3, 5, 7), (LayerNorm("ln", (5, 8)),)))
    with pytest.raises(CnncostError, match="4 dims, the input 3"):
        engine.analyze(L.Network("t", (3, 5, 7), (LayerNorm("ln", (1, 3, 5, 7)),)))
    with pytest.raises(CnncostError, match="does not match the input's channels 3"):
        engine.analyze(L.Network("t", (3, 5, 7), (LayerNorm("ln", (4,), over_channels=True),)))


def test_a_module_fixing_its_size_is_checked_at_each_concrete_size():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, padding=1)
            self.ln = nn.LayerNorm([4, 6, 6])

        def forward(self, x):
            return self.ln(self.conv(x))

    converted = convert_module(Net(), "net", (3, 6, 6))
    assert engine.analyze(converted.network(6, 6)).total("params") == oracles.param_count(Net())
    with pytest.raises(CnncostError, match="ln: normalized_shape 4×6×6 does not match"):
        engine.analyze(converted.network(6, 7))


# --- call forms in users' modules ------------------------------------------------------------

class _Forward(nn.Module):
    """A conv, then ``body(self, x)``: a user's forward in one of the written forms."""

    def __init__(self, body, **modules):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.body = body
        for name, module in modules.items():
            self.add_module(name, module)

    def forward(self, x):
        return self.body(self, self.conv(x))


class _UserLayerNorm2d(nn.LayerNorm):
    """torchvision's LayerNorm2d idiom, as a user writes it: F.layer_norm on the channels-last view."""

    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class _SubGroupNorm(nn.GroupNorm):
    """A user's subclass that keeps GroupNorm's forward: ptflops no longer hooks it."""


USER_FORMS = {
    "F.group_norm": lambda: _Forward(lambda self, x: F.group_norm(x, 2, eps=1e-3)),
    "torch.group_norm": lambda: _Forward(lambda self, x: torch.group_norm(x, 4)),
    "F.layer_norm": lambda: _Forward(lambda self, x: F.layer_norm(x, (6, 5))),
    "torch.layer_norm": lambda: _Forward(lambda self, x: torch.layer_norm(x, [5], None, None, 1e-6)),
    "F.instance_norm": lambda: _Forward(lambda self, x: F.instance_norm(x)),
    "GroupNorm subclass": lambda: _Forward(lambda self, x: self.norm(x), norm=_SubGroupNorm(2, 4)),
    "LayerNorm module": lambda: _Forward(lambda self, x: self.norm(x), norm=nn.LayerNorm([4, 6, 5], bias=False)),
    "InstanceNorm2d module": lambda: _Forward(lambda self, x: self.norm(x),
                                              norm=nn.InstanceNorm2d(4, affine=True, track_running_stats=True)),
}


def _engine_vs_tools(module: nn.Module, network: L.Network, shape: tuple) -> None:
    table = engine.analyze(network)
    with torch.no_grad():
        assert table.output_shape == tuple(module.eval()(torch.zeros(1, *shape)).shape[1:])
    assert table.total("params") == oracles.param_count(module)
    assert table.total("buffers") == oracles.batchnorm_buffers(module)
    assert table.total("macs") == torch_macs(module, shape)
    assert table.total("fvcore") == oracles.fvcore_total(module, shape)
    assert table.total("ptflops") == oracles.ptflops_macs(module, shape)


@pytest.mark.parametrize("form", USER_FORMS)
def test_user_call_forms_match_the_tools(form):
    module, shape = USER_FORMS[form](), (3, 6, 5)
    _engine_vs_tools(module, convert_module(module, "m", shape).network(6, 5), shape)


class _Direct(nn.Module):
    """A user's norm written as a call on parameters (and buffers) the module holds itself."""

    def __init__(self, call, channels, weight=True, bias=True, stats=False):
        super().__init__()
        self.call = call
        self.weight = nn.Parameter(torch.ones(channels)) if weight else None
        self.bias = nn.Parameter(torch.zeros(channels)) if bias else None
        if stats:
            self.register_buffer("running_mean", torch.zeros(channels))
            self.register_buffer("running_var", torch.ones(channels))

    def forward(self, x):
        return self.call(self, x)


# (user module, the converter, the call's arguments as the importer sees them, input shape); weights and
# statistics stand for the module's own, which the importer resolves at graph level.
DIRECT = {
    "F.group_norm(w, b)": (_Direct(lambda m, x: F.group_norm(x, 2, m.weight, m.bias), 4), group_norm_from_call,
                           Call((None, 2, "w", "b"), {}), (4, 3, 5)),
    "F.layer_norm(w)": (_Direct(lambda m, x: F.layer_norm(x, (5,), m.weight), 5, bias=False), layer_norm_from_call,
                        Call((None, (5,), "w"), {}), (4, 3, 5)),
    "F.instance_norm(stats, w, b)": (
        _Direct(lambda m, x: F.instance_norm(x, m.running_mean, m.running_var, m.weight, m.bias, False), 4,
                stats=True),
        instance_norm_from_call, Call((None, "rm", "rv", "w", "b", False), {}), (4, 3, 5)),
    "F.instance_norm(stats)": (
        _Direct(lambda m, x: F.instance_norm(x, m.running_mean, m.running_var, use_input_stats=False), 4,
                weight=False, bias=False, stats=True),
        instance_norm_from_call, Call((None,), {"running_mean": "rm", "running_var": "rv", "use_input_stats": False}),
        (4, 1, 1)),
}


@pytest.mark.parametrize("form", DIRECT)
def test_calls_on_the_modules_own_parameters_count_what_the_tools_count(form):
    module, convert, call, shape = DIRECT[form]
    node = convert(call, "n", parameters=True)
    assert node.call == "function"
    _engine_vs_tools(module, L.Network("t", shape, (node,)), shape)


@pytest.mark.parametrize("convert, call, message", [
    (group_norm_from_call, Call((None, 2, "w"), {}), "a weight and no bias"),
    (group_norm_from_call, Call((None, 2), {"bias": "b"}), "a bias and no weight"),
    (layer_norm_from_call, Call((None, (5,)), {"bias": "b"}), "a bias and no weight"),
    (instance_norm_from_call, Call((None, "rm", None), {"use_input_stats": False}), "one of running_mean"),
    (instance_norm_from_call, Call((None, "rm", "rv"), {}), "updating running statistics"),
    (instance_norm_from_call, Call((None,), {"use_input_stats": False}), "no running statistics"),
])
def test_calls_no_node_can_say_are_refused(convert, call, message):
    with pytest.raises(Unsupported, match=message):
        convert(call, "n", parameters=True)
    with pytest.raises(Unsupported):
        convert(call, "n")  # without resolved parameters, any tensor argument is refused

# --- LayerNorm over channels: the helper the importer calls ---------------------------------

class _ExplicitPermutes(nn.Module):
    """An exact nn.LayerNorm between permutes in the user's own forward (ptflops hooks it)."""

    def __init__(self, channels):
        super().__init__()
        self.norm = nn.LayerNorm(channels, eps=1e-6)

    def forward(self, x):
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class _FunctionalPermutes(nn.Module):
    def forward(self, x):
        return F.layer_norm(x.permute(0, 2, 3, 1), (x.shape[1],)).permute(0, 3, 1, 2)


def test_layer_norm_over_channels_counts_what_the_tools_count_on_the_idioms():
    shape = (6, 4, 5)
    for module, node in ((_UserLayerNorm2d(6), layer_norm_over_channels("n", _UserLayerNorm2d(6))),
                         (_ExplicitPermutes(6), layer_norm_over_channels("n", _ExplicitPermutes(6).norm)),
                         (_FunctionalPermutes(), layer_norm_over_channels(
                             "n", Call((None, (6,)), {}), call="function")),
                         # The LayerNorm2d's own F.layer_norm call, its weight and bias resolved by the caller.
                         (_UserLayerNorm2d(6), layer_norm_over_channels(
                             "n", Call((None, (6,), "weight", "bias", 1e-5), {}), parameters=True))):
        _engine_vs_tools(module, L.Network("t", shape, (node,)), shape)


def test_layer_norm_over_channels_helper_forms():
    assert layer_norm_over_channels("n", nn.LayerNorm(6, bias=False)) == LayerNorm(
        "n", (6,), True, False, 1e-5, True, "module")
    assert layer_norm_over_channels("n", _UserLayerNorm2d(6, eps=1e-6)) == LayerNorm(
        "n", (6,), True, True, 1e-6, True, "subclass")
    assert layer_norm_over_channels("n", Call((None, [6]), {"eps": 1e-6})) == LayerNorm(
        "n", (6,), False, True, 1e-6, True, "function")
    assert layer_norm_over_channels("n", Call((None, 6), {}), call="torch").call == "torch"
    with pytest.raises(Unsupported, match="weight"):
        layer_norm_over_channels("n", Call((None, (6,), object()), {}))
    assert layer_norm_over_channels("n", Call((None, (6,), "weight"), {}), parameters=True) == LayerNorm(
        "n", (6,), True, False, 1e-5, True, "function")
    with pytest.raises(Unsupported, match="a bias and no weight"):
        layer_norm_over_channels("n", Call((None, (6,)), {"bias": "bias"}), parameters=True)
    with pytest.raises(Unsupported, match="one size"):
        layer_norm_over_channels("n", nn.LayerNorm([6, 4]))


def test_the_layer_norm2d_binding_pickles_and_keeps_cnncost_torch_free():
    from cnncost.kinds import norm

    module = norm.LayerNorm2d(6)
    assert isinstance(pickle.loads(pickle.dumps(module)), norm.LayerNorm2d)
    code = "import sys, cnncost.kinds.norm as n; assert 'torch' not in sys.modules; print(n.GroupNorm('g', 1))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


# --- architecture files and closed forms ----------------------------------------------------

ARCHFILE = """
[network]
name = "norms"
input = [3, 12, 10]
[symbols]
m = 4
[[layers]]
type = "conv"
out = "2*m"
kernel = 3
padding = 1
[[layers]]
type = "groupnorm"
groups = "m"
[[layers]]
type = "relu"
[[layers]]
type = "layernorm"
over_channels = true
eps = 1e-6
[[layers]]
type = "instancenorm"
affine = true
track_running_stats = true
[[layers]]
type = "instancenorm"
[[layers]]
type = "layernorm"
dims = 3
bias = false
[[layers]]
type = "layernorm"
dims = 2
affine = false
[[layers]]
type = "flatten"
[[layers]]
type = "layernorm"
[[layers]]
type = "groupnorm"
groups = 2
affine = false
[[layers]]
type = "linear"
out = 5
"""


@pytest.fixture
def norms_file(tmp_path):
    path = tmp_path / "norms.toml"
    path.write_text(ARCHFILE)
    return str(path)


@pytest.mark.parametrize("sizes", [{}, {"h": 7, "w": 9, "m": 3}])
def test_archfile_norms_count_what_the_tools_count(norms_file, sizes):
    table = cnncost.count(norms_file, **sizes)
    module = zoo.build(norms_file, **sizes).eval()
    shape = tuple(table.network.input_shape)
    assert [r.type for r in table.layers].count("LayerNorm") == 4
    _engine_vs_tools(module, table.network, shape)



@pytest.mark.parametrize("change, message", [
    (('groups = "m"', "groups = 3"), r"norms.toml:\d+: layers\[1\]: gn1: channels / groups: 8/3 is not a whole number"),
    (("over_channels = true\n", "over_channels = true\ndims = 2\n"), r"norms.toml:\d+: .*ln1: a LayerNorm over "
                                                                     "channels normalises one dim"),
    (("track_running_stats = true", 'track_running_stats = "yes"'), r"norms.toml:\d+: .*track_running_stats"),
])
def test_archfile_norm_errors_name_the_line(tmp_path, change, message):
    path = tmp_path / "norms.toml"
    path.write_text(ARCHFILE.replace(*change, 1))
    with pytest.raises(CnncostError, match=message):
        cnncost.count(str(path))

def test_archfile_formula_equals_the_count(norms_file):
    derivation = cnncost.formula(norms_file)
    values = {"H": 11, "W": 6, "m": 5}
    table = cnncost.count(norms_file, h=11, w=6, m=5)
    for quantity in ("params", "buffers", "fvcore", "ptflops"):
        expr = sympy.sympify(derivation.formulas[quantity])
        assert expr.subs({s: values[str(s)] for s in expr.free_symbols}) == table.total(quantity), quantity


def test_symbolic_counts_equal_numeric_ones_at_a_random_size():
    H, W, C = sympy.symbols("H W C", integer=True, positive=True)
    layers = (GroupNorm("gn", 2), LayerNorm("ln_c", over_channels=True, call="subclass"),
              LayerNorm("ln", (WHOLE, WHOLE, WHOLE), bias=False), InstanceNorm2d("in", True, True),
              LayerNorm("ln_w", (WHOLE,), affine=False, call="function"), L.Flatten("flat"),
              LayerNorm("ln_f"), GroupNorm("gn_f", 3, affine=False, call="subclass"))
    symbolic = engine.analyze(L.Network("t", (6 * C, H, W), layers))
    for c, h, w in ((1, 5, 9), (2, 3, 4), (3, 8, 2)):
        numeric = engine.analyze(L.Network("t", (6 * c, h, w), layers))
        for quantity in QUANTITIES:
            got = sympy.sympify(symbolic.total(quantity)).subs({H: h, W: w, C: c})
            assert got == numeric.total(quantity), quantity
