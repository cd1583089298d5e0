"""The native SqueezeNets and ShuffleNet V2s (cnncost/archs/squeezenet.py, shufflenet.py) against
independent references.

The references: the torchvision-style modules in tests/data/torchvision_nets/ (torch's numel and
FlopCounterMode of one eval forward, halved: torchvision's GFLOPS count multiply-accumulates) and
torchvision's manifest (state_dict keys and shapes, published parameters and GFLOPS). Checkpoints
written from the reference modules load into the zoo's modules and give the same outputs.
"""

from __future__ import annotations


import pytest

torch = pytest.importorskip("torch")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from torch import nn  # noqa: E402

import zoo  # noqa: E402
from tests.data.torchvision_nets import shufflenet, squeezenet  # noqa: E402
from tests.zoo_helpers import engine_counts as engine, manifest, measured, on_meta  # noqa: E402

REFERENCES = {name: getattr(module, name) for module in (squeezenet, shufflenet) for name in module.MODELS}
NAMES = tuple(REFERENCES)
SIZES = ((47, 60), (65, 38))  # small, non-square, odd (SqueezeNet needs at least 21)










def shapes(module) -> dict:
    """state_dict key -> shape."""
    return {key: tuple(value.shape) for key, value in module.state_dict().items()}


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_is_torchvision_key_for_key(name):
    with torch.device("meta"):
        module = zoo.build(name)
    got = [[key, list(value.shape)] for key, value in module.state_dict().items()]
    assert got == [[key, shape] for key, shape in manifest()[name]["state_dict"].items()]


@pytest.mark.parametrize("name", NAMES)
def test_counts_equal_torch_at_small_sizes(name):
    module = on_meta(REFERENCES[name])
    for h, w in SIZES:
        assert engine(name, h=h, w=w) == measured(module, h, w), (h, w)




def scaled_squeezenet(version: str, stem: int, squeeze: int, expand: int, classes: int) -> nn.Module:
    """The reference SqueezeNet with the paper's Fire metaparameters changed: Fire module i
    (0 … 7) squeezes to squeeze·(⌊i/2⌋ + 1) channels and expands to expand·(⌊i/2⌋ + 1) per branch,
    built from the reference's own Fire and layers (its pools stay where they are)."""
    model = squeezenet.SqueezeNet(version, num_classes=classes)
    layers, channels, fire = [], stem, 0
    for layer in model.features:
        if isinstance(layer, squeezenet.Fire):
            scale = fire // 2 + 1
            layer = squeezenet.Fire(channels, squeeze * scale, expand * scale, expand * scale)
            channels, fire = 2 * expand * scale, fire + 1
        elif isinstance(layer, nn.Conv2d):
            layer = nn.Conv2d(3, stem, layer.kernel_size, layer.stride)
        layers.append(layer)
    model.features = nn.Sequential(*layers)
    model.classifier[1] = nn.Conv2d(channels, classes, 1)
    return model


@settings(max_examples=3, deadline=None)
@given(st.sampled_from(("1_0", "1_1")), st.integers(1, 100), st.integers(1, 20), st.integers(1, 70),
       st.integers(1, 20), st.integers(21, 70), st.integers(21, 70))
def test_squeezenet_design_variables_equal_torch(version, stem, squeeze, expand, classes, h, w):
    name = f"squeezenet{version}"
    config = dict(c1=stem, s=squeeze, e=expand, classes=classes)
    module = on_meta(scaled_squeezenet, version, stem, squeeze, expand, classes)
    assert engine(name, h=h, w=w, **config) == measured(module, h, w)
    with torch.device("meta"):
        assert shapes(zoo.build(name, **config)) == shapes(module)


@settings(max_examples=3, deadline=None)
@given(st.integers(1, 30), st.tuples(*[st.integers(1, 60)] * 3), st.integers(1, 80),
       st.tuples(*[st.integers(1, 3)] * 3), st.integers(1, 20), st.integers(16, 70), st.integers(16, 70))
def test_shufflenet_design_variables_equal_torch(c1, branches, c5, repeats, classes, h, w):
    """Any stem, branch widths (a stage has two branches: 2·b channels), conv5 width and stage lengths."""
    config = dict(c1=c1, b2=branches[0], b3=branches[1], b4=branches[2], c5=c5, classes=classes,
                  repeats2=repeats[0], repeats3=repeats[1], repeats4=repeats[2])
    module = on_meta(shufflenet.ShuffleNetV2, list(repeats), [c1, *(2 * b for b in branches), c5], classes)
    assert engine("shufflenet_v2_x1_0", h=h, w=w, **config) == measured(module, h, w)
    with torch.device("meta"):
        assert shapes(zoo.build("shufflenet_v2_x1_0", **config)) == shapes(module)


def test_formulas_keep_the_channel_tables_symbolic():
    """The closed forms in the design variables give torch's counts for values other than the defaults."""
    from cnncost import symbolic

    s = symbolic.symbol
    squeeze = symbolic.derive("squeezenet1_1", {"classes": 1000, "in_channels": 3})
    shuffle = symbolic.derive("shufflenet_v2_x0_5", {"classes": 1000, "in_channels": 3, "repeats2": 4,
                                                     "repeats3": 8, "repeats4": 4})
    for (h, w), (a, b, c) in zip(SIZES, ((40, 8, 24), (17, 23, 9))):
        values = {s("h"): h, s("w"): w, s("c1"): a, s("s"): b, s("e"): c}
        params, macs = measured(on_meta(scaled_squeezenet, "1_1", a, b, c, 1000), h, w)
        assert (squeeze.formulas["params"].xreplace(values), squeeze.formulas["macs"].xreplace(values)) == \
            (params, macs)
        widths = {"c1": a, "b2": b, "b3": c, "b4": a + 1, "c5": b + c}
        values = {s("h"): h, s("w"): w, **{s(k): v for k, v in widths.items()}}
        channels = [a, 2 * b, 2 * c, 2 * (a + 1), b + c]
        params, macs = measured(on_meta(shufflenet.ShuffleNetV2, [4, 8, 4], channels), h, w)
        assert (shuffle.formulas["params"].xreplace(values), shuffle.formulas["macs"].xreplace(values)) == \
            (params, macs)


def randomised(module):
    """``module`` with seeded random BatchNorm statistics and affine values (a fresh BN is the
    identity in eval mode, so a mis-loaded one would not show), in eval mode."""
    generator = torch.Generator().manual_seed(0)
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            for tensor in (m.weight.data, m.bias.data, m.running_mean):
                tensor.copy_(torch.randn(tensor.shape, generator=generator) * 0.1)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=generator) + 0.5)
    return module.eval()


@pytest.mark.parametrize("name", ("squeezenet1_0", "squeezenet1_1", "shufflenet_v2_x0_5", "shufflenet_v2_x1_0"))
def test_checkpoint_from_the_reference_loads_and_gives_its_outputs(name, tmp_path):
    torch.manual_seed(0)
    source = randomised(REFERENCES[name]())
    path = tmp_path / f"{name}.pt"
    torch.save(source.state_dict(), path)
    model = zoo.load_weights(zoo.build(name), path).eval()
    x = torch.randn(2, 3, 64, 57, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(model(x), source(x), rtol=0, atol=0)
