"""The zoo's modules can be taken apart and recomposed as torchvision's can, and --module counts
the result exactly. References: torch (outputs, numel) and FlopCounterMode."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import cnncost
import zoo
from cnncost import archs

USER = Path(__file__).parent / "data" / "user_modules" / "zoo_surgery.py"
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _macs(module: nn.Module, x: torch.Tensor) -> int:
    with FlopCounterMode(display=False) as counter:
        module.eval()(x)
    return counter.get_total_flops() // 2


@pytest.mark.parametrize("name", ["resnet18", "vgg11", "mobilenet_v2", "scratch5", "smallcnn_res"])
def test_the_children_in_sequence_are_the_network(name):
    torch.manual_seed(0)
    model = zoo.build(name, h=100, w=100).eval()
    x = torch.randn(2, *model.input_shape)
    assert torch.equal(nn.Sequential(*model.children())(x), model(x))


def test_a_stage_and_a_block_by_index_run_alone():
    torch.manual_seed(0)
    model = zoo.build("resnet18", h=64, w=64).eval()
    x = torch.randn(1, 3, 64, 64)
    stem = model.maxpool(model.relu(model.bn1(model.conv1(x))))
    assert torch.equal(model.layer1(stem), model.layer1[1](model.layer1[0](stem)))
    assert len(model.layer4) == 2 and model.layer4[-1] is model.layer4[1]
    assert model.layer2[0].downsample(model.layer1(stem)).shape == (1, 128, 8, 8)


def test_a_replaced_layer_is_the_one_that_runs():
    model = zoo.build("resnet18", h=64, w=64).eval()
    model.fc = nn.Linear(512, 3)
    assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 3)
    assert model._leaves["fc"] is model.fc


def test_auxiliary_heads_still_come_out_in_training():
    model = zoo.build("googlenet", h=96, w=96, aux_logits=True, classes=5).train()
    out = model(torch.zeros(2, 3, 96, 96))
    assert isinstance(out, tuple) and len(out) == 3 and all(o.shape == (2, 5) for o in out)
    assert model.aux1(torch.zeros(2, 512, 6, 6)).shape == (2, 5)  # an aux head called alone gives its logits


@pytest.mark.parametrize("factory", ["resnet18_backbone", "resnet18_new_fc", "two_stages", "mobilenet_features"])
def test_module_made_by_surgery_counts_exactly(factory):
    import importlib.util

    spec = importlib.util.spec_from_file_location("zoo_surgery_reference", USER)
    source = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(source)
    module = getattr(source, factory)().eval()
    x = torch.zeros(1, *module.input_size)
    arch = archs.get(f"module:{USER}:{factory}")
    table = cnncost.engine.analyze(arch.build(**archs.resolve(arch, {})))
    assert table.total("params") == sum(p.numel() for p in module.parameters())
    assert table.total("macs") == _macs(module, x)
    assert tuple(table.output_shape) == tuple(module(x).shape[1:])
