"""The elementwise family against the real tools: every activation function and its options,
PReLU and every dropout variant, in every call form torch has for them.

Each case is a node run through ``kind_oracles.check_case`` (shape, numel, FlopCounterMode,
fvcore 0.1.5, ptflops 0.7.5, and the --module importer giving the node back); user modules
written in each idiom (in-place methods, positional options, F.softmax at a classifier's
output, subclasses) are converted and compared with the tools on the user's own module, then
rebuilt by ``verify``; an architecture file and a closed form close the loop.
"""

from __future__ import annotations

import warnings

import pytest
import sympy
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import zoo
from cnncost import engine
from cnncost import layers as L
from cnncost.archfile import load_arch
from cnncost.errors import CnncostError
from cnncost.kinds.elementwise import FUNCTIONS, VARIANTS, Activation, Dropout, PReLU
from zoo import oracles
from zoo.fx_import import convert_module
from zoo.verify import verify

from .kind_oracles import check_case, torch_macs

warnings.filterwarnings("ignore", module="fvcore")
# nn.Softmax() and F.softmax(y) without dim are recognised on purpose (torch's implicit dim is 1 here).
pytestmark = pytest.mark.filterwarnings("ignore:Implicit dimension choice for softmax")

SPATIAL, FLAT = (3, 4, 5), (10,)
_F = "torch.nn.functional."


def forms(function: str) -> tuple:
    """The call forms the zoo can build for ``function``: module, subclass, and F./torch./method
    where torch has them under the function's own name."""
    spec = FUNCTIONS[function]
    found = ["module", "subclass"]
    found += ["function"] if _F + function in spec.functions else []
    found += ["torch"] if "torch." + function in spec.functions else []
    found += ["method"] if function in spec.methods else []
    return tuple(found)


# Options that change nothing counted but must survive the round trip.
OPTIONS = {
    "leaky_relu": [(("negative_slope", 0.2),), (("negative_slope", 1.5),)],
    "elu": [(("alpha", 0.5),)],
    "celu": [(("alpha", 2.0),)],
    "gelu": [(("approximate", "tanh"),)],
    "softplus": [(("beta", 2.0), ("threshold", 10.0))],
    "hardtanh": [(("min_val", 0.0), ("max_val", 6.0)), (("min_val", -2.5),)],
    "softmax": [(("dim", d),) for d in (2, 3, -1, -3)],
    "log_softmax": [(("dim", d),) for d in (2, -1)],
}

CASES = [
    # Every function in every form it has, on C×H×W and on flat features.
    *[(Activation("a", f, call=call), shape) for f in FUNCTIONS for call in forms(f) for shape in (SPATIAL, FLAT)],
    # Every option, in every form.
    *[(Activation("a", f, opts, call), SPATIAL) for f, choices in OPTIONS.items() for opts in choices
      for call in forms(f)],
    (Activation("a", "softmax", (("dim", -1),), "function"), FLAT),
    (PReLU("p"), SPATIAL), (PReLU("p"), FLAT),
    (PReLU("p", True), SPATIAL), (PReLU("p", True), FLAT), (PReLU("p", True, 0.1, "subclass"), SPATIAL),
    (PReLU("p", False, -0.3, "subclass"), FLAT),
    *[(Dropout("d", 0.3, v), shape) for v, spec in VARIANTS.items()
      for shape in ((SPATIAL,) if 3 in spec.ranks else ()) + ((FLAT,) if 1 in spec.ranks else ())],
]


@pytest.mark.parametrize("node, shape", CASES, ids=[f"{type(n).__name__}-{getattr(n, 'function', '')}"
                                                    f"{getattr(n, 'variant', '')}-{getattr(n, 'call', '')}-"
                                                    f"{len(s)}d-{i}" for i, (n, s) in enumerate(CASES)])
def test_each_case_meets_every_oracle(node, shape):
    check_case(node, shape)


# --- random options and shapes ----------------------------------------------------------

def shapes() -> st.SearchStrategy:
    return st.one_of(st.tuples(st.integers(1, 5), st.integers(1, 7), st.integers(1, 7)),
                     st.tuples(st.integers(1, 40)))


def _real(low: float, high: float) -> st.SearchStrategy:
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


@st.composite
def activation_options(draw, function: str, rank: int) -> dict:
    """Values torch accepts for each option of ``function``."""
    if function == "leaky_relu":
        return {"negative_slope": draw(_real(-1, 3))}
    if function in ("elu", "celu"):
        return {"alpha": draw(_real(0.1, 3))}
    if function == "gelu":
        return {"approximate": draw(st.sampled_from(["none", "tanh"]))}
    if function == "softplus":
        return {"beta": draw(_real(0.5, 4)), "threshold": draw(_real(1, 30))}
    if function == "hardtanh":
        return {"min_val": draw(_real(-4, 0)), "max_val": draw(_real(0.5, 7))}
    if function in ("softmax", "log_softmax"):
        return {"dim": draw(st.sampled_from([*range(1, rank + 1), *range(-rank, 0)]))}
    return {}


@st.composite
def activations(draw) -> tuple:
    from cnncost.kinds.elementwise import canonical

    function = draw(st.sampled_from(sorted(FUNCTIONS)))
    shape = draw(shapes())
    values = draw(activation_options(function, len(shape)))
    return Activation("a", function, canonical(function, values), draw(st.sampled_from(forms(function)))), shape


@settings(max_examples=40, deadline=None)
@given(activations())
def test_random_activations_meet_every_oracle(case):
    check_case(*case)


@st.composite
def prelus(draw) -> tuple:
    shape = draw(shapes())
    # One channel per channel is one shared slope: the importer reads nn.PReLU(1) back as shared.
    per_channel = draw(st.booleans()) and shape[0] > 1
    return PReLU("p", per_channel, draw(_real(-1, 1)), draw(st.sampled_from(["module", "subclass"]))), shape


@settings(max_examples=25, deadline=None)
@given(prelus())
def test_random_prelus_meet_every_oracle(case):
    check_case(*case)


def test_a_per_channel_prelu_on_one_channel_is_one_slope():
    check_case(PReLU("p", True), (1, 4, 4), round_trip=False)
    assert engine.analyze(L.Network("t", (1, 4, 4), (PReLU("p", True),))).total("params") == 1


@st.composite
def dropouts(draw) -> tuple:
    variant = draw(st.sampled_from(sorted(VARIANTS)))
    shape = draw(shapes().filter(lambda s: len(s) in VARIANTS[variant].ranks))
    return Dropout("d", draw(_real(0, 1)), variant), shape


@settings(max_examples=25, deadline=None)
@given(dropouts())
def test_random_dropouts_meet_every_oracle(case):
    check_case(*case)


# --- what is refused ----------------------------------------------------------------------

@pytest.mark.parametrize("node, shape, message", [
    (Activation("a", "softmax", (("dim", 0),)), SPATIAL, "batch axis"),
    (Activation("a", "softmax", (("dim", -4),)), SPATIAL, "batch axis"),
    (Activation("a", "log_softmax", (("dim", 2),)), FLAT, "out of range"),
    (Activation("a", "softmax", (("dim", 4),)), SPATIAL, "out of range"),
    (Activation("a", "relu", (("alpha", 1.0),)), SPATIAL, "no option 'alpha'"),
    (Activation("a", "swish"), SPATIAL, "no activation function 'swish'"),
    (Dropout("d", 0.5, "dropout2d"), FLAT, "takes C×H×W"),
    (Dropout("d", 0.5, "dropout3d"), FLAT, "takes C×H×W"),
    (Dropout("d", 0.5, "dropout1d"), SPATIAL, "takes flat features"),
    (Dropout("d", 0.5, "spatial"), SPATIAL, "no dropout variant"),
    (Dropout("d", 1.5), SPATIAL, "not between 0 and 1"),
])
def test_invalid_layers_are_errors(node, shape, message):
    with pytest.raises(CnncostError, match=message):
        engine.analyze(L.Network("t", shape, (node,)))


def test_torch_itself_rejects_what_is_refused():
    """The refused dims and ranks are those torch rejects or deprecates (a warning today)."""
    with pytest.raises(RuntimeError):
        nn.Dropout1d()(torch.zeros(1, *SPATIAL))
    with pytest.raises(IndexError):
        F.softmax(torch.zeros(1, *SPATIAL), dim=4)
    with pytest.warns(UserWarning, match="deprecated"):
        nn.Dropout2d()(torch.zeros(1, *FLAT))


# --- user modules in each idiom -------------------------------------------------------------

class Head(nn.Module):
    """conv → (flatten → linear) → the layer under test, written as ``body``."""

    def __init__(self, body, flat: bool = False, channels: int = 4):
        super().__init__()
        self.conv = nn.Conv2d(3, channels, 3, padding=1)
        self.fc = nn.Linear(channels * 36, 7) if flat else None
        if isinstance(body, nn.Module):
            self.act = body
        else:
            self.body = body

    def forward(self, x):
        y = self.conv(x)
        if self.fc is not None:
            y = self.fc(torch.flatten(y, 1))
        return self.act(y) if hasattr(self, "act") else self.body(y)


def _sub(cls: type, *args, **kwargs) -> nn.Module:
    return type(f"My{cls.__name__}", (cls,), {})(*args, **kwargs)


A, D = Activation, Dropout
IDIOMS = {
    # relu and the in-place forms
    "x.relu_()": (lambda y: y.relu_(), A("x", "relu", call="method")),
    "F.relu_": (lambda y: F.relu_(y), A("x", "relu", call="torch")),  # F.relu_ is torch.relu_
    "torch.relu_": (lambda y: torch.relu_(y), A("x", "relu", call="torch")),
    "F.relu(inplace)": (lambda y: F.relu(y, inplace=True), A("x", "relu", call="function")),
    "nn.ReLU(inplace)": (nn.ReLU(inplace=True), A("x", "relu")),
    # leaky relu: hooked module, unpatched function
    "F.leaky_relu(y, 0.2)": (lambda y: F.leaky_relu(y, 0.2), A("x", "leaky_relu", (("negative_slope", 0.2),),
                                                               "function")),
    "F.leaky_relu_": (lambda y: F.leaky_relu_(y, 0.3), A("x", "leaky_relu", (("negative_slope", 0.3),), "function")),
    "nn.LeakyReLU(0.2, True)": (nn.LeakyReLU(0.2, True), A("x", "leaky_relu", (("negative_slope", 0.2),))),
    "MyLeakyReLU": (_sub(nn.LeakyReLU, 0.1), A("x", "leaky_relu", (("negative_slope", 0.1),), "subclass")),
    # elu, celu, selu
    "F.elu(y, 0.5)": (lambda y: F.elu(y, 0.5), A("x", "elu", (("alpha", 0.5),), "function")),
    "F.elu(inplace)": (lambda y: F.elu(y, inplace=True), A("x", "elu", call="function")),
    "MyELU": (_sub(nn.ELU, alpha=2.0), A("x", "elu", (("alpha", 2.0),), "subclass")),
    "torch.celu(y, 0.5)": (lambda y: torch.celu(y, 0.5), A("x", "celu", (("alpha", 0.5),), "torch")),
    "F.celu_": (lambda y: F.celu_(y, 2.0), A("x", "celu", (("alpha", 2.0),), "torch")),  # F.celu_ is torch.celu_
    "F.celu(alpha=3)": (lambda y: F.celu(y, alpha=3), A("x", "celu", (("alpha", 3.0),), "function")),
    "torch.selu_": (lambda y: torch.selu_(y), A("x", "selu", call="torch")),
    "F.selu": (lambda y: F.selu(y), A("x", "selu", call="function")),
    # hardtanh and relu6 (a ReLU6 is a Hardtanh)
    "F.hardtanh_": (lambda y: F.hardtanh_(y, -2.0, 2.0), A("x", "hardtanh", (("min_val", -2.0), ("max_val", 2.0)),
                                                           "function")),
    "nn.Hardtanh(0, 6)": (nn.Hardtanh(0, 6), A("x", "hardtanh", (("min_val", 0.0), ("max_val", 6.0)))),
    "MyReLU6": (_sub(nn.ReLU6), A("x", "relu6", call="subclass")),
    "nn.ReLU6(inplace)": (nn.ReLU6(inplace=True), A("x", "relu6")),
    "F.relu6(inplace)": (lambda y: F.relu6(y, inplace=True), A("x", "relu6", call="function")),
    # hard and smooth gates
    "F.hardswish(inplace)": (lambda y: F.hardswish(y, inplace=True), A("x", "hardswish", call="function")),
    "MyHardswish": (_sub(nn.Hardswish), A("x", "hardswish", call="subclass")),
    "F.hardsigmoid": (lambda y: F.hardsigmoid(y), A("x", "hardsigmoid", call="function")),
    "nn.GELU(tanh)": (nn.GELU("tanh"), A("x", "gelu", (("approximate", "tanh"),))),
    "F.gelu(tanh)": (lambda y: F.gelu(y, approximate="tanh"), A("x", "gelu", (("approximate", "tanh"),), "function")),
    "MyGELU(tanh)": (_sub(nn.GELU, approximate="tanh"), A("x", "gelu", (("approximate", "tanh"),), "subclass")),
    "F.softplus(y, 2, 10)": (lambda y: F.softplus(y, 2, 10), A("x", "softplus", (("beta", 2.0), ("threshold", 10.0)),
                                                               "function")),
    "nn.Softplus(beta=3)": (nn.Softplus(beta=3), A("x", "softplus", (("beta", 3.0),))),
    "F.silu(inplace)": (lambda y: F.silu(y, inplace=True), A("x", "silu", call="function")),
    "MySiLU": (_sub(nn.SiLU), A("x", "silu", call="subclass")),
    "F.mish": (lambda y: F.mish(y), A("x", "mish", call="function")),
    "x.tanh_()": (lambda y: y.tanh_(), A("x", "tanh", call="method")),
    "torch.tanh_": (lambda y: torch.tanh_(y), A("x", "tanh", call="torch")),
    "F.tanh": (lambda y: F.tanh(y), A("x", "tanh", call="method")),  # a wrapper of y.tanh(): fx records that
    "x.sigmoid_()": (lambda y: y.sigmoid_(), A("x", "sigmoid", call="method")),
    "torch.sigmoid_": (lambda y: torch.sigmoid_(y), A("x", "sigmoid", call="torch")),
    "F.sigmoid": (lambda y: F.sigmoid(y), A("x", "sigmoid", call="method")),
    "F.logsigmoid": (lambda y: F.logsigmoid(y), A("x", "logsigmoid", call="function")),
    "nn.LogSigmoid": (nn.LogSigmoid(), A("x", "logsigmoid")),
    "F.softsign": (lambda y: F.softsign(y), A("x", "softsign", call="function")),
    "F.tanhshrink": (lambda y: F.tanhshrink(y), A("x", "tanhshrink", call="function")),
    # softmax over channels
    "F.softmax(y, 1)": (lambda y: F.softmax(y, 1), A("x", "softmax", call="function")),
    "F.softmax(y)": (lambda y: F.softmax(y), A("x", "softmax", call="function")),  # torch's implicit dim: 1
    "torch.softmax(y, -1)": (lambda y: torch.softmax(y, -1), A("x", "softmax", (("dim", -1),), "torch")),
    "y.softmax(dim=2)": (lambda y: y.softmax(dim=2), A("x", "softmax", (("dim", 2),), "method")),
    "nn.Softmax()": (nn.Softmax(), A("x", "softmax")),
    "nn.Softmax(dim=-3)": (nn.Softmax(dim=-3), A("x", "softmax", (("dim", -3),))),
    "MySoftmax(1)": (_sub(nn.Softmax, 1), A("x", "softmax", call="subclass")),
    "F.log_softmax(y, dim=1)": (lambda y: F.log_softmax(y, dim=1), A("x", "log_softmax", call="function")),
    "torch.log_softmax(y, 3)": (lambda y: torch.log_softmax(y, 3), A("x", "log_softmax", (("dim", 3),), "torch")),
    "y.log_softmax(1)": (lambda y: y.log_softmax(1), A("x", "log_softmax", call="method")),
    "nn.LogSoftmax(2)": (nn.LogSoftmax(2), A("x", "log_softmax", (("dim", 2),))),
    # PReLU
    "nn.PReLU()": (nn.PReLU(), PReLU("x")),
    "nn.PReLU(4)": (nn.PReLU(4), PReLU("x", True)),
    "MyPReLU(4, 0.1)": (_sub(nn.PReLU, 4, 0.1), PReLU("x", True, 0.1, "subclass")),
    # dropout variants
    "nn.Dropout2d": (nn.Dropout2d(0.2), D("x", 0.2, "dropout2d")),
    "F.dropout2d": (lambda y: F.dropout2d(y, 0.1, training=False), D("x", 0.1, "dropout2d")),
    "nn.Dropout3d": (nn.Dropout3d(), D("x", 0.5, "dropout3d")),
    "F.dropout3d": (lambda y: F.dropout3d(y, 0.2, False), D("x", 0.2, "dropout3d")),
    "nn.AlphaDropout": (nn.AlphaDropout(0.1), D("x", 0.1, "alpha_dropout")),
    "F.alpha_dropout": (lambda y: F.alpha_dropout(y, 0.2), D("x", 0.2, "alpha_dropout")),
    "torch.alpha_dropout": (lambda y: torch.alpha_dropout(y, 0.3, False), D("x", 0.3, "alpha_dropout")),
    "nn.FeatureAlphaDropout": (nn.FeatureAlphaDropout(0.4), D("x", 0.4, "feature_alpha_dropout")),
    "F.feature_alpha_dropout": (lambda y: F.feature_alpha_dropout(y, p=0.1), D("x", 0.1, "feature_alpha_dropout")),
    "torch.feature_alpha_dropout": (lambda y: torch.feature_alpha_dropout(y, 0.2, False),
                                    D("x", 0.2, "feature_alpha_dropout")),
    "torch.dropout": (lambda y: torch.dropout(y, 0.3, False), D("x", 0.3)),
}
FLAT_IDIOMS = {  # at a classifier's output, on flat features
    "F.softmax(logits, dim=1)": (lambda y: F.softmax(y, dim=1), A("x", "softmax", call="function")),
    "logits.softmax(-1)": (lambda y: y.softmax(-1), A("x", "softmax", (("dim", -1),), "method")),
    "nn.LogSoftmax(dim=1)": (nn.LogSoftmax(dim=1), A("x", "log_softmax")),
    "F.leaky_relu(logits)": (lambda y: F.leaky_relu(y), A("x", "leaky_relu", call="function")),
    "nn.PReLU(7)": (nn.PReLU(7), PReLU("x", True)),
    "nn.Dropout1d": (nn.Dropout1d(0.2), D("x", 0.2, "dropout1d")),
    "F.dropout1d": (lambda y: F.dropout1d(y, 0.3, False), D("x", 0.3, "dropout1d")),
    "nn.AlphaDropout(flat)": (nn.AlphaDropout(0.1), D("x", 0.1, "alpha_dropout")),
}
SHAPE = (3, 6, 6)


def _converted_layer(module: nn.Module) -> tuple:
    """The converted network and its one layer that is not the conv/flatten/linear scaffolding."""
    converted = convert_module(module, "m", SHAPE)
    network = converted.network(*SHAPE[1:])
    found = [leaf for leaf in L.leaves(network.layers) if isinstance(leaf, (Activation, PReLU, Dropout))]
    assert len(found) == 1, network.layers
    return network, found[0]


def _meets_the_tools(module: nn.Module, expected) -> None:
    network, layer = _converted_layer(module)
    assert layer._replace(name="x") == expected
    table = engine.analyze(network)
    with torch.no_grad():
        assert table.output_shape == tuple(module.eval()(torch.randn(1, *SHAPE)).shape[1:])
    assert table.total("params") == oracles.param_count(module)
    assert table.total("macs") == torch_macs(module, SHAPE)
    assert table.total("fvcore") == oracles.fvcore_total(module, SHAPE)
    assert table.total("ptflops") == oracles.ptflops_macs(module, SHAPE)
    result = verify(network)  # rebuilt in the recorded form, every cell against the tools
    assert result.ok, [(row.name, name) for row in result.layers for name, cell in row.cells.items() if not cell.ok]


@pytest.mark.parametrize("idiom", IDIOMS)
def test_each_idiom_on_channels_matches_the_tools(idiom):
    body, expected = IDIOMS[idiom]
    _meets_the_tools(Head(body), expected)


@pytest.mark.parametrize("idiom", FLAT_IDIOMS)
def test_each_idiom_on_flat_features_matches_the_tools(idiom):
    body, expected = FLAT_IDIOMS[idiom]
    _meets_the_tools(Head(body, flat=True), expected)


def test_the_forms_really_differ_in_ptflops():
    """Sanity of the oracles themselves: how a layer is written changes ptflops' count."""
    def ptflops(body, flat=False):
        return oracles.ptflops_macs(Head(body, flat), SHAPE)

    assert ptflops(nn.PReLU()) > ptflops(_sub(nn.PReLU)) > ptflops(nn.Identity())
    assert ptflops(nn.LeakyReLU()) > ptflops(lambda y: F.leaky_relu(y)) == ptflops(nn.Identity())
    assert ptflops(nn.Softmax(1)) == ptflops(_sub(nn.Softmax, 1)) > ptflops(lambda y: torch.softmax(y, 1))
    assert ptflops(nn.ReLU6()) > ptflops(nn.Hardtanh(0, 6)) == ptflops(nn.Identity())


@pytest.mark.parametrize("body, message", [
    (lambda y: F.elu_(y), "F.elu_"),  # torch._C._nn.elu_: reads as F.*, but ptflops does not patch it
    (lambda y: torch.softmax(y, 1, dtype=torch.float64), "torch.softmax with dtype"),
    (lambda y: F.softmax(y, 1, dtype=torch.float64), "F.softmax with dtype"),
    (lambda y: F.log_softmax(y, dim=1, _stacklevel=3, dtype=torch.float64), "F.log_softmax with dtype"),
])
def test_unsupported_calls_are_refused_by_name(body, message):
    with pytest.raises(CnncostError, match=message):
        convert_module(Head(body), "m", SHAPE)


@pytest.mark.parametrize("body, message", [
    (lambda y: F.softmax(y, 0), "batch axis"),
    (nn.LogSoftmax(-4), "batch axis"),
    (nn.Dropout2d(), "takes C×H×W"),
])
def test_invalid_flat_or_batch_uses_are_errors_at_counting(body, message):
    flat = isinstance(body, nn.Dropout2d)
    converted = convert_module(Head(body, flat=flat), "m", SHAPE)
    with pytest.raises(CnncostError, match=message):
        engine.analyze(converted.network(*SHAPE[1:]))


def test_a_prelu_built_for_other_channels_is_refused():
    converted = convert_module(Head(nn.PReLU(5)), "m", SHAPE)  # 4 channels reach it
    with pytest.raises(CnncostError, match="built for 5"):
        converted.network(*SHAPE[1:])


# --- architecture files ------------------------------------------------------------------

ARCHFILE = """
[network]
input = [3, 10, 12]
[symbols]
m = 6
[[layers]]
type = "conv"
out = "m"
kernel = 3
padding = 1
[[layers]]
type = "prelu"
per_channel = true
[[layers]]
type = "leaky_relu"
negative_slope = 0.2
[[layers]]
type = "gelu"
tanh = true
[[layers]]
type = "dropout2d"
p = 0.1
[[layers]]
type = "softmax"
dim = -3
[[layers]]
type = "hardswish"
[[layers]]
type = "feature_alpha_dropout"
[[layers]]
type = "flatten"
[[layers]]
type = "linear"
out = 9
[[layers]]
type = "prelu"
[[layers]]
type = "elu"
alpha = 0.5
[[layers]]
type = "alpha_dropout"
p = 0.2
[[layers]]
type = "log_softmax"
"""


def test_an_architecture_file_with_the_new_types_counts_like_its_module(tmp_path):
    path = tmp_path / "net.toml"
    path.write_text(ARCHFILE)
    arch = load_arch(str(path))
    table = engine.analyze(arch.build(h=10, w=12, m=6))
    module = zoo.build(str(path)).eval()
    kinds = {name: m for name, m in module.named_modules() if not list(m.children()) and name}
    types = [type(m).__name__ for m in kinds.values()]
    assert types == ["Conv2d", "PReLU", "LeakyReLU", "GELU", "Dropout2d", "Softmax", "Hardswish",
                     "FeatureAlphaDropout", "Flatten", "Linear", "PReLU", "ELU", "AlphaDropout", "LogSoftmax"]
    by_type = {type(m).__name__: m for m in kinds.values()}
    assert (by_type["LeakyReLU"].negative_slope, by_type["GELU"].approximate, by_type["Softmax"].dim,
            by_type["ELU"].alpha, by_type["Dropout2d"].p, by_type["LogSoftmax"].dim) == (0.2, "tanh", -3, 0.5, 0.1, 1)
    shape = (3, 10, 12)
    assert table.total("params") == oracles.param_count(module)  # 6 slopes + 1 shared among them
    assert table.total("macs") == torch_macs(module, shape)
    assert table.total("fvcore") == oracles.fvcore_total(module, shape)
    assert table.total("ptflops") == oracles.ptflops_macs(module, shape)


@pytest.mark.parametrize("edit, message", [
    (('dim = -3', 'dim = 0'), "batch axis"),
    (('dim = -3', 'dim = 4'), "out of range"),
    (('dim = -3', 'dim = -5'), "out of range"),
    (('negative_slope = 0.2', 'negative_slope = 2'), "out of range"),
    (('type = "alpha_dropout"', 'type = "dropout2d"'), "takes C×H×W"),
])
def test_invalid_fields_in_a_file_are_errors(tmp_path, edit, message):
    path = tmp_path / "bad.toml"
    path.write_text(ARCHFILE.replace(*edit))
    with pytest.raises(CnncostError, match=message):
        arch = load_arch(str(path))
        engine.analyze(arch.build(h=10, w=12, m=6))


# --- closed forms -----------------------------------------------------------------------------

def _symbolic_net(h, w) -> L.Network:
    return L.Network("t", (3, h, w), (
        L.Conv2d("conv", 5, 3, padding=1), PReLU("prelu", True), Activation("leaky", "leaky_relu"),
        Activation("soft", "softmax", call="subclass"), Dropout("drop", 0.2, "dropout2d"),
        Activation("gelu", "gelu", (("approximate", "tanh"),), "function"), L.MaxPool2d("pool", 2),
        L.Flatten("flat"), L.Linear("fc", 8), PReLU("prelu2", call="subclass"),
        Activation("elu", "elu"), Activation("out", "softmax", call="function"),
    ))


@settings(max_examples=6, deadline=None)
@given(st.integers(2, 20), st.integers(2, 20))
def test_the_closed_form_equals_the_count_at_a_random_size(h, w):
    H, W = sympy.symbols("H W", positive=True, integer=True)
    symbolic = engine.analyze(_symbolic_net(H, W))
    numeric = engine.analyze(_symbolic_net(h, w))
    for quantity in ("params", "macs", "fvcore", "ptflops", "activations"):
        assert sympy.sympify(symbolic.total(quantity)).subs({H: h, W: w}) == numeric.total(quantity), quantity
    module = zoo.to_module(_symbolic_net(h, w))
    assert numeric.total("ptflops") == oracles.ptflops_macs(module, (3, h, w))
    assert numeric.total("params") == oracles.param_count(module)


def test_the_family_loads_without_torch():
    """``cnncost count`` stays torch-free: the kinds name torch objects by path and import torch in bindings."""
    import subprocess
    import sys

    code = "import sys, cnncost.kinds.elementwise; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
