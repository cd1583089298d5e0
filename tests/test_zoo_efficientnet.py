"""The native EfficientNet B0–B7 and V2 S/M/L against torchvision's own construction.

The oracle is ``tests/data/torchvision_nets/efficientnet.py`` (torchvision's EfficientNet written
as a user module, same state_dict as torchvision), built on the meta device: its parameter numel
and ``FlopCounterMode`` total (halved: torchvision's GFLOPS are multiply-accumulates) are the
references, with the manifest's state_dict shapes and published figures
(``tests/data/torchvision_cnn_manifest.json``). Random width and depth multipliers go through the
oracle's own MBConvConfig scaling, so the rounding is checked against torchvision's, not ours.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import cnncost
import zoo
from cnncost import archs
from cnncost import layers as L
from cnncost.archs.registry import ParameterError
from tests.data.torchvision_nets import efficientnet as tv
from zoo import fx_import

from .zoo_helpers import fast_build

MANIFEST = Path(__file__).parent / "data" / "torchvision_cnn_manifest.json"
NAMES = tv.MODELS
B_NAMES = tuple(n for n in NAMES if "_b" in n)
SMALL = ((33, 47), (58, 41))  # two small non-square sizes (H ≠ W catches mix-ups)


@lru_cache(maxsize=None)
def manifest() -> dict:
    """torchvision's state_dict shapes, published parameters and GFLOPS, crop per model."""
    return json.loads(MANIFEST.read_text())


@lru_cache(maxsize=None)
def oracle(name: str) -> nn.Module:
    """torchvision's network ``name`` on the meta device, in eval mode (built once)."""
    with torch.device("meta"):
        return getattr(tv, name)().eval()


def native(name: str, **given) -> nn.Module:
    """The zoo network on the meta device, in eval mode."""
    with torch.device("meta"):
        return zoo.build(name, **given).eval()


def torch_counts(module: nn.Module, h: int, w: int) -> tuple:
    """(parameters, MACs) of ``module`` by torch: numel, and FlopCounterMode of one 1×3×h×w eval forward / 2."""
    with torch.device("meta"), FlopCounterMode(display=False) as counter:
        module(torch.empty(1, 3, h, w))
    return sum(p.numel() for p in module.parameters()), counter.get_total_flops() // 2


def shapes(module: nn.Module) -> dict:
    """state_dict key -> shape as a list (the manifest's form)."""
    return {k: list(v.shape) for k, v in module.state_dict().items()}


def engine_counts(name: str, **given) -> tuple:
    """(parameters, MACs) as the engine counts them."""
    table = cnncost.count(name, **given)
    return table.total("params"), table.total("macs")


def batchnorm_eps(module: nn.Module) -> dict:
    """Each BatchNorm's eps by module path."""
    return {path: m.eps for path, m in module.named_modules() if isinstance(m, nn.BatchNorm2d)}


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_and_batchnorm_eps_are_torchvisions(name):
    """Keys and shapes as the manifest; eps as torchvision's module (1e-3 in B5–B7 and V2: their
    weights were trained with it, and the state_dict cannot tell)."""
    module = native(name)
    assert shapes(module) == manifest()[name]["state_dict"]
    assert batchnorm_eps(module) == batchnorm_eps(oracle(name))


@pytest.mark.parametrize("name", NAMES)
def test_counts_equal_torch_at_small_sizes_and_published_at_the_crop(name):
    reference = manifest()[name]
    for h, w in SMALL:
        assert engine_counts(name, h=h, w=w) == torch_counts(oracle(name), h, w), (h, w)
    crop = reference["crop_size"]
    assert archs.get(name).param("h").default == crop == archs.get(name).param("w").default
    params, macs = engine_counts(name)  # at the default size: the crop
    assert params == reference["num_params_published"]
    assert round(macs / 1e9, 3) == reference["gflops_published"]


def _flattened(nodes: tuple) -> list:
    """The layer tree with Sequentials dissolved and composite names dropped (the importer names
    a merge after its op, a description after its module path); leaves and merges otherwise whole."""
    found: list = []
    for node in nodes:
        if type(node) is L.Sequential:
            found += _flattened(node.children)
        elif type(node) is L.Residual:
            found.append(("Residual", node.op, node.call, _flattened(node.body), _flattened(node.shortcut),
                          _flattened(node.after)))
        else:
            found.append(node)
    return found


@pytest.mark.parametrize("name", ["efficientnet_b0", "efficientnet_v2_s"])
def test_description_is_what_the_importer_makes_of_torchvision(name):
    """Leaf for leaf (names, kinds, every field) and merge for merge: the squeeze-excitation gates
    (op mul) and residual adds as ``--module`` converts torchvision's modules."""
    converted = fx_import.convert_module(oracle(name), name, (3, 64, 64))
    description = archs.get(name).build(**archs.resolve(archs.get(name), {}))
    assert _flattened(description.layers) == _flattened(converted.layers)


# Published multiplier pairs mixed across models (1.1 · 40 is 44.000000000000007 in floats), and any floats.
MULTIPLIERS = st.sampled_from([1.0, 1.1, 1.2, 1.4, 1.6, 1.8, 2.0]) | st.floats(0.1, 2.0)
DEPTHS = st.sampled_from([0.5, 1.0, 1.1, 1.2, 1.4]) | st.floats(0.1, 1.5)


@settings(max_examples=6, deadline=None)
@given(name=st.sampled_from(B_NAMES), width=MULTIPLIERS, depth=DEPTHS, classes=st.integers(1, 20),
       h=st.integers(16, 70), w=st.integers(16, 70))
def test_random_multipliers_match_torchvisions_scaling(name, width, depth, classes, h, w):
    setting, last_channel = tv._efficientnet_conf(name, width_mult=width, depth_mult=depth)
    with torch.device("meta"):
        reference = tv.EfficientNet(setting, 0.2, num_classes=classes, last_channel=last_channel).eval()
    given_ = dict(width_mult=width, depth_mult=depth, classes=classes, h=h, w=w)
    assert shapes(native(name, **given_)) == shapes(reference)
    assert engine_counts(name, **given_) == torch_counts(reference, h, w)


def test_multipliers_outside_their_span_are_refused():
    spec = archs.get("efficientnet_b0")
    low, high = spec.param("width_mult").span
    assert archs.resolve(spec, {"width_mult": low})["width_mult"] == low
    for bad in ({"width_mult": high}, {"width_mult": 0.0}, {"depth_mult": -1.0}, {"depth_mult": float("nan")}):
        with pytest.raises(ParameterError):
            archs.resolve(spec, bad)


@pytest.mark.parametrize("name", NAMES)
def test_top_is_the_classifier_run(name):
    network = archs.get(name).build(**archs.resolve(archs.get(name), {}))
    names = [node.name for node in network.layers]
    assert names[names.index(network.top):] == ["avgpool", "flatten", "classifier.0", "classifier.1"]


@pytest.mark.parametrize("name", ["efficientnet_b0", "efficientnet_v2_s"])
def test_torchvision_layout_checkpoint_loads_and_computes_the_same(name, tmp_path):
    """A state_dict of torchvision's module (random weights and running statistics, so BatchNorm's
    eps and every gate matter) loads strictly and gives torchvision's output."""
    torch.manual_seed(0)
    reference = getattr(tv, name)().eval()
    for module in reference.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    path = tmp_path / "weights.pth"
    torch.save(reference.state_dict(), path)
    model = zoo.load_weights(fast_build(name).eval(), path)
    x = torch.randn(1, 3, 40, 36)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x))
