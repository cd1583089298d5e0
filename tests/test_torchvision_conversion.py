"""Every torchvision classification CNN converts exactly through ``--module``.

The 68 torchvision models of ``tests/data/torchvision_nets`` (written as ordinary user modules in
torchvision's idioms) and the 7 idiom variants (``F.relu``, ``torch.add``, ``x.view`` ... for the same
networks) are converted with ``zoo.fx_import.convert_module`` and counted by ``cnncost.engine``;
every expected number comes from torch or the real tools, never from cnncost:

1. at its crop and at the smallest size torch accepts (meta device): params = sum of numel, buffers =
   BatchNorm running mean + var numel, MACs = FlopCounterMode / 2 (torchvision's published GFLOPS are
   that figure, tests/test_torchvision_nets.py), on SUBSET in the suite and every network with
   ``python -m tests.test_torchvision_conversion``; the smallest size itself is torch's (accepted at
   s, refused at s - 1) and cnncost's min_input_size, every network;
2. the fvcore and ptflops conventions = ``zoo.oracles.fvcore_total``/``ptflops_macs`` at two sizes,
   on a subset covering every family and idiom (the tools need CPU tensors: see SUBSET);
3. the closed forms in H, W (every network) at a third size = the numeric count there; ``formula``
   through the CLI for two networks, against torch and the tools at a fourth size;
4. ``count --module``/``count module:``, ``summary --module`` and ``verify --module`` print those numbers;
5. a negative control: a counting rule off by one makes the same comparisons fail.
"""

import json
import os
import re

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("fvcore")
pytest.importorskip("ptflops")

import sympy  # noqa: E402

from cnncost import engine  # noqa: E402
from cnncost import layers as L  # noqa: E402
from cnncost import kinds  # noqa: E402
from cnncost.cli import main  # noqa: E402
from cnncost.errors import CnncostError  # noqa: E402
from tests import torchvision_checks as tc  # noqa: E402
from zoo import oracles  # noqa: E402

NAMES = list(tc.NETWORKS)
VARIANTS = [name for name, net in tc.NETWORKS.items() if name != net.model]
TOOL_QUANTITIES = ("params", "buffers", "macs", "fvcore", "ptflops")


def test_every_torchvision_model_and_variant_is_here():
    """68 models (torchvision's classification CNNs) and every variant of the package are checked."""
    assert len(NAMES) - len(VARIANTS) == 68
    assert len(VARIANTS) == 7


# --- the subset the costlier comparisons run on ------------------------------------------------------

# The tools need real CPU tensors (fvcore traces with torch.jit, which refuses meta tensors; ptflops on
# meta gives resnet18 at 224×224 512,000 MACs more than on CPU), and running them costs 0.1-4 s per
# network: all 75 at these two sizes took 87 s on one thread of a busy 2-core machine (every one
# agreed; also at 64×64 and 96×80), the subset 21 s. The subset covers every family file and every
# idiom with the code paths the others share: per file, one model of each block type (EfficientNet's
# MBConv and FusedMBConv, MobileNetV3's SE/hardswish blocks, RegNetY's SE block, ResNet's BasicBlock,
# VGG with and without BatchNorm, both SqueezeNets' different stems and pools) — the family's other
# models repeat those blocks with other widths and depths, which change numbers, never the kinds
# counted, and the numbers are proved for every model by the full run and by the closed forms in part 3 —
# plus every variant (mobilenet_v2_torch_add, regnet_x_400mf_functional and resnet50_torch_add also
# stand for the InvertedResidual, RegNetX and Bottleneck blocks). CNNCOST_TOOLS_ALL=1 runs all 75 in pytest.
SUBSET = ["alexnet", "convnext_tiny", "densenet121", "efficientnet_b0", "efficientnet_v2_s", "googlenet",
          "inception_v3", "mnasnet0_5", "mobilenet_v3_small", "regnet_y_400mf", "resnet18",
          "shufflenet_v2_x0_5", "squeezenet1_0", "squeezenet1_1", "vgg11", "vgg11_bn"] + VARIANTS


# --- 1. params, buffers and MACs against torch, two sizes -------------------------------------------

# Two meta forwards under FlopCounterMode cost 0.1-2 s a network, 35 s for all 75: the suite checks SUBSET
# (every family file, every block type, every idiom: see above); `python -m tests.test_torchvision_conversion`
# and CNNCOST_TOOLS_ALL=1 check all 75. Every network is still
# converted, and its closed form checked, in part 3.
def counted_networks() -> list:
    """The networks parts 1 and 2 compare with torch and the tools (SUBSET, or all with CNNCOST_TOOLS_ALL=1)."""
    return NAMES if os.environ.get("CNNCOST_TOOLS_ALL") == "1" else SUBSET


@pytest.mark.parametrize("name", counted_networks())
def test_counts_equal_torch_at_the_crop_and_the_smallest_size(name):
    net = tc.NETWORKS[name]
    module, _ = tc.converted(name)
    for size in (net.crop, net.smallest):
        found = tc.mismatches(tc.cnncost_totals(name, size, size), tc.torch_references(module, size, size))
        assert found == [], f"{name} at {size}×{size}: (quantity, cnncost, torch) {found}"


def _torch_accepts(module, size: int) -> bool:
    """Whether the module's forward runs on a 2×3×size×size input in training mode (every head runs,
    BatchNorm sees two values per channel)."""
    try:
        with torch.no_grad():
            module.train()(torch.empty(2, 3, size, size, device="meta"))
        return True
    except (RuntimeError, ValueError):  # torch's "input size ... too small" / "kernel size can't be greater"
        return False
    finally:
        module.eval()


@pytest.mark.parametrize("name", [n for n in NAMES if tc.NETWORKS[n].smallest > 1])
def test_smallest_size_is_torchs_and_cnncosts(name):
    """SMALLEST is torch's (accepted at s, refused at s - 1); cnncost's min_input_size says the same and
    counting at s - 1 is a one-line error, not a count of an empty layer."""
    s = tc.NETWORKS[name].smallest
    module, converted = tc.converted(name)
    assert _torch_accepts(module, s) and not _torch_accepts(module, s - 1)
    assert engine.min_input_size(converted.network(s, s)) == (s, s)
    with pytest.raises(CnncostError, match=f"at least {s}×{s}"):
        engine.analyze(converted.network(s - 1, s - 1))


def test_networks_no_layer_limits_take_a_1x1_input():
    """smallest = 1 is claimed for the others: checked by the count at 1×1 above; cnncost agrees."""
    for name in NAMES:
        if tc.NETWORKS[name].smallest == 1:
            assert engine.min_input_size(tc.converted(name)[1].network(224, 224)) == (1, 1), name


# --- 2. fvcore and ptflops conventions against the real tools --------------------------------------

def test_the_tool_subset_covers_every_family_file():
    assert {tc.NETWORKS[name].file for name in SUBSET} == {net.file for net in tc.NETWORKS.values()}


@pytest.mark.parametrize("name", counted_networks())
def test_fvcore_and_ptflops_conventions_equal_the_tools(name, one_torch_thread):
    """At the smallest size (square: every pad and floor at its limit) and a larger non-square one."""
    s = tc.NETWORKS[name].smallest
    module = tc.cpu_module(name)
    for h, w in ((s, s), (s + 37, s + 21)):
        references = {**tc.tool_references(module, h, w), "params": oracles.param_count(module)}
        found = tc.mismatches(tc.cnncost_totals(name, h, w), references)
        assert found == [], f"{name} at {h}×{w}: (quantity, cnncost, tool) {found}"


# --- 3. closed forms in H, W -----------------------------------------------------------------------

def third_size(name: str) -> tuple:
    """A non-square size neither part 1 nor part 2 counts at."""
    crop = tc.NETWORKS[name].crop
    return crop + 35, crop + 19


@pytest.mark.parametrize("name", NAMES)
def test_closed_form_in_h_and_w_equals_the_count_at_a_third_size(name):
    forms = tc.closed_forms(name)
    h, w = third_size(name)
    numeric = tc.cnncost_totals(name, h, w)
    for quantity in TOOL_QUANTITIES:
        assert tc.at(forms[quantity], h, w) == numeric[quantity], (name, quantity)
    assert sympy.sympify(forms["macs"]).free_symbols == {tc.H, tc.W}  # a formula, not one size's number


# (network, a size of its own where formula's output is compared with torch and the tools)
FORMULA_CLI = [("squeezenet1_0", (45, 39)),  # ceil_mode max pools: floors of floors
               ("mobilenet_v3_small", (50, 34))]  # hardswish, squeeze-excitation, depthwise convs


@pytest.mark.parametrize("name,size", FORMULA_CLI)
@pytest.mark.parametrize("form", ["module:", "--module"])
def test_formula_command_gives_closed_forms_torch_and_the_tools_agree_with(name, size, form, capsys,
                                                                           one_torch_thread):
    spec = tc.NETWORKS[name].spec
    arch = ["module:" + spec] if form == "module:" else ["--module", spec]
    assert main(["formula", *arch, "--json", "--no-cache", "--quantity", ",".join(TOOL_QUANTITIES)]) == 0
    doc = json.loads(capsys.readouterr().out)
    forms = {q: sympy.sympify(doc["formulas"][q], locals={"H": tc.H, "W": tc.W}) for q in TOOL_QUANTITIES}
    h, w = size
    module = tc.cpu_module(name)
    references = {**tc.torch_references(module, h, w), **tc.tool_references(module, h, w)}
    assert {q: tc.at(forms[q], h, w) for q in TOOL_QUANTITIES} == references
    # the stated validity condition is torch's smallest size (none beyond H, W >= 1 where that is 1)
    s = tc.NETWORKS[name].smallest
    assert doc["conditions"] == ([f"H >= {s}", f"W >= {s}"] if s > 1 else [])


# --- 4. count, summary and verify through the CLI --------------------------------------------------

# (network, h, w, how the module is named): small networks, every command form
CLI = [("squeezenet1_1", 64, 64, "--module"), ("resnet18_functional", 48, 40, "module:"),
       ("mobilenet_v3_small", 40, 56, "--module")]


def _arch(name: str, form: str) -> list:
    spec = tc.NETWORKS[name].spec
    return ["module:" + spec] if form == "module:" else ["--module", spec]


def _sizes(h: int, w: int) -> list:
    return ["--h", str(h), "--w", str(w)]


def _printed(text: str, label: str) -> int:
    """The number printed after ``label`` at the start of a line (thousands separated by commas)."""
    match = re.search(rf"^{re.escape(label)}\s+([\d,]+)\s", text, flags=re.MULTILINE)
    assert match, f"no {label!r} line in:\n{text}"
    return int(match.group(1).replace(",", ""))


@pytest.mark.parametrize("name,h,w,form", CLI)
def test_count_prints_torchs_numbers(name, h, w, form, capsys):
    module, _ = tc.converted(name)
    want = tc.torch_references(module, h, w)
    assert main(["count", *_arch(name, form), *_sizes(h, w), "--json"]) == 0
    totals = json.loads(capsys.readouterr().out)["totals"]
    assert {q: totals[q] for q in want} == want
    assert totals == tc.cnncost_totals(name, h, w)
    assert main(["count", *_arch(name, form), *_sizes(h, w)]) == 0
    text = capsys.readouterr().out
    assert f"input 3×{h}×{w}" in text.splitlines()[0]
    for quantity in ("params", "buffers", "macs", "fvcore", "ptflops"):
        assert _printed(text, quantity) == totals[quantity], quantity


@pytest.mark.parametrize("name,h,w,form", CLI)
def test_summary_prints_torchs_numbers(name, h, w, form, capsys):
    module, _ = tc.converted(name)
    want = tc.torch_references(module, h, w)
    assert main(["summary", *_arch(name, form), *_sizes(h, w)]) == 0
    text = capsys.readouterr().out
    assert _printed(text, "Trainable params:") == want["params"]
    assert _printed(text, "Non-trainable params:") == want["buffers"]
    assert _printed(text, "Total params:") == want["params"] + want["buffers"]
    assert _printed(text, "MACs:") == want["macs"]
    assert _printed(text, "FLOPs:") == 2 * want["macs"]


@pytest.mark.parametrize("name,h,w,form", CLI)
def test_verify_says_all_agree_and_the_references_are_the_users_modules(name, h, w, form, capsys,
                                                                        one_torch_thread):
    """verify checks the module it rebuilds from the description; here its reference totals are also
    compared with the tools run on the user's own module."""
    assert main(["verify", *_arch(name, form), *_sizes(h, w), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] and all(row["cells"][c]["ok"] for row in doc["layers"] for c in row["cells"])
    ours = tc.cnncost_totals(name, h, w)
    user = tc.cpu_module(name)
    references = {"params": oracles.param_count(user), "buffers": oracles.batchnorm_buffers(user),
                  "MACs": tc.flop_counter_macs(user, h, w), **tc.tool_references(user, h, w)}
    for label, cell in doc["totals"].items():
        assert cell["ok"] and cell["reference"] == references[label], label
        assert cell["engine"] == ours["macs" if label == "MACs" else label], label
    assert main(["verify", *_arch(name, form), *_sizes(h, w)]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "all agree"


# --- 5. negative control: the comparisons above fail when a rule is wrong ---------------------------

def _off_by_one(kind, rule: str):
    """The kind with one rule counting one more per layer."""
    if rule == "macs":
        counts = kind.counts
        return kind._replace(counts=lambda node, x, y: counts(node, x, y)._replace(macs=counts(node, x, y).macs + 1))
    original = getattr(kind, rule)
    return kind._replace(**{rule: lambda node, x, y: original(node, x, y) + 1})


@pytest.mark.parametrize("rule", ["macs", "fvcore", "ptflops"])
def test_a_rule_off_by_one_is_caught(rule, monkeypatch, capsys, one_torch_thread):
    name, (h, w) = "resnet18_functional", (48, 40)
    module, converted = tc.converted(name)
    cpu = tc.cpu_module(name)
    references = {**tc.torch_references(module, h, w), **tc.tool_references(cpu, h, w)}
    assert tc.mismatches(tc.cnncost_totals(name, h, w), references) == []
    convs = sum(isinstance(leaf, L.Conv2d) for leaf in L.leaves(converted.layers))
    monkeypatch.setitem(kinds.KINDS, L.Conv2d, _off_by_one(kinds.KINDS[L.Conv2d], rule))
    found = tc.mismatches(tc.cnncost_totals(name, h, w), references)
    assert [(q, ours - want) for q, ours, want in found] == [(rule, convs)]
    if rule == "macs":  # verify's own comparison catches it too
        assert main(["verify", "--module", tc.NETWORKS[name].spec, *_sizes(h, w)]) == 1
        assert capsys.readouterr().out.strip().splitlines()[-1] == "MISMATCH"


if __name__ == "__main__":  # parts 1 and 2 on all 75, outside the suite's time budget
    torch.set_num_threads(1)
    for every in NAMES:
        test_counts_equal_torch_at_the_crop_and_the_smallest_size(every)
        test_fvcore_and_ptflops_conventions_equal_the_tools(every, None)
        print("torch and the tools agree:", every, flush=True)
