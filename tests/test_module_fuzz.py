"""Random user modules through ``cnncost count --module``: the right numbers, or one line, never a traceback.

Hypothesis writes a small network's source from a grammar of the constructs real CNNs use —
convolutions, norms, activations in every call form, pools, reductions, residual adds, gates,
scalars, chunks, concatenations, permutes around channels-last layers, channel shuffles, upsampling,
flattening and a classifier — and some that have no rule. Each file is counted through the CLI,
in process. Every run must keep the CLI's invariants (``tests.test_cli_properties.well_behaved``);
a run that answers must give, for the module it imported, parameters = torch numel,
MACs = FlopCounterMode / 2, and the fvcore and ptflops totals those tools report.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import warnings

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zoo import oracles

from .kind_oracles import torch_macs
from .test_cli_properties import cli

warnings.filterwarnings("ignore", module="fvcore")

# Each step: (source lines using `x` with `c` channels, the channels after it), given c. Steps that only
# apply to some widths return None. Every module they declare is named by the step's index.
UNSUPPORTED = ("x = torch.roll(x, 1, 2)", "x = x.cumsum(1)", "x = x[:, :, 1:]")


def _steps(i: int, c: int, draw) -> tuple | None:
    kind = draw(st.sampled_from([
        "conv", "bn", "relu_module", "relu_function", "relu_method", "gelu", "hardswish", "maxpool",
        "residual", "gate", "scalar", "chunk", "permute_ln", "shuffle", "upsample", "leaky", "groupnorm",
        "torch_add", "unsupported", "deconv", "reflect", "pixelshuffle", "bilinear", "prelu", "layer_scale",
        "dropout", "avgpool", "softmax_channels", "bound_relu"]))
    m = f"self.m{i}"
    if kind == "conv":
        out, k = draw(st.integers(1, 6)), draw(st.sampled_from([1, 3]))
        return ([f"{m} = nn.Conv2d({c}, {out}, {k}, padding={k // 2})"], [f"x = {m}(x)"], out)
    if kind == "bn":
        return ([f"{m} = nn.BatchNorm2d({c})"], [f"x = {m}(x)"], c)
    if kind == "relu_module":
        return ([f"{m} = nn.ReLU()"], [f"x = {m}(x)"], c)
    if kind == "relu_function":
        return ([], ["x = F.relu(x)"], c)
    if kind == "relu_method":
        return ([], ["x = x.relu()"], c)
    if kind == "gelu":
        return ([f"{m} = nn.GELU()"], [f"x = {m}(x)"], c)
    if kind == "hardswish":
        return ([f"{m} = nn.Hardswish()"], [f"x = {m}(x)"], c)
    if kind == "leaky":
        return ([], ["x = F.leaky_relu(x, 0.1)"], c)
    if kind == "maxpool":
        return ([f"{m} = nn.MaxPool2d(2, ceil_mode=True)"], [f"x = {m}(x)"], c)
    if kind == "residual":
        return ([f"{m} = nn.Conv2d({c}, {c}, 3, padding=1)"], [f"x = x + {m}(x)"], c)
    if kind == "torch_add":
        return ([f"{m} = nn.Conv2d({c}, {c}, 1)"], [f"x = torch.add({m}(x), x)"], c)
    if kind == "gate":
        return ([f"{m} = nn.Conv2d({c}, {c}, 1)"], [f"x = x * torch.sigmoid({m}(x.mean((2, 3), keepdim=True)))"], c)
    if kind == "scalar":
        return ([], ["x = x * 0.5 + 0"], c)
    if kind == "chunk" and c % 2 == 0:
        return ([f"{m} = nn.Conv2d({c // 2}, {c // 2}, 1)"],
                ["a, b = x.chunk(2, dim=1)", f"x = torch.cat((a, {m}(b)), dim=1)"], c)
    if kind == "permute_ln":
        return ([f"{m} = nn.LayerNorm({c})", f"self.fc{i} = nn.Linear({c}, {c})"],
                [f"x = self.fc{i}({m}(x.permute(0, 2, 3, 1))).permute(0, 3, 1, 2)"], c)
    if kind == "shuffle" and c % 2 == 0:
        return ([], ["n, ch, h, w = x.size()", "x = x.view(n, 2, ch // 2, h, w)",
                     "x = torch.transpose(x, 1, 2).contiguous().view(n, -1, h, w)"], c)
    if kind == "upsample":
        return ([], ["x = F.interpolate(x, scale_factor=2, mode='nearest')"], c)
    if kind == "groupnorm" and c % 2 == 0:
        return ([f"{m} = nn.GroupNorm(2, {c})"], [f"x = {m}(x)"], c)
    if kind == "unsupported":
        return ([], [draw(st.sampled_from(UNSUPPORTED))], c)
    if kind == "deconv":
        out = draw(st.integers(1, 4))
        return ([f"{m} = nn.ConvTranspose2d({c}, {out}, 2, stride=2)"], [f"x = {m}(x)"], out)
    if kind == "reflect":
        return ([f"{m} = nn.ReflectionPad2d(1)"], [f"x = {m}(x)"], c)
    if kind == "pixelshuffle":
        return ([f"{m} = nn.Conv2d({c}, {4 * c}, 1)"], [f"x = F.pixel_shuffle({m}(x), 2)"], c)
    if kind == "bilinear":
        return ([f"{m} = nn.Upsample(scale_factor=2, mode='bilinear')"], [f"x = {m}(x)"], c)
    if kind == "prelu":
        return ([f"{m} = nn.PReLU({c})"], [f"x = {m}(x)"], c)
    if kind == "layer_scale":
        return ([f"self.p{i} = nn.Parameter(torch.ones({c}, 1, 1))"], [f"x = self.p{i} * x"], c)
    if kind == "dropout":
        return ([f"{m} = nn.Dropout2d(0.1)"], [f"x = {m}(x)"], c)
    if kind == "avgpool":
        return ([], ["x = F.avg_pool2d(x, 2, ceil_mode=True)"], c)
    if kind == "softmax_channels":
        return ([], ["x = torch.softmax(x, dim=1)"], c)
    if kind == "bound_relu":
        return ([], ["x = relu(x)"], c)
    return None


@st.composite
def module_sources(draw) -> tuple:
    """(source of a module file defining Net, whether it uses a construct without a rule)."""
    c = draw(st.integers(1, 4))
    init, forward, bad = [f"self.stem = nn.Conv2d(3, {c}, 3, padding=1)"], ["x = self.stem(x)"], False
    for i in range(draw(st.integers(1, 6))):
        step = _steps(i, c, draw)
        if step is None:
            continue
        lines, body, c = step
        init += lines
        forward += body
        bad = bad or any(u in body for u in UNSUPPORTED)
    head = draw(st.sampled_from(["flatten", "view", "mean", "softmax"]))
    if head == "mean":
        init.append(f"self.fc = nn.Linear({c}, 3)")
        forward += ["x = self.fc(x.mean((2, 3)))"]
    else:
        init += ["self.pool = nn.AdaptiveAvgPool2d(1)", f"self.fc = nn.Linear({c}, 3)"]
        forward += ["x = self.pool(x)",
                    "x = x.view(x.size(0), -1)" if head == "view" else "x = torch.flatten(x, 1)",
                    "x = self.fc(x)"]
        if head == "softmax":
            forward.append("x = F.softmax(x, dim=1)")
    source = "\n".join([
        "import torch", "import torch.nn.functional as F", "from torch import nn",
        "from torch.nn.functional import relu", "", "",
        "class Net(nn.Module):", "    input_size = (3, 12, 10)", "", "    def __init__(self):",
        "        super().__init__()", *[f"        {line}" for line in init], "",
        "    def forward(self, x):", *[f"        {line}" for line in forward], "        return x", ""])
    return source, bad


def _load(path) -> object:
    spec = importlib.util.spec_from_file_location(f"fuzz_{abs(hash(str(path)))}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.Net()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=module_sources())
def test_random_modules_count_exactly_or_are_refused_in_one_line(case, tmp_path_factory):
    source, bad = case
    path = tmp_path_factory.mktemp("fuzz") / "net.py"
    path.write_text(source)
    outcome = cli("count", "--module", f"{path}:Net", "--json", timeout=60)
    if bad:
        assert outcome.code == 2 and "no counting rule" in outcome.err, source
        return
    net = _load(path)
    shape = (3, 12, 10)
    try:
        with torch.no_grad():
            net.eval()(torch.zeros(1, *shape))
    except RuntimeError:  # torch itself cannot run it at this size (a reflection pad wider than the input)
        assert outcome.code == 2, source + outcome.out
        return
    assert outcome.code == 0, source + outcome.err
    totals = json.loads(outcome.out)["totals"]
    assert totals["params"] == oracles.param_count(net), source
    assert totals["macs"] == torch_macs(net, shape), source
    assert totals["fvcore"] == oracles.fvcore_total(net, shape), source
    assert totals["ptflops"] == oracles.ptflops_macs(net, shape), source
