"""AdaptiveMaxPool2d, global reductions (x.mean((2, 3)) and kin), padding in every torch mode, Conv2d's
padding_mode and ChannelShuffle, against the real tools in every call form the importer recognises.

Every expected number comes from torch itself (numel, FlopCounterMode, the output shape, whether
torch accepts a padding), fvcore 0.1.5 or ptflops 0.7.5 run on the same module; none is typed in.
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

import cnncost
import zoo
from cnncost import engine
from cnncost import layers as L
from cnncost.errors import CnncostError
from cnncost.kinds.pool import AdaptiveMaxPool2d, GlobalPool
from cnncost.kinds.reshape import ChannelShuffle, ZeroPad2d
from tests.kind_oracles import check_case, torch_macs
from zoo import oracles
from zoo.fx_import import convert_module

warnings.filterwarnings("ignore", module="fvcore")

MODES = ("constant", "reflect", "replicate", "circular")
CONV_MODES = ("zeros", "reflect", "replicate", "circular")

CASES = [
    (AdaptiveMaxPool2d("p", 1), (3, 5, 4)),
    (AdaptiveMaxPool2d("p", (3, 2)), (2, 7, 5)),
    (AdaptiveMaxPool2d("p", 4), (2, 3, 3)),  # larger than the input: windows overlap
    (AdaptiveMaxPool2d("p", 2, "function"), (3, 6, 6)),
    (AdaptiveMaxPool2d("p", 2, "subclass"), (3, 6, 6)),
    (GlobalPool("g"), (4, 5, 3)),
    (GlobalPool("g", "mean", True), (4, 5, 3)),
    (GlobalPool("g", "mean", False, "torch"), (4, 5, 3)),
    (GlobalPool("g", "amax"), (3, 2, 6)),
    (GlobalPool("g", "amax", True, "torch"), (3, 2, 6)),
    (GlobalPool("g", "sum", True), (2, 1, 1)),
    (GlobalPool("g", "sum", False, "torch"), (2, 4, 4)),
    (ZeroPad2d("z", (1, 2, 0, 3)), (2, 4, 5)),
    (ZeroPad2d("z", (1, 0, 2, 1), "constant", -2.5), (2, 3, 3)),
    (ZeroPad2d("z", (3, 2, 1, 3), "reflect"), (2, 4, 4)),  # each side below the input size
    (ZeroPad2d("z", (2, 3, 4, 0), "replicate"), (3, 1, 1)),  # any amount, even of a 1×1 input
    (ZeroPad2d("z", (2, 1, 3, 3), "circular"), (1, 3, 2)),  # at most the input size
    (L.Conv2d("c", 4, 3, padding=1, padding_mode="reflect"), (3, 2, 5)),
    (L.Conv2d("c", 6, (3, 2), stride=(2, 1), padding=(2, 1), groups=3, bias=False, padding_mode="replicate"),
     (3, 1, 1)),
    (L.Conv2d("c", 4, 4, padding="same", padding_mode="circular"), (2, 2, 3)),  # same: 1 top/left, 2 bottom/right
    (L.Conv2d("c", 4, 3, padding="valid", padding_mode="reflect"), (2, 3, 3)),
    (L.Conv2d("c", 4, 3, padding=2, dilation=2, padding_mode="reflect", call="subclass"), (2, 3, 4)),
    (ChannelShuffle("s", 2), (4, 3, 5)),
    (ChannelShuffle("s", 3, "subclass"), (6, 2, 2)),
    (ChannelShuffle("s", 4, "torch"), (8, 1, 3)),
    (ChannelShuffle("s", 1), (3, 2, 2)),
    (ChannelShuffle("s", 2, "view"), (6, 3, 4)),
]
@pytest.mark.parametrize("node, shape", CASES, ids=lambda v: repr(v) if isinstance(v, tuple) else None)
def test_each_case_meets_every_oracle(node, shape):
    check_case(node, shape)


# --- Hypothesis: random valid hyperparameters and sizes ------------------------------------------

def _collapsed(value):
    """(3, 3) as 3: the importer collapses equal pairs (as torch's modules store them as pairs)."""
    return value[0] if isinstance(value, tuple) and value[0] == value[1] else value


def _size(draw, low: int = 1, high: int = 7) -> tuple:
    return (draw(st.integers(1, 4)), draw(st.integers(low, high)), draw(st.integers(low, high)))


@st.composite
def adaptive_max_cases(draw):
    size = _collapsed(draw(st.one_of(st.integers(1, 5), st.tuples(st.integers(1, 5), st.integers(1, 5)))))
    return AdaptiveMaxPool2d("p", size, draw(st.sampled_from(("module", "function", "subclass")))), _size(draw)


@st.composite
def global_cases(draw):
    node = GlobalPool("g", draw(st.sampled_from(("mean", "amax", "sum"))), draw(st.booleans()),
                      draw(st.sampled_from(("method", "torch"))))
    return node, _size(draw)


def _pads(draw, mode: str, h: int, w: int) -> tuple:
    """(left, right, top, bottom) that torch accepts in ``mode`` on an h×w input."""
    limit = {"reflect": lambda n: n - 1, "circular": lambda n: n}.get(mode, lambda n: 4)
    return tuple(draw(st.integers(0, limit(n))) for n in (w, w, h, h))


@st.composite
def pad_cases(draw):
    mode = draw(st.sampled_from(MODES))
    c, h, w = _size(draw)
    value = draw(st.sampled_from((0.0, 1.0, -3.5))) if mode == "constant" else 0.0
    return ZeroPad2d("z", _pads(draw, mode, h, w), mode, value), (c, h, w)


@st.composite
def conv_mode_cases(draw):
    mode = draw(st.sampled_from(CONV_MODES))
    groups = draw(st.integers(1, 3))
    kernel = _collapsed((draw(st.integers(1, 4)), draw(st.integers(1, 4))))
    padding = _collapsed(draw(st.one_of(st.integers(0, 2), st.tuples(st.integers(0, 2), st.integers(0, 2)),
                                        st.sampled_from(("same", "valid")))))
    stride = 1 if padding == "same" else _collapsed((draw(st.integers(1, 2)), draw(st.integers(1, 2))))
    node = L.Conv2d("c", groups * draw(st.integers(1, 3)), kernel, stride, padding, 1, groups, draw(st.booleans()),
                    mode, draw(st.sampled_from(("module", "subclass"))))
    need = engine.min_input_size(L.Network("t", (groups, 1, 1), (node,)))  # torch's limits are checked below
    h, w = draw(st.integers(max(need[0], 1), 8)), draw(st.integers(max(need[1], 1), 8))
    return node, (groups * draw(st.integers(1, 2)), h, w)


@st.composite
def shuffle_cases(draw):
    groups = draw(st.integers(1, 4))
    return (ChannelShuffle("s", groups, draw(st.sampled_from(("module", "subclass", "torch", "view")))),
            (groups * draw(st.integers(1, 3)), draw(st.integers(1, 5)), draw(st.integers(1, 5))))


@pytest.mark.parametrize("cases", [adaptive_max_cases(), global_cases(), pad_cases(), conv_mode_cases(),
                                   shuffle_cases()], ids=["adaptivemax", "global", "pad", "conv_mode", "shuffle"])
def test_random_cases_meet_every_oracle(cases):
    @settings(max_examples=20, deadline=None)
    @given(cases)
    def run(case):
        node, shape = case
        check_case(node, shape)

    run()


# --- where torch refuses a padding, cnncost refuses it too ----------------------------------------

def _torch_accepts(module: nn.Module, shape: tuple) -> bool:
    try:
        with torch.no_grad():
            module(torch.zeros(1, *shape))
    except RuntimeError:
        return False
    return True


def _engine_accepts(node, shape: tuple) -> bool:
    try:
        engine.analyze(L.Network("t", shape, (node,)))
    except CnncostError:
        return False
    return True


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(("reflect", "circular", "replicate")), st.tuples(*[st.integers(0, 5)] * 4),
       st.integers(1, 5), st.integers(1, 5))
def test_padding_limits_are_torchs(mode, pads, h, w):
    node = ZeroPad2d("z", pads, mode)
    module = zoo.to_module(L.Network("t", (1, 6, 6), (node,)))  # built where it fits, run where it may not
    assert _engine_accepts(node, (1, h, w)) == _torch_accepts(module, (1, h, w)), (mode, pads, h, w)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(("reflect", "circular", "replicate")), st.integers(1, 5), st.integers(0, 3),
       st.sampled_from((0, 1, 2, "same")), st.integers(1, 5), st.integers(1, 5))
def test_conv_padding_mode_limits_are_torchs(mode, kernel, dilation_extra, padding, h, w):
    node = L.Conv2d("c", 2, kernel, 1, padding, 1 + dilation_extra % 2, 1, True, mode)
    module = nn.Conv2d(1, 2, kernel, 1, padding, 1 + dilation_extra % 2, padding_mode=mode)
    torch_ok = _torch_accepts(module, (1, h, w))
    assert _engine_accepts(node, (1, h, w)) == torch_ok, (mode, kernel, padding, h, w)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(MODES), st.tuples(*[st.integers(0, 4)] * 4), st.integers(1, 4), st.integers(1, 4))
def test_minimum_input_is_the_smallest_torch_runs(mode, pads, kernel_h, kernel_w):
    """min_input_size of pad → conv: torch runs it there with a non-empty output, and not one pixel less."""
    layers = (ZeroPad2d("z", pads, mode), L.Conv2d("c", 1, (kernel_h, kernel_w)))
    need = engine.min_input_size(L.Network("t", (1, 9, 9), layers))
    h, w = max(need[0], 1), max(need[1], 1)
    module = zoo.to_module(L.Network("t", (1, 12, 12), layers))

    def runs(hh: int, ww: int) -> bool:
        return _torch_accepts(module, (1, hh, ww))

    assert runs(h, w)
    assert h == 1 or not runs(h - 1, w)
    assert w == 1 or not runs(h, w - 1)


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(CONV_MODES), st.integers(1, 5), st.integers(0, 3), st.integers(1, 3))
def test_conv_minimum_input_is_the_smallest_torch_runs(mode, kernel, padding, stride):
    node = L.Conv2d("c", 1, kernel, stride, padding, padding_mode=mode)
    need = engine.min_input_size(L.Network("t", (1, 9, 9), (node,)))
    h = max(need[0], 1)
    module = nn.Conv2d(1, 1, kernel, stride, padding, padding_mode=mode)
    assert _torch_accepts(module, (1, h, h))
    assert h == 1 or not _torch_accepts(module, (1, h - 1, h))


# --- call forms: a user's module, converted and counted, against the tools on that module ---------

class Forward(nn.Module):
    """A module whose forward is ``fn`` applied after a 3→4 conv (so every case has something to count)."""

    def __init__(self, fn, extra: nn.Module | None = None):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.extra = extra if extra is not None else nn.Identity()
        self.fn = fn

    def forward(self, x):
        return self.fn(self.extra(self.conv(x)))


class SubAdaptiveMax(nn.AdaptiveMaxPool2d):
    """A user's subclass keeping the forward: ptflops hooks exact types only."""


class SubShuffle(nn.ChannelShuffle):
    """A user's subclass of nn.ChannelShuffle."""


def shuffle_idiom(x, groups: int = 2):
    """A channel shuffle as ShuffleNetV2 user code writes it: view, transpose, contiguous, view."""
    batch, channels, height, width = x.size()
    x = x.view(batch, groups, channels // groups, height, width)
    x = torch.transpose(x, 1, 2).contiguous()
    return x.view(batch, -1, height, width)


FORMS = {
    "AdaptiveMaxPool2d": (lambda x: x, nn.AdaptiveMaxPool2d((2, 3))),
    "AdaptiveMaxPool2d subclass": (lambda x: x, SubAdaptiveMax(2)),
    "F.adaptive_max_pool2d": (lambda x: F.adaptive_max_pool2d(x, 1), None),
    "F.adaptive_max_pool2d kw": (lambda x: F.adaptive_max_pool2d(x, output_size=(1, 2), return_indices=False), None),
    "x.mean([2, 3])": (lambda x: x.mean([2, 3]), None),
    "x.mean((2, 3), keepdim=True)": (lambda x: x.mean((2, 3), keepdim=True), None),
    "x.mean(dim=(-1, -2))": (lambda x: x.mean(dim=(-1, -2)), None),
    "torch.mean(x, dim=(2, 3))": (lambda x: torch.mean(x, dim=(2, 3)), None),
    "torch.mean(x, [2, 3], True)": (lambda x: torch.mean(x, [2, 3], True), None),
    "x.amax((2, 3))": (lambda x: x.amax((2, 3)), None),
    "torch.amax(x, (-2, -1), True)": (lambda x: torch.amax(x, (-2, -1), True), None),
    "x.sum((2, 3))": (lambda x: x.sum((2, 3)), None),
    "torch.sum(x, dim=(3, 2), keepdim=True)": (lambda x: torch.sum(x, dim=(3, 2), keepdim=True), None),
    "ReflectionPad2d": (lambda x: x, nn.ReflectionPad2d((1, 2, 0, 1))),
    "ReplicationPad2d": (lambda x: x, nn.ReplicationPad2d(3)),
    "ConstantPad2d": (lambda x: x, nn.ConstantPad2d((0, 1, 2, 0), 0.5)),
    "ZeroPad2d": (lambda x: x, nn.ZeroPad2d(1)),
    "CircularPad2d": (lambda x: x, nn.CircularPad2d((2, 1, 1, 0))),
    "F.pad reflect": (lambda x: F.pad(x, (1, 1, 2, 0), mode="reflect"), None),
    "F.pad width only": (lambda x: F.pad(x, (1, 2)), None),
    "F.pad circular": (lambda x: F.pad(x, [1, 1, 1, 1], mode="circular"), None),
    "F.pad constant value": (lambda x: F.pad(x, (1, 1, 1, 1), "constant", 3.0), None),
    "F.pad value kw": (lambda x: F.pad(x, (0, 1, 0, 1), value=-1.0), None),
    "Conv2d reflect": (lambda x: x, nn.Conv2d(4, 6, 3, padding=1, padding_mode="reflect")),
    "Conv2d circular same": (lambda x: x, nn.Conv2d(4, 4, (2, 3), padding="same", padding_mode="circular")),
    "Conv2d replicate grouped": (lambda x: x, nn.Conv2d(4, 8, 3, 2, 2, groups=4, bias=False,
                                                        padding_mode="replicate")),
    "ChannelShuffle": (lambda x: x, nn.ChannelShuffle(2)),
    "ChannelShuffle subclass": (lambda x: x, SubShuffle(4)),
    "F.channel_shuffle": (lambda x: F.channel_shuffle(x, 2), None),
    "torch.channel_shuffle": (lambda x: torch.channel_shuffle(x, 4), None),
    "channel shuffle view idiom": (shuffle_idiom, None),
}


def assert_tools_agree(module: nn.Module, shape: tuple) -> engine.CostTable:
    """Convert ``module`` and require the tools' counts on the module itself."""
    converted = convert_module(module.eval(), "m", shape)
    table = engine.analyze(converted.network(*shape[1:]))
    with torch.no_grad():
        assert table.output_shape == tuple(module(torch.zeros(1, *shape)).shape[1:])
    assert table.total("params") == oracles.param_count(module)
    assert table.total("macs") == torch_macs(module, shape)
    assert table.total("fvcore") == oracles.fvcore_total(module, shape)
    assert table.total("ptflops") == oracles.ptflops_macs(module, shape)
    return table


@pytest.mark.parametrize("shape", [(3, 6, 7), (3, 9, 5)])
@pytest.mark.parametrize("form", FORMS)
def test_call_forms_match_the_tools(form, shape):
    fn, extra = FORMS[form]
    table = assert_tools_agree(Forward(fn, extra), shape)
    leaf = L.leaves(table.network.layers)[-1]
    assert type(leaf).__name__ in {"AdaptiveMaxPool2d", "GlobalPool", "ZeroPad2d", "Conv2d", "ChannelShuffle"}


def test_call_forms_are_recorded():
    """The forms that ptflops tells apart come back as written."""
    def last(form):
        fn, extra = FORMS[form]
        return L.leaves(convert_module(Forward(fn, extra), "m", (3, 6, 6)).layers)[-1]

    assert last("AdaptiveMaxPool2d").call == "module"
    assert last("AdaptiveMaxPool2d subclass").call == "subclass"
    assert last("F.adaptive_max_pool2d").call == "function"
    assert last("x.mean([2, 3])") == GlobalPool(last("x.mean([2, 3])").name, "mean", False, "method")
    assert last("torch.amax(x, (-2, -1), True)")[1:] == ("amax", True, "torch")
    assert last("F.pad width only")[1:] == ((1, 2, 0, 0), "constant", 0.0)
    assert last("F.pad value kw")[1:] == ((0, 1, 0, 1), "constant", -1.0)
    assert last("Conv2d circular same").padding_mode == "circular"
    assert last("F.channel_shuffle").call == "torch"  # F.channel_shuffle is torch.channel_shuffle
    assert last("ChannelShuffle subclass").call == "subclass"
    assert last("channel shuffle view idiom")[1:] == (2, "view")


def test_adaptive_max_module_counts_twice_in_ptflops():
    """ptflops: the module's hook and the patched F.adaptive_max_pool2d inside it both count."""
    shape = (3, 6, 6)
    module = assert_tools_agree(Forward(*FORMS["AdaptiveMaxPool2d"]), shape)
    function = assert_tools_agree(Forward(*FORMS["F.adaptive_max_pool2d"]), shape)
    conv = oracles.ptflops_macs(Forward(lambda x: x), shape)
    assert module.total("ptflops") - conv == 2 * (function.total("ptflops") - conv) > 0


REFUSED = {
    "AdaptiveMaxPool2d return_indices": (lambda x: x[0], nn.AdaptiveMaxPool2d(2, return_indices=True),
                                         "return_indices"),
    "F.adaptive_max_pool2d return_indices": (lambda x: F.adaptive_max_pool2d(x, 2, return_indices=True)[0],
                                             None, "return_indices"),
    "AdaptiveMaxPool2d None": (lambda x: x, nn.AdaptiveMaxPool2d((2, None)), "keeping an input size"),
    "x.mean()": (lambda x: x.mean(), None, "every dimension"),
    "x.mean(1)": (lambda x: x.mean(1), None, "only dims \\(2, 3\\)"),
    "x.mean(3)": (lambda x: x.mean(3).mean(2), None, "only dims \\(2, 3\\)"),
    "x.sum((1, 2, 3))": (lambda x: x.sum((1, 2, 3)), None, "only dims \\(2, 3\\)"),
    "torch.amax(x, (0, 2))": (lambda x: torch.amax(x, (0, 2)), None, "only dims \\(2, 3\\)"),
    "x.mean dtype": (lambda x: x.mean((2, 3), dtype=torch.float64), None, "dtype"),
    "F.pad 3 dims": (lambda x: F.pad(x, (1, 1, 1, 1, 1, 1)), None, "last two dimensions"),
    "F.pad replicate width only": (lambda x: F.pad(x, (1, 2), "replicate"), None, "replicate mode"),
    "F.pad reflect cropping": (lambda x: F.pad(x, (-1, 1, 0, 0), mode="reflect"), None, "cropping"),
}


@pytest.mark.parametrize("form", REFUSED)
def test_unsupported_forms_are_refused_by_name(form):
    fn, extra, message = REFUSED[form]
    with pytest.raises(CnncostError, match=message):
        convert_module(Forward(fn, extra), "m", (3, 6, 6))


def test_view_idiom_binding_is_torchvisions_idiom():
    """call="view" builds the view/transpose/contiguous/view sequence (what the importer's pattern reads,
    so verify compares like with like), and shuffles channels exactly as nn.ChannelShuffle does."""
    module = zoo.to_module(L.Network("t", (6, 3, 4), (ChannelShuffle("s", 3, "view"),)))
    graph = torch.fx.symbolic_trace(module).graph
    calls = [n.target if n.op == "call_method" else getattr(n.target, "__name__", "") for n in graph.nodes
             if n.op in ("call_method", "call_function") and n.target not in ("size",)
             and getattr(n.target, "__name__", "") not in ("getitem", "floordiv")]
    assert calls == ["view", "transpose", "contiguous", "view"]
    x = torch.randn(2, 6, 3, 4)
    assert torch.equal(module(x), nn.ChannelShuffle(3)(x))


# --- architecture files -----------------------------------------------------------------------

ARCHFILE = """
[network]
input = [3, 10, 9]
[symbols]
m = 4
p = 2
[[layers]]
type = "pad"
padding = ["p", 1, 0, "p"]
reflect = true
[[layers]]
type = "conv"
out = "2*m"
kernel = 3
[[layers]]
type = "channelshuffle"
groups = 2
[[layers]]
type = "pad"
padding = 1
circular = true
[[layers]]
type = "pad"
padding = [0, 1, 2, 3]
[[layers]]
type = "adaptivemaxpool"
size = [3, 2]
[[layers]]
type = "{reduction}"
keepdim = {keepdim}
"""


@pytest.mark.parametrize("reduction, keepdim", [("globalmean", "true"), ("globalmax", "false"),
                                                ("globalsum", "true")])
def test_archfile_types_count_as_the_tools(tmp_path, reduction, keepdim):
    path = tmp_path / "net.toml"
    path.write_text(ARCHFILE.format(reduction=reduction, keepdim=keepdim))
    table = cnncost.count(str(path))
    module = zoo.build(str(path)).eval()
    shape = table.network.input_shape
    with torch.no_grad():
        assert tuple(module(torch.zeros(1, *shape)).shape[1:]) == tuple(table.output_shape)
    assert table.total("params") == oracles.param_count(module)
    assert table.total("macs") == torch_macs(module, shape)
    assert table.total("fvcore") == oracles.fvcore_total(module, shape)
    assert table.total("ptflops") == oracles.ptflops_macs(module, shape)
    kinds = {m for _, m in module.named_modules()}
    assert any(isinstance(m, nn.ReflectionPad2d) for m in kinds) and any(isinstance(m, nn.CircularPad2d)
                                                                          for m in kinds)


def test_archfile_reflect_condition_and_closed_form(tmp_path):
    """The formula's validity conditions carry reflect's limit; the closed form equals the count."""
    path = tmp_path / "net.toml"
    path.write_text(ARCHFILE.format(reduction="globalmean", keepdim="false"))
    derivation = cnncost.formula(str(path))
    from cnncost.symbolic import symbol

    point = {"h": 7, "w": 6, "m": 3, "p": 2}
    for quantity in ("params", "macs", "fvcore", "ptflops"):
        value = derivation.formulas[quantity].xreplace({symbol(k): v for k, v in point.items()})
        assert value == cnncost.count(str(path), **point).total(quantity), quantity
    # reflect padding p (top and left) and 1, 0 needs h > p and w > p: smallest h, w is p + 1
    bound = {symbol("p"): 4}
    conditions = [sympy.simplify(c.xreplace(bound)) for c in derivation.conditions]
    for h, w, ok in ((5, 5, True), (4, 5, False), (5, 4, False)):
        holds = all(bool(c.xreplace({symbol("h"): h, symbol("w"): w})) for c in conditions)
        accepted = _engine_accepts_file(path, h=h, w=w, p=4)
        assert holds == ok == accepted, (h, w)


def _engine_accepts_file(path, **values) -> bool:
    try:
        cnncost.count(str(path), **values)
    except CnncostError:
        return False
    return True


def test_archfile_pad_takes_one_mode(tmp_path):
    path = tmp_path / "net.toml"
    path.write_text('[network]\ninput = [3, 8, 8]\n[[layers]]\ntype = "pad"\npadding = 1\nreflect = true\n'
                    'circular = true\n')
    with pytest.raises(CnncostError, match="reflect and circular"):
        cnncost.count(str(path))


# --- symbolic and numeric counts agree ---------------------------------------------------------

H, W = sympy.symbols("H W", positive=True, integer=True)


@settings(max_examples=15, deadline=None)
@given(st.integers(4, 30), st.integers(4, 30), st.sampled_from(MODES), st.sampled_from(CONV_MODES),
       st.sampled_from(("mean", "amax", "sum")), st.booleans())
def test_symbolic_counts_equal_numeric(h, w, pad_mode, conv_mode, op, keepdim):
    layers = (ZeroPad2d("pad", (1, 2, 0, 3), pad_mode), L.Conv2d("conv", 8, 3, 2, 1, padding_mode=conv_mode),
              ChannelShuffle("shuffle", 4), AdaptiveMaxPool2d("amp", (3, 2)), L.Conv2d("conv2", 6, 1),
              GlobalPool("gp", op, keepdim))
    symbolic = engine.analyze(L.Network("t", (3, H, W), layers))
    numeric = engine.analyze(L.Network("t", (3, h, w), layers))
    for quantity in ("params", "macs", "adds", "fvcore", "ptflops"):
        assert sympy.simplify(sympy.sympify(symbolic.total(quantity)).subs({H: h, W: w})) == \
            numeric.total(quantity), quantity
