"""Keras' preprocessing Normalization (cnncost.kinds.preprocess) against torch and the tools.

``kind_oracles.check_case`` reads stored statistics as BatchNorm's running mean and variance only, so
these cases run the same comparisons with the buffers oracle widened to every buffer the module holds
(torch numel of mean, variance and count): the 2C + 1 values Keras counts in "Total params".
"""

from __future__ import annotations

import pytest
import torch

from cnncost import engine
from cnncost import layers as L
from cnncost.kinds.preprocess import Normalization
from zoo import oracles, to_module
from zoo.fx_import import convert_module

from .kind_oracles import torch_macs

CASES = [
    (Normalization("norm"), (3, 9, 11)),
    (Normalization("norm", 1e-3), (1, 5, 4)),
    (Normalization("norm"), (16, 2, 7)),
]


@pytest.mark.parametrize("node, shape", CASES, ids=[f"{n.epsilon}-{s}" for n, s in CASES])
def test_normalization_matches_every_oracle(node, shape):
    network = L.Network("t", shape, (node,))
    table = engine.analyze(network)
    module = to_module(network).eval()
    x = torch.rand(1, *shape) * 255
    with torch.no_grad():
        out = module(x)
    assert tuple(out.shape[1:]) == tuple(table.layers[0].output_shape) == shape
    assert table.total("params") == oracles.param_count(module) == 0
    assert table.total("buffers") == sum(b.numel() for b in module.buffers())
    assert table.total("macs") == torch_macs(module, shape)
    assert table.total("fvcore") == oracles.fvcore_total(module, shape)
    assert table.total("ptflops") == oracles.ptflops_macs(module, shape)
    converted = convert_module(module, "t", shape)
    assert L.leaves(converted.layers) == [node._replace(name=converted.layers[0].name)]


def test_normalization_computes_keras_formula():
    """(x − mean) / max(√variance, ε) per channel, the statistics loaded by their Keras weight names."""
    network = L.Network("t", (3, 4, 5), (Normalization("norm"),))
    module = to_module(network).eval()
    mean, variance = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225]) ** 2
    module.load_state_dict({"norm.mean": mean, "norm.variance": variance, "norm.count": torch.tensor(0)})
    x = torch.rand(1, 3, 4, 5)
    expected = (x - mean.view(1, 3, 1, 1)) / variance.sqrt().view(1, 3, 1, 1)
    torch.testing.assert_close(module(x), expected)
    assert set(module.state_dict()) == {"norm.mean", "norm.variance", "norm.count"}
