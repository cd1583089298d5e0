"""Instantiate an engine layer tree as a real ``torch.nn.Module``.

Each leaf node becomes the torch layer it describes, with its input size taken
from the engine's own shape walk (so a Linear after a Flatten gets the right
``in_features`` for any input size). Module paths follow the nodes'
hierarchical names, so ``named_modules()`` and the engine's rows line up.
"""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

from cnncost import engine
from cnncost import layers as L

from .modules import Concat, Residual

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU, "mish": nn.Mish, "elu": nn.ELU,
               "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


def to_module(network: L.Network) -> nn.Module:
    """The torch module of ``network`` (validated by the engine's walk first)."""
    table = engine.analyze(network)
    inputs = {row.name: row.input_shape for row in table.layers}
    return _sequence(network.layers, inputs)


def _sequence(nodes: tuple, inputs: dict) -> nn.Module:
    return nn.Sequential(OrderedDict((node.name.rsplit(".", 1)[-1], _module(node, inputs)) for node in nodes))


def _optional(nodes: tuple, inputs: dict) -> nn.Module | None:
    return _sequence(nodes, inputs) if nodes else None


def _module(node, inputs: dict) -> nn.Module:
    if isinstance(node, L.Sequential):
        return _sequence(node.children, inputs)
    if isinstance(node, L.Residual):
        return Residual(_sequence(node.body, inputs), _optional(node.shortcut, inputs),
                        _optional(node.after, inputs))
    if isinstance(node, L.Concat):
        return Concat([_sequence(branch, inputs) for branch in node.branches])
    return _leaf(node, inputs[node.name])


def _leaf(node, x: tuple) -> nn.Module:
    if isinstance(node, L.Conv2d):
        return nn.Conv2d(x[0], node.out_channels, node.kernel_size, node.stride, node.padding,
                         node.dilation, node.groups, node.bias)
    if isinstance(node, L.Linear):
        return nn.Linear(x[0], node.out_features, node.bias)
    if isinstance(node, L.MaxPool2d):
        return nn.MaxPool2d(node.kernel_size, node.stride, node.padding, node.dilation, ceil_mode=node.ceil_mode)
    if isinstance(node, L.AvgPool2d):
        return nn.AvgPool2d(node.kernel_size, node.stride, node.padding, node.ceil_mode, node.count_include_pad)
    if isinstance(node, L.AdaptiveAvgPool2d):
        return nn.AdaptiveAvgPool2d(node.output_size)
    if isinstance(node, (L.BatchNorm2d, L.BatchNorm1d)):
        kind = nn.BatchNorm2d if isinstance(node, L.BatchNorm2d) else nn.BatchNorm1d
        return kind(x[0], affine=node.affine, track_running_stats=node.track_running_stats)
    if isinstance(node, L.Activation):
        return ACTIVATIONS[node.function]()
    if isinstance(node, L.Dropout):
        return nn.Dropout(node.p)
    if isinstance(node, L.Flatten):
        return nn.Flatten()
    if isinstance(node, L.ZeroPad2d):
        return nn.ZeroPad2d(node.padding)
    raise TypeError(f"{node.name}: no torch module for {type(node).__name__}")
