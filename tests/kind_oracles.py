"""One harness for every layer kind: a node on an input shape, checked against every oracle.

``check_case(node, shape)`` builds the one-layer network with the zoo (``to_module``, the
kind's torch binding) and compares the engine's row with the real module: output shape,
``numel`` of the parameters, running statistics (the buffers convention), MACs = FlopCounterMode / 2, fvcore's
and ptflops' totals; then traces the module with the ``--module`` importer and requires
the same node back (the kind's torch.fx forms recognise what its binding builds).

Family test files (``tests/test_kinds_*.py``) define ``CASES`` and run them through this;
``tests/test_kinds_complete.py`` requires every registered kind to have cases.
"""

from __future__ import annotations

import warnings

import torch
from torch.utils.flop_counter import FlopCounterMode

from cnncost import engine
from cnncost import layers as L
from zoo import oracles, to_module
from zoo.fx_import import convert_module

warnings.filterwarnings("ignore", module="fvcore")  # tracer and unsupported-op chatter


def torch_macs(module: torch.nn.Module, shape: tuple) -> int:
    """FlopCounterMode's total / 2 on one eval forward of a batch of 1."""
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        module.eval()(torch.randn(1, *shape))
    return counter.get_total_flops() // 2


def check_case(node, shape: tuple, round_trip: bool = True) -> None:
    """The engine's counts of ``node`` on ``shape`` equal every oracle's; with ``round_trip`` the
    importer gives the same node back from the built module."""
    network = L.Network("t", tuple(shape), (node,))
    table = engine.analyze(network)
    row = table.layers[0]
    module = to_module(network).eval()
    with torch.no_grad():
        out = module(torch.randn(1, *shape))
    assert tuple(out.shape[1:]) == tuple(row.output_shape), (node, out.shape)
    assert table.total("params") == oracles.param_count(module), node
    assert table.total("buffers") == oracles.batchnorm_buffers(module), node  # running mean + var
    assert table.total("macs") == torch_macs(module, shape), node
    assert table.total("fvcore") == oracles.fvcore_total(module, shape), node
    assert table.total("ptflops") == oracles.ptflops_macs(module, shape), node
    if round_trip:
        converted = convert_module(module, "t", tuple(shape))
        assert L.leaves(converted.layers) == [node._replace(name=converted.layers[0].name)], converted.layers


def module_agrees(module: torch.nn.Module, shape: tuple) -> None:
    """The importer's description of a user's ``module`` counts what numel, FlopCounterMode, fvcore and
    ptflops count on the module itself."""
    converted = convert_module(module, "m", tuple(shape))
    table = engine.analyze(converted.network(*shape[1:]))
    assert table.total("params") == oracles.param_count(module)
    assert table.total("macs") == torch_macs(module, tuple(shape))
    assert table.total("fvcore") == oracles.fvcore_total(module, tuple(shape))
    assert table.total("ptflops") == oracles.ptflops_macs(module, tuple(shape))
