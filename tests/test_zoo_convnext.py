"""The native ConvNeXt family (cnncost/archs/convnext.py) against independent references.

References: torchvision's state_dict keys and shapes and its published parameter counts and GFLOPS
(tests/data/torchvision_cnn_manifest.json), and the torchvision-style module of the same networks
(tests/data/torchvision_nets/convnext.py), counted by torch itself (numel, FlopCounterMode), fvcore
and ptflops. Big networks are built on the meta device: only shapes are needed.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

import cnncost
import zoo
from cnncost import archs
from cnncost.conventions import totals
from tests.data.torchvision_nets import convnext as reference
from zoo import oracles

MANIFEST = Path(__file__).parent / "data" / "torchvision_cnn_manifest.json"
NAMES = ("convnext_tiny", "convnext_small", "convnext_base", "convnext_large")
# torchvision's block_setting of each model: (first width, depths); widths double per stage.
SETTINGS = {"convnext_tiny": (96, (3, 3, 9, 3)), "convnext_small": (96, (3, 3, 27, 3)),
            "convnext_base": (128, (3, 3, 27, 3)), "convnext_large": (192, (3, 3, 27, 3))}


@lru_cache(maxsize=None)
def manifest() -> dict:
    """torchvision's figures per model name."""
    return json.loads(MANIFEST.read_text())


def oracle(width: int, depths: tuple, classes: int = 1000) -> torch.nn.Module:
    """The torchvision-style ConvNeXt of these stage widths and depths (3 input channels), in eval mode."""
    stages = [reference.CNBlockConfig(width * 2**i, width * 2**(i + 1) if i < 3 else None, d)
              for i, d in enumerate(depths)]
    return reference.ConvNeXt(stages, num_classes=classes).eval()


def on_meta(make):
    """``make()`` on the meta device (shapes only, no memory), in eval mode."""
    with torch.device("meta"):
        return make().eval()


def half_flops(module: torch.nn.Module, shape: tuple) -> int:
    """FlopCounterMode's total of one forward of a batch of one, halved: multiply-accumulates."""
    with torch.device("meta"), FlopCounterMode(display=False) as counter:
        module(torch.zeros(1, *shape))
    return counter.get_total_flops() // 2


def numel(module: torch.nn.Module) -> int:
    """Trainable parameters as torch counts them."""
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_is_torchvisions(name):
    module = on_meta(lambda: zoo.build(name))
    got = {k: list(v.shape) for k, v in module.state_dict().items()}
    assert got == manifest()[name]["state_dict"]  # the bare layer_scale parameters included




@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("size", [(32, 45), (71, 38)])
def test_params_and_macs_equal_torch_at_small_non_square_sizes(name, size):
    h, w = size
    table = cnncost.count(name, h=h, w=w)
    tv = on_meta(lambda: oracle(*SETTINGS[name]))
    native = on_meta(lambda: zoo.build(name, h=h, w=w))
    assert table.total("params") == numel(tv) == numel(native)
    assert table.total("macs") == half_flops(tv, (3, h, w)) == half_flops(native, (3, h, w))


def test_tool_conventions_equal_fvcore_and_ptflops_on_the_torchvision_module():
    """fvcore's and ptflops' totals of torchvision's module (a small one: each block kind once)."""
    cfg = {"width": 16, "depth1": 1, "depth2": 2, "depth3": 1, "depth4": 1, "classes": 10, "h": 40, "w": 33}
    module = oracle(16, (1, 2, 1, 1), classes=10)
    found = totals(cnncost.count("convnext_tiny", **cfg))
    assert found["fvcore"] == oracles.fvcore_total(module, (3, 40, 33))
    assert found["ptflops"] == oracles.ptflops_macs(module, (3, 40, 33))


@st.composite
def designs(draw) -> dict:
    """Random ConvNeXt design variables (small), classes and a non-square input size."""
    cfg = {"width": draw(st.integers(1, 24)), "classes": draw(st.integers(1, 20)),
           "h": draw(st.integers(32, 90)), "w": draw(st.integers(32, 90))}
    cfg.update({f"depth{i}": draw(st.integers(1, 3)) for i in range(1, 5)})
    return cfg


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(designs())
def test_random_designs_equal_the_torchvision_module(cfg):
    depths = tuple(cfg[f"depth{i}"] for i in range(1, 5))
    table = cnncost.count("convnext_base", **cfg)
    tv = on_meta(lambda: oracle(cfg["width"], depths, cfg["classes"]))
    assert table.total("params") == numel(tv)
    assert table.total("macs") == half_flops(tv, (3, cfg["h"], cfg["w"]))
    assert table.network.layers[-1].out_features == cfg["classes"]


def test_in_channels_changes_only_the_stem():
    """4·4·(in − 3)·C more weights, and as many more MACs at each of the stem's output positions."""
    base, four = cnncost.count("convnext_tiny", h=64, w=40), cnncost.count("convnext_tiny", h=64, w=40, in_channels=4)
    assert four.total("params") - base.total("params") == 16 * 96
    assert four.total("macs") - base.total("macs") == 16 * 96 * (64 // 4) * (40 // 4)
    module = on_meta(lambda: zoo.build("convnext_tiny", h=64, w=40, in_channels=4))
    assert numel(module) == four.total("params") and half_flops(module, (4, 64, 40)) == four.total("macs")


def test_network_names_and_classifier_top():
    for name in NAMES:
        net = archs.get(name).build(**archs.resolve(archs.get(name), {}))
        assert net.name == name and net.top == "avgpool"
        assert [n.name for n in net.layers[-4:]] == ["avgpool", "classifier.0", "classifier.1", "classifier.2"]


def test_torchvision_checkpoint_loads_and_computes_the_same(tmp_path):
    """A state_dict of the torchvision-style module, saved with torch.save, loads into the zoo network
    (its layer scales renamed) and gives the same logits. A small design keeps it fast: the keys of
    the full models are checked against torchvision's above."""
    design = {"width": 24, "depth1": 2, "depth2": 1, "depth3": 3, "depth4": 1, "classes": 7}
    torch.manual_seed(0)
    tv = oracle(24, (2, 1, 3, 1), classes=7)
    with torch.no_grad():  # layer scales of 1e-6 and unit norms would hide most layers: make each matter
        for p in tv.parameters():
            p.uniform_(-0.5, 1.0)
    path = tmp_path / "convnext.pth"
    torch.save(tv.state_dict(), path)
    native = zoo.load_weights(zoo.build("convnext_tiny", h=32, w=35, **design), path).eval()
    x = torch.randn(2, 3, 32, 35)
    with torch.no_grad():
        expected = tv(x)
        assert expected.std() > 0.1
        assert torch.allclose(native(x), expected, rtol=1e-4, atol=1e-4)
    # A checkpoint of the zoo network itself loads back unchanged.
    own = tmp_path / "own.pth"
    torch.save(native.state_dict(), own)
    again = zoo.load_weights(zoo.build("convnext_tiny", h=32, w=35, **design), own).eval()
    with torch.no_grad():
        assert torch.equal(again(x), native(x))


def test_sizes_are_named_h1_to_h4():
    """One name per size change: the stem (H/4) and the three downsampling convs."""
    from cnncost import engine, symbolic

    spec = archs.get("convnext_tiny")
    given = {p.name: p.default for p in spec.params if p.name not in ("h", "w")}
    net = spec.build(h=symbolic.symbol("h"), w=symbolic.symbol("w"), **given)
    namer = symbolic.SizeNamer(net.size_names)
    engine.analyze(net, namer)
    assert sorted(str(s) for s in namer.definitions) == ["H1", "H2", "H3", "H4", "W1", "W2", "W3", "W4"]
