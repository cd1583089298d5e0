"""The native DenseNets (cnncost/archs/densenet.py) against independent references.

The references: the torchvision-style DenseNet in tests/data/torchvision_nets/densenet.py
(torch's numel and FlopCounterMode of one eval forward, halved: torchvision's GFLOPS count
multiply-accumulates), and torchvision's manifest (state_dict keys and shapes, published
parameters and GFLOPS). Checkpoints written from the reference module load into the zoo's
module, under today's key names and under the legacy ones of torchvision's published files.
"""

from __future__ import annotations

import re

import pytest

torch = pytest.importorskip("torch")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import zoo  # noqa: E402
from cnncost import archs  # noqa: E402
from tests.data.torchvision_nets import densenet as reference  # noqa: E402
from tests.zoo_helpers import engine_counts as engine, manifest, measured, on_meta  # noqa: E402

NAMES = reference.MODELS  # densenet121, 161, 169, 201
SIZES = ((45, 62), (77, 33))  # small, non-square, odd: every floor of the strided layers is exercised










@pytest.mark.parametrize("name", NAMES)
def test_state_dict_is_torchvision_key_for_key(name):
    with torch.device("meta"):
        module = zoo.build(name)
    got = [[key, list(value.shape)] for key, value in module.state_dict().items()]
    assert got == [[key, shape] for key, shape in manifest()[name]["state_dict"].items()]


@pytest.mark.parametrize("name", NAMES)
def test_counts_equal_torch_at_small_sizes(name):
    module = on_meta(getattr(reference, name))
    for h, w in SIZES:
        assert engine(name, h=h, w=w) == measured(module, h, w), (h, w)




@st.composite
def designs(draw) -> dict:
    """Random design variables: growth rate, stem channels, bottleneck factor, short blocks, classes."""
    return dict(growth_rate=draw(st.integers(1, 40)), init_features=draw(st.integers(1, 70)),
                bn_size=draw(st.integers(1, 5)), blocks=tuple(draw(st.integers(1, 4)) for _ in range(4)),
                classes=draw(st.integers(1, 20)), h=draw(st.integers(32, 70)), w=draw(st.integers(32, 70)))


@settings(max_examples=4, deadline=None)
@given(designs())
def test_design_variables_equal_torch(d):
    """Any growth rate (odd ones make the transitions' ⌊C/2⌋ bite), stem, bn_size and block lengths."""
    blocks = dict(zip(("block1", "block2", "block3", "block4"), d["blocks"]))
    config = dict(k=d["growth_rate"], c0=d["init_features"], b=d["bn_size"], classes=d["classes"], **blocks)
    module = on_meta(reference.DenseNet, d["growth_rate"], d["blocks"], d["init_features"], d["bn_size"],
                     num_classes=d["classes"])
    assert engine("densenet121", h=d["h"], w=d["w"], **config) == measured(module, d["h"], d["w"])
    with torch.device("meta"):
        ours = zoo.build("densenet121", **config)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in module.state_dict().items()}


def test_formula_keeps_the_growth_rate_symbolic_through_the_transitions():
    """The closed form in growth rate, stem channels and bn_size gives torch's counts for other values."""
    from cnncost import symbolic

    derivation = symbolic.derive("densenet121", {"classes": 1000, "in_channels": 3})
    for growth_rate, init_features, bn_size, (h, w) in ((7, 15, 3, SIZES[0]), (13, 9, 2, SIZES[1])):
        module = on_meta(reference.DenseNet, growth_rate, (6, 12, 24, 16), init_features, bn_size)
        params, macs = measured(module, h, w)
        values = {symbolic.symbol("h"): h, symbolic.symbol("w"): w, symbolic.symbol("k"): growth_rate,
                  symbolic.symbol("c0"): init_features, symbolic.symbol("b"): bn_size}
        assert derivation.formulas["params"].xreplace(values) == params
        assert derivation.formulas["macs"].xreplace(values) == macs


def randomised(module):
    """``module`` with seeded random BatchNorm statistics and affine values, so a mis-loaded
    BatchNorm changes the output (a fresh BN is the identity in eval mode)."""
    generator = torch.Generator().manual_seed(0)
    for m in module.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            for tensor in (m.weight.data, m.bias.data, m.running_mean):
                tensor.copy_(torch.randn(tensor.shape, generator=generator) * 0.1)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=generator) + 0.5)
    return module.eval()


# torchvision's published DenseNet files spell a dense layer's norm1/relu1/conv1 (and 2) as
# norm.1/relu.1/conv.1: what this test writes, independently of the family's own rename.
OLD_SPELLING = re.compile(r"(denselayer\d+\.(?:norm|relu|conv))([12])\.")


def test_checkpoint_loads_under_current_and_legacy_keys(tmp_path):
    torch.manual_seed(0)
    source = randomised(reference.densenet121())
    state = source.state_dict()
    legacy = {OLD_SPELLING.sub(r"\1.\2.", key): value for key, value in state.items()}
    # 58 dense layers, each renaming norm1 and norm2 (5 tensors each) and conv1 and conv2 (one weight each).
    assert sum(key not in state for key in legacy) == 58 * (2 * 5 + 2)
    x = torch.randn(2, 3, 64, 71, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = source(x)
        for spelling, written in (("current", state), ("legacy", legacy)):
            path = tmp_path / f"{spelling}.pt"
            torch.save(written, path)
            model = zoo.load_weights(zoo.build("densenet121"), path).eval()
            torch.testing.assert_close(model(x), expected, rtol=0, atol=0, msg=spelling)


def test_legacy_key_renames_only_dense_layer_keys():
    rename = archs.get("densenet169").legacy_key
    assert rename("features.denseblock3.denselayer12.norm.2.running_var") == \
        "features.denseblock3.denselayer12.norm2.running_var"
    assert rename("features.denseblock1.denselayer1.conv.1.weight") == "features.denseblock1.denselayer1.conv1.weight"
    for key in ("features.transition1.norm.weight", "features.norm5.bias", "classifier.weight",
                "features.denseblock1.denselayer1.norm1.weight", "features.conv0.weight"):
        assert rename(key) == key
