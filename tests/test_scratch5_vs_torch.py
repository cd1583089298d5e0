"""The engine against a real torch build of scratch5: numel, buffers, shapes, fvcore MACs."""

from hypothesis import given, settings

import cnncost
import zoo
from zoo import oracles

from .strategies import scratch5_configs, scratch5_min_size


@settings(max_examples=30)
@given(scratch5_configs())
def test_engine_equals_torch_and_fvcore(config):
    table = cnncost.count("scratch5", **config)
    module = zoo.build("scratch5", **config)
    input_shape = (3, config["h"], config["w"])
    assert table.total("params") == oracles.param_count(module)
    assert table.total("buffers") == oracles.batchnorm_buffers(module)
    assert table.total("macs") == oracles.fvcore_macs(module, input_shape)
    shapes = oracles.output_shapes(module, input_shape)
    assert {r.name: tuple(r.output_shape) for r in table.layers} == shapes


@settings(max_examples=10)
@given(scratch5_configs(max_extra=0))
def test_minimum_input_is_exactly_where_torch_stops(config):
    """At the minimum size torch runs; one pixel less and torch fails, and so does the engine."""
    import pytest
    import torch

    low = scratch5_min_size(config["k"], config["padding"])
    assert cnncost.engine.min_input_size(cnncost.archs.get("scratch5").build(
        **cnncost.archs.resolve(cnncost.archs.get("scratch5"), config))) == (low, low)
    smaller = dict(config, h=low - 1)
    if low - 1 >= 1:
        with pytest.raises(cnncost.errors.CnncostError, match="too small"):
            cnncost.count("scratch5", **smaller)
        module = zoo.build("scratch5", **config)  # built at a valid size: the same weights
        with pytest.raises(RuntimeError):
            module.eval()(torch.zeros(1, 3, low - 1, config["w"]))
