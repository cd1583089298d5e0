"""MobileNetV3 and MNASNet (cnncost/archs/mobilenet_v3.py, mnasnet.py) against independent references.

References: torchvision's state_dict keys/shapes, published parameter counts and GFLOPS
(tests/data/torchvision_cnn_manifest.json); torch's numel and FlopCounterMode on the zoo modules and on
the torchvision-style modules of tests/data/torchvision_nets/mobilenet.py and mnasnet.py, which take
the same width multipliers (MobileNetV3's ``width_mult`` and ``reduced_tail``, MNASNet's ``alpha``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import cnncost
import zoo
from cnncost import symbolic
from cnncost.conventions import totals
from tests.data.torchvision_nets import mnasnet as tv_mnasnet
from tests.data.torchvision_nets import mobilenet as tv_mobilenet
from .zoo_helpers import flop_counter_macs, meta_build, numel, state_shapes as shapes

MANIFEST = json.loads((Path(__file__).parent / "data" / "torchvision_cnn_manifest.json").read_text())
MOBILENETS = ("mobilenet_v3_large", "mobilenet_v3_small")
# The depth multiplier of each torchvision factory (tests/data/torchvision_nets/mnasnet.py).
MNASNETS = {"mnasnet0_5": 0.5, "mnasnet0_75": 0.75, "mnasnet1_0": 1.0, "mnasnet1_3": 1.3}
NAMES = (*MOBILENETS, *MNASNETS)
SIZES = ((41, 58), (77, 50))  # small and non-square: an H/W mix-up shows


def oracle(name: str, **hyperparameters) -> torch.nn.Module:
    """The torchvision-style module of ``name`` (with the given multipliers) on the meta device, eval mode."""
    with torch.device("meta"):
        if name in MNASNETS:
            return tv_mnasnet.MNASNet(hyperparameters.get("alpha", MNASNETS[name])).eval()
        setting = tv_mobilenet._mobilenet_v3_conf(name, width_mult=hyperparameters.get("width_mult", 1.0),
                                                  reduced_tail=hyperparameters.get("reduced_tail", False))
        return tv_mobilenet.MobileNetV3(*setting).eval()










@pytest.mark.parametrize("name", NAMES)
def test_state_dict_is_torchvisions(name):
    """Every key and shape of torchvision's model (MNASNet: its version 2 layout, as the manifest has it)."""
    assert shapes(meta_build(name)) == MANIFEST[name]["state_dict"]




@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("size", SIZES)
def test_params_and_macs_match_torch(name, size):
    """Engine params = numel and MACs = FlopCounterMode / 2, of the zoo module and of the oracle module."""
    h, w = size
    table = cnncost.count(name, h=h, w=w)
    module, reference = meta_build(name), oracle(name)
    assert table.total("params") == numel(module) == numel(reference)
    assert table.total("macs") == flop_counter_macs(module, h, w) == flop_counter_macs(reference, h, w)


@settings(max_examples=6, deadline=None)
@given(name=st.sampled_from(MOBILENETS), width_mult=st.floats(0.1, 2.5), reduced_tail=st.booleans(),
       h=st.integers(32, 90), w=st.integers(32, 90))
def test_mobilenet_v3_width_multipliers_match_torch(name, width_mult, reduced_tail, h, w):
    """Any width multiplier, with or without the reduced tail: the oracle's state_dict, numel and MACs
    (rounding each width from the same float product decides which blocks expand and add back)."""
    chosen = {"width_mult": width_mult, "reduced_tail": reduced_tail}
    reference = oracle(name, **chosen)
    assert shapes(meta_build(name, **chosen)) == shapes(reference)
    table = cnncost.count(name, **chosen, h=h, w=w)
    assert table.total("params") == numel(reference)
    assert table.total("macs") == flop_counter_macs(reference, h, w)


@settings(max_examples=6, deadline=None)
@given(name=st.sampled_from(list(MNASNETS)), alpha=st.floats(0.1, 2.5), h=st.integers(32, 90),
       w=st.integers(32, 90))
def test_mnasnet_alphas_match_torch(name, alpha, h, w):
    """Any depth multiplier: the oracle's state_dict, numel and MACs."""
    reference = oracle(name, alpha=alpha)
    assert shapes(meta_build(name, alpha=alpha)) == shapes(reference)
    table = cnncost.count(name, alpha=alpha, h=h, w=w)
    assert table.total("params") == numel(reference)
    assert table.total("macs") == flop_counter_macs(reference, h, w)


@pytest.mark.parametrize("name, chosen", [("mobilenet_v3_small", {"width_mult": 0.75, "reduced_tail": True}),
                                          ("mnasnet0_75", {"alpha": 1.1})])
def test_closed_form_at_another_multiplier(name, chosen):
    """A multiplier is numeric: its own closed form in H and W gives the counts at two sizes."""
    derivation = symbolic.derive(name, {**chosen, "classes": 1000, "in_channels": 3})
    for h, w in SIZES:
        numeric = totals(cnncost.count(name, **chosen, h=h, w=w))
        values = {symbolic.symbol("h"): h, symbolic.symbol("w"): w}
        for quantity in ("params", "macs", "activations"):
            assert derivation.formulas[quantity].xreplace(values) == numeric[quantity], quantity


def _trained_looking(name: str, **hyperparameters) -> torch.nn.Module:
    """The oracle module on CPU with its own (seeded) initialisation and seeded random BatchNorm affines
    and running statistics, so that a wrong load shows and the logits stay finite."""
    with torch.device("meta"):
        module = oracle(name, **hyperparameters)
    module = module.to_empty(device="cpu")
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for tensor in module.parameters():
            # fan-in scaled normal weights keep activations of order one through the deep stack
            fan_in = tensor[0].numel() if tensor.dim() > 1 else 1
            tensor.copy_(torch.randn(tensor.shape, generator=generator) * fan_in ** -0.5 * 1.5)
        for key, tensor in module.state_dict().items():
            if key.endswith(("running_var", ".weight")) and tensor.dim() == 1:
                tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
            elif key.endswith(("running_mean", ".bias")):
                tensor.copy_(torch.rand(tensor.shape, generator=generator) * 0.2 - 0.1)
    return module.eval()


@pytest.mark.parametrize("name, chosen", [("mobilenet_v3_large", {"width_mult": 0.5, "reduced_tail": True}),
                                          ("mobilenet_v3_small", {}), ("mnasnet0_5", {}), ("mnasnet1_0", {})])
def test_checkpoint_of_the_torch_module_loads_and_computes_the_same(name, chosen, tmp_path):
    """A state_dict of the torchvision-style module, saved with torch.save, loads into the zoo network
    (mnasnet0_5 and mnasnet1_0: the version 2 layout of torchvision's published files), and both then
    compute the same output."""
    reference = _trained_looking(name, **chosen)
    path = tmp_path / "weights.pth"
    torch.save(reference.state_dict(), path)
    model = zoo.load_weights(meta_build(name, **chosen).to_empty(device="cpu"), path).eval()
    x = torch.rand(1, 3, 37, 46, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = reference(x)
        got = model(x)
    assert torch.isfinite(expected).all() and expected.std() > 0
    assert torch.allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_count_does_not_import_torch():
    code = ("import sys, cnncost\n"
            f"for name in {list(NAMES)!r}: cnncost.count(name)\n"
            "cnncost.count('mobilenet_v3_large', width_mult=0.75, reduced_tail=True)\n"
            "assert 'torch' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parent.parent)
