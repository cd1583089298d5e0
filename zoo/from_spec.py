"""Instantiate an engine layer tree as a real ``torch.nn.Module``.

Module paths are the nodes' names: a leaf named ``layer1.0.downsample.0`` is
registered at exactly that path (containers are created on demand), so the
state_dict keys are whatever the description names them — torchvision's own
keys for the classic networks. The forward pass walks the same node tree the
engine walks: sequences, residual adds, channel concatenations and auxiliary
heads (run in training mode only, their outputs returned beside the logits).
Each layer's input size comes from the engine's shape walk.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cnncost import engine
from cnncost import layers as L
from cnncost.sizes import WHOLE

ACTIVATIONS = {"relu": nn.ReLU, "relu6": nn.ReLU6, "gelu": nn.GELU, "silu": nn.SiLU, "mish": nn.Mish,
               "elu": nn.ELU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


class Container(nn.Module):
    """A namespace for submodules (the path segments between the root and a layer)."""


class Call(nn.Module):
    """A layer written as a call (``F.relu(x)``, ``torch.relu(x)``, ``x.relu()``), kept at its path.

    The description records how a user's module wrote each layer (``node.call``), because
    ptflops counts the forms differently; rebuilding the same form lets ``verify --module``
    compare like with like. ``call`` is looked up at each forward, never bound early: ptflops
    patches ``torch.nn.functional``'s attributes while it counts.
    """

    def __init__(self, node):
        super().__init__()
        self.node = node

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The node's function in its recorded form."""
        node = self.node
        if isinstance(node, L.Activation):
            if node.call == "method":
                return getattr(x, node.function)()
            return getattr(F if node.call == "function" else torch, node.function)(x)
        size = tuple(x.shape[2:])
        if isinstance(node, L.AdaptiveAvgPool2d):
            return F.adaptive_avg_pool2d(x, node.output_size)
        kernel, stride = _window(node.kernel_size, size), _window(node.stride, size)
        if isinstance(node, L.MaxPool2d):
            return F.max_pool2d(x, kernel, stride, node.padding, node.dilation, node.ceil_mode)
        return F.avg_pool2d(x, kernel, stride, node.padding, node.ceil_mode, node.count_include_pad)


def _window(value, size: tuple):
    """A kernel or stride with ``WHOLE`` axes replaced by the input's own size on that axis."""
    if value is None:
        return None
    pair = L.pair(value)
    return tuple(size[axis] if v is WHOLE else v for axis, v in enumerate(pair))


class SpecModule(nn.Module):
    """A network whose forward pass follows its cnncost description."""

    def __init__(self, network: L.Network):
        super().__init__()
        table = engine.analyze(network)
        self.network_name = network.name
        self.input_shape = tuple(network.input_shape)
        self._nodes = network.layers  # plain data, not registered
        nodes = {leaf.name: leaf for leaf in L.leaves(network.layers)}
        leaves = {row.name: _register(self, row.name, _leaf(nodes[row.name], row.input_shape))
                  for row in table.layers}
        self.__dict__["_leaves"] = leaves  # name -> module, without registering twice

    def forward(self, x: torch.Tensor):
        """Logits; in training mode with auxiliary heads, (logits, deepest aux, ..., first aux)."""
        aux: list = []
        out = self._run(self._nodes, x, aux)
        # As torchvision's GoogLeNet: the deepest auxiliary head first.
        return (out, *reversed(aux)) if aux else out

    def _run(self, nodes: tuple, x: torch.Tensor, aux: list) -> torch.Tensor:
        for node in nodes:
            x = self._step(node, x, aux)
        return x

    def _step(self, node, x: torch.Tensor, aux: list) -> torch.Tensor:
        if isinstance(node, L.Sequential):
            return self._run(node.children, x, aux)
        if isinstance(node, L.Residual):
            body = self._run(node.body, x, aux)
            short = self._run(node.shortcut, x, aux) if node.shortcut else x
            return self._run(node.after, _add(node.call, body, short), aux)
        if isinstance(node, L.Concat):
            return torch.cat([self._run(branch, x, aux) for branch in node.branches], dim=1)
        if isinstance(node, L.Auxiliary):
            if self.training:
                aux.append(self._run(node.nodes, x, aux))
            return x
        return self._leaves[node.name](x)


def _add(call: str, body: torch.Tensor, short: torch.Tensor) -> torch.Tensor:
    """The residual add in the form the description recorded (ptflops counts torch.add, not +)."""
    if call == "torch":
        return torch.add(body, short)
    if call == "method":
        return body.add(short)
    if call == "method_":
        return body.add_(short)
    return body + short


def to_module(network: L.Network) -> SpecModule:
    """The torch module of ``network`` (validated by the engine's walk first)."""
    return SpecModule(network)


def _register(root: nn.Module, path: str, module: nn.Module) -> nn.Module:
    """Attach ``module`` at dotted ``path`` under ``root``, creating containers on the way."""
    *parents, last = path.split(".")
    owner = root
    for part in parents:
        if not hasattr(owner, part):
            owner.add_module(part, Container())
        owner = getattr(owner, part)
    if hasattr(owner, last) and isinstance(getattr(owner, last), nn.Module):
        raise ValueError(f"{path}: two layers share this module path")
    owner.add_module(last, module)
    return module


def _leaf(node, x: tuple) -> nn.Module:
    call = getattr(node, "call", "module")
    if call in ("function", "torch", "method"):
        return Call(node)
    module = _module(node, x)
    if call == "subclass":  # ptflops hooks exact types only: a subclass is counted differently
        module.__class__ = type(f"Sub{type(module).__name__}", (type(module),), {})
    return module


def _module(node, x: tuple) -> nn.Module:
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
        return kind(x[0], eps=node.eps, affine=node.affine, track_running_stats=node.track_running_stats)
    if isinstance(node, L.Activation):
        return ACTIVATIONS[node.function]()
    if isinstance(node, L.Dropout):
        return nn.Dropout(node.p)
    if isinstance(node, L.Flatten):
        return nn.Flatten()
    if isinstance(node, L.ZeroPad2d):
        return nn.ZeroPad2d(node.padding)
    raise TypeError(f"{node.name}: no torch module for {type(node).__name__}")
