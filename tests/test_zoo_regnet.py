"""RegNetX and RegNetY (cnncost/archs/regnet.py) against independent references.

References: torchvision's state_dict keys/shapes and published parameter counts and GFLOPS
(tests/data/torchvision_cnn_manifest.json); torch's numel and FlopCounterMode on the torchvision-style
modules of tests/data/torchvision_nets/regnet.py, whose BlockParams.from_init_params quantises the
widths in torch float32 arithmetic as torchvision does (the description repeats it in plain Python).
Every network is built on the meta device (regnet_y_128gf has 644M parameters), except the two small
ones whose real weights go through a checkpoint file.
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
from torch.utils.flop_counter import FlopCounterMode

import cnncost
import zoo
from cnncost.archs import regnet
from cnncost.archs.registry import ParameterError
from tests.data.torchvision_nets import regnet as tv

MANIFEST = json.loads((Path(__file__).parent / "data" / "torchvision_cnn_manifest.json").read_text())
NAMES = tv.MODELS  # the fifteen torchvision RegNets
SIZES = ((40, 57), (71, 48))  # small and non-square: an H/W mix-up shows


def oracle(name: str) -> torch.nn.Module:
    """The torchvision-style module of ``name`` on the meta device, in eval mode."""
    with torch.device("meta"):
        return getattr(tv, name)().eval()


def flop_counter_macs(module: torch.nn.Module, h: int, w: int) -> int:
    """FlopCounterMode's total for one eval forward of a 1×C×h×w input, halved (2 FLOPs per MAC)."""
    weight = next(module.parameters())
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module.eval()(torch.empty(1, module.stem[0].in_channels, h, w, device=weight.device))
    flops = counter.get_total_flops()
    assert flops % 2 == 0
    return flops // 2


def numel(module: torch.nn.Module) -> int:
    """Trainable parameters as torch counts them."""
    return sum(p.numel() for p in module.parameters())


def shapes(module: torch.nn.Module) -> list:
    """(state_dict key, shape list) in the module's order, as the manifest stores them."""
    return [(k, list(v.shape)) for k, v in module.state_dict().items()]


def meta_build(name: str, **hyperparameters) -> torch.nn.Module:
    """The zoo module on the meta device (no weights allocated)."""
    with torch.device("meta"):
        return zoo.build(name, **hyperparameters).eval()


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_is_torchvisions_key_for_key_in_order(name):
    assert shapes(meta_build(name)) == list(MANIFEST[name]["state_dict"].items())




@pytest.mark.parametrize("name", NAMES)
def test_params_and_macs_match_torch_at_two_sizes(name):
    reference = oracle(name)
    assert numel(meta_build(name)) == numel(reference)
    for h, w in SIZES:
        table = cnncost.count(name, h=h, w=w)
        assert table.total("params") == numel(reference)
        assert table.total("macs") == flop_counter_macs(reference, h, w)


@settings(max_examples=150, deadline=None)
@given(depth=st.integers(1, 40), w_0=st.integers(1, 60).map(lambda k: 8 * k),
       w_a=st.one_of(st.floats(0, 300), st.integers(0, 30000).map(lambda c: c / 100)),
       w_m=st.one_of(st.floats(1.001, 4), st.integers(101, 400).map(lambda c: c / 100)),
       group_width=st.integers(1, 300), bottleneck=st.sampled_from([1.0, 0.25, 0.5, 0.75, 2.0, 3.0]))
def test_stages_are_torchvisions_block_params(depth, w_0, w_a, w_m, group_width, bottleneck):
    """The plain-Python quantisation gives torch's float32 stages (widths, depths, group widths)."""
    gen = regnet.Generator(depth, w_0, w_a, w_m, group_width)
    try:
        reference = tv.BlockParams.from_init_params(depth, w_0, w_a, w_m, group_width, bottleneck)
    except ZeroDivisionError:  # a bottleneck of 0 channels: make_divisible(0, 0)
        with pytest.raises(ParameterError, match="bottleneck_multiplier"):
            regnet.stages(gen, bottleneck)
        return
    assert regnet.stages(gen, bottleneck) == tuple(zip(reference.widths, reference.depths, reference.group_widths))


@st.composite
def generators(draw) -> dict:
    """Random generating parameters of a small RegNet, plus stem width, classes and input size."""
    return {
        "depth": draw(st.integers(1, 8)), "w_0": 8 * draw(st.integers(1, 8)),
        "w_a": draw(st.floats(0, 60)), "w_m": draw(st.floats(1.2, 3.5)),
        "group_width": draw(st.integers(1, 24)), "bottleneck_multiplier": draw(st.sampled_from([1.0, 0.5, 2.0])),
        "se_ratio": draw(st.sampled_from([0.0, 0.25, 0.5])), "stem_width": draw(st.integers(4, 40)),
        "classes": draw(st.integers(1, 20)), "h": draw(st.integers(32, 70)), "w": draw(st.integers(32, 70)),
    }


@settings(max_examples=12, deadline=None)
@given(cfg=generators(), name=st.sampled_from(["regnet_x_400mf", "regnet_y_8gf"]))
def test_generating_parameters_match_torch(cfg, name):
    """Other generating parameters: torchvision's RegNet built from the same numbers has the engine's
    parameters and MACs (or both refuse them); the zoo module has its keys and shapes."""
    keys = ("depth", "w_0", "w_a", "w_m", "group_width", "bottleneck_multiplier", "se_ratio")
    try:
        with torch.device("meta"):
            reference = tv._regnet(tv.BlockParams.from_init_params(*(cfg[k] for k in keys)),
                                   stem_width=cfg["stem_width"], num_classes=cfg["classes"]).eval()
    except (ValueError, ZeroDivisionError):  # groups that do not divide, a bottleneck or SE of 0 channels
        with pytest.raises(ParameterError):
            cnncost.count(name, **cfg)
        return
    table = cnncost.count(name, **cfg)
    assert table.total("params") == numel(reference)
    assert table.total("macs") == flop_counter_macs(reference, cfg["h"], cfg["w"])
    assert shapes(meta_build(name, **cfg)) == shapes(reference)


@pytest.mark.parametrize("given_values, parameter", [({"w_0": 20}, "w_0"), ({"w_m": 1.0}, "w_m"),
                                                     ({"bottleneck_multiplier": 0.0}, "bottleneck_multiplier")])
def test_torchvisions_invalid_settings_are_refused(given_values, parameter):
    """from_init_params raises ValueError for w_0 not a multiple of 8 and w_m ≤ 1; a zero bottleneck
    multiplier divides by zero there. The engine names the parameter instead."""
    settings_ = {"depth": 22, "w_0": 24, "w_a": 24.48, "w_m": 2.54, "group_width": 16, **given_values}
    b = settings_.pop("bottleneck_multiplier", 1.0)
    with pytest.raises((ValueError, ZeroDivisionError)):
        tv.BlockParams.from_init_params(**settings_, bottleneck_multiplier=b)
    with pytest.raises(ParameterError, match=parameter):
        cnncost.count("regnet_x_400mf", **given_values)


@pytest.mark.parametrize("name", ["regnet_x_400mf", "regnet_y_400mf"])
def test_checkpoint_of_the_torchvision_module_loads_and_computes_the_same(name, tmp_path, one_torch_thread):
    """A state_dict saved from the torchvision-style module loads strictly into the zoo module, which
    then gives the same logits (the same blocks, projections and gates, in the same places)."""
    torch.manual_seed(0)
    reference = getattr(tv, name)().eval()
    for module in reference.modules():  # non-trivial BatchNorm statistics, so a misplaced one shows
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    path = tmp_path / f"{name}.pth"
    torch.save(reference.state_dict(), path)
    model = zoo.load_weights(zoo.build(name), path).eval()
    x = torch.randn(1, 3, 40, 56)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x))


def test_count_does_not_import_torch():
    code = ("import sys; from cnncost.cli.app import main; rc = main(['count', 'regnet_y_128gf']); "
            "assert rc == 0 and 'torch' not in sys.modules, rc")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
