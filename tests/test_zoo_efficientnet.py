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
from functools import lru_cache, partial
from pathlib import Path
from typing import NamedTuple

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


class Reference(NamedTuple):
    """What torch says of torchvision's module: numel, state_dict shapes, BatchNorm eps, and the
    module itself with each BatchNorm swapped for an identity, for counting MACs.

    FlopCounterMode counts nothing for a BatchNorm, and on the meta device torch runs BatchNorm
    through a Python decomposition that takes half of each forward's time; the swap (made after
    the numel, shapes and eps are read) changes no count.
    """

    params: int
    shapes: dict
    eps: dict  # module path -> eps of each BatchNorm
    counting: nn.Module


def reference(factory) -> Reference:
    """The Reference of ``factory()``, built on the meta device."""
    with torch.device("meta"):
        module = factory().eval()
    eps = batchnorm_eps(module)
    found = Reference(sum(p.numel() for p in module.parameters()), shapes(module), eps, module)
    for path in eps:
        parent, _, child = path.rpartition(".")
        setattr(module.get_submodule(parent), child, nn.Identity())
    return found


@lru_cache(maxsize=None)
def oracle(name: str) -> Reference:
    """torchvision's network ``name`` (built once)."""
    return reference(getattr(tv, name))


def native(name: str, **given) -> nn.Module:
    """The zoo network on the meta device, in eval mode."""
    with torch.device("meta"):
        return zoo.build(name, **given).eval()


def torch_counts(found: Reference, h: int, w: int) -> tuple:
    """(parameters, MACs) by torch: numel, and FlopCounterMode of one 1×3×h×w eval forward / 2."""
    with torch.device("meta"), FlopCounterMode(display=False) as counter:
        found.counting(torch.empty(1, 3, h, w))
    return found.params, counter.get_total_flops() // 2


def batchnorm_eps(module: nn.Module) -> dict:
    """Each BatchNorm's eps by module path."""
    return {path: m.eps for path, m in module.named_modules() if isinstance(m, nn.BatchNorm2d)}


def shapes(module: nn.Module) -> dict:
    """state_dict key -> shape as a list (the manifest's form)."""
    return {k: list(v.shape) for k, v in module.state_dict().items()}


def engine_counts(name: str, **given) -> tuple:
    """(parameters, MACs) as the engine counts them."""
    table = cnncost.count(name, **given)
    return table.total("params"), table.total("macs")


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_and_batchnorm_eps_are_torchvisions(name):
    """Keys and shapes as the manifest; eps as torchvision's module (1e-3 in B5–B7 and V2: their
    weights were trained with it, and the state_dict cannot tell)."""
    module = native(name)
    assert shapes(module) == manifest()[name]["state_dict"]
    assert batchnorm_eps(module) == oracle(name).eps


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
    with torch.device("meta"):
        module = getattr(tv, name)().eval()
    converted = fx_import.convert_module(module, name, (3, 64, 64))
    description = archs.get(name).build(**archs.resolve(archs.get(name), {}))
    assert _flattened(description.layers) == _flattened(converted.layers)


# The published multipliers, mixed across models, and any floats in range.
MULTIPLIERS = st.sampled_from([1.0, 1.1, 1.2, 1.4, 1.6, 1.8, 2.0]) | st.floats(0.1, 2.0)
DEPTHS = st.sampled_from([0.5, 1.0, 1.1, 1.2, 1.4]) | st.floats(0.1, 1.5)


@settings(max_examples=6, deadline=None)
@given(name=st.sampled_from(B_NAMES), width=MULTIPLIERS, depth=DEPTHS, classes=st.integers(1, 20),
       h=st.integers(16, 70), w=st.integers(16, 70))
def test_random_multipliers_match_torchvisions_scaling(name, width, depth, classes, h, w):
    setting, last_channel = tv._efficientnet_conf(name, width_mult=width, depth_mult=depth)
    found = reference(partial(tv.EfficientNet, setting, 0.2, num_classes=classes, last_channel=last_channel))
    given_ = dict(width_mult=width, depth_mult=depth, classes=classes, h=h, w=w)
    assert shapes(native(name, **given_)) == found.shapes
    assert engine_counts(name, **given_) == torch_counts(found, h, w)


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


def _torchvision_checkpoint(name: str, folder: Path) -> tuple:
    """torchvision's module ``name`` with seeded random weights and running statistics (so
    BatchNorm's eps and every gate matter), and the path of its saved state_dict."""
    torch.manual_seed(0)
    with torch.device("meta"):
        module = getattr(tv, name)().eval()
    module = module.to_empty(device="cpu")
    with torch.no_grad():
        for path, tensor in module.state_dict().items():
            if path.endswith("running_var"):
                tensor.uniform_(0.5, 1.5)
            elif tensor.is_floating_point():
                tensor.normal_(0.0, 0.05)
    path = folder / "weights.pth"
    torch.save(module.state_dict(), path)
    return module, path


def test_torchvision_checkpoint_loads_and_computes_torchvisions_output(tmp_path):
    reference, path = _torchvision_checkpoint("efficientnet_b0", tmp_path)
    model = zoo.load_weights(fast_build("efficientnet_b0").eval(), path)
    x = torch.randn(1, 3, 40, 36)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x))


def test_torchvision_v2_checkpoint_loads(tmp_path):
    """V2's fused blocks: the checkpoint loads strictly, every tensor in its place (a forward at
    21 M parameters would cost this file's time budget; B0's covers the computation)."""
    reference, path = _torchvision_checkpoint("efficientnet_v2_s", tmp_path)
    model = zoo.load_weights(fast_build("efficientnet_v2_s"), path)
    loaded = model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in reference.state_dict().items())
