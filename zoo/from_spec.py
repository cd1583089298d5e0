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

import contextlib
import re

import torch
import torch.nn.functional as F
from torch import nn

from cnncost import engine
from cnncost import layers as L
from cnncost.kinds import kind_for
from cnncost.kinds.arithmetic import apply
from cnncost.walk import Fold, fold
from cnncost.kinds.elementwise import FUNCTIONS

from .fx_ops import resolve

# Every activation's torch module, by function name (the visualisations' guided backprop needs them all).
ACTIVATIONS = {function: resolve(spec.module) for function, spec in FUNCTIONS.items()}


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
        if node.call == "bound":  # taken before ptflops patched it: call the original, as the user's code did
            with _original_function(_function_name(node)):
                return kind_for(node).torch_call(node._replace(call="function"), x)
        return kind_for(node).torch_call(node, x)


# torch.nn.functional as imported, before any tool patches it (ptflops replaces attributes while it counts).
_ORIGINAL_FUNCTIONS = {name: value for name, value in vars(F).items() if callable(value)}


def _function_name(node) -> str:
    """The torch.nn.functional name a node's function form calls (relu, max_pool2d, interpolate)."""
    if isinstance(node, L.Activation):
        return node.function
    if isinstance(node, L.Upsample):
        return "interpolate"
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(node).__name__).lower()  # MaxPool2d -> max_pool2d


@contextlib.contextmanager
def _original_function(name: str):
    """torch.nn.functional's own ``name`` in place of any replacement, for the duration; the functions it
    calls stay as they are (a bound F.interpolate still reaches a patched F.adaptive_avg_pool2d)."""
    current = getattr(F, name)
    setattr(F, name, _ORIGINAL_FUNCTIONS[name])
    try:
        yield
    finally:
        setattr(F, name, current)


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
        tensors = _Tensors(self._leaves, self.training)
        out = fold(self._nodes, x, tensors)
        # As torchvision's GoogLeNet: the deepest auxiliary head first.
        return (out, *reversed(tensors.aux)) if tensors.aux else out


class _Tensors(Fold):
    """A forward pass: tensors folded through the description's tree and the registered leaves."""

    def __init__(self, leaves: dict, training: bool):
        self.leaves, self.training, self.aux = leaves, training, []

    def leaf(self, node, x: torch.Tensor) -> torch.Tensor:
        """The leaf's module applied."""
        return self.leaves[node.name](x)

    def merge(self, node: L.Residual, body: torch.Tensor, shortcut: torch.Tensor) -> torch.Tensor:
        """The residual's op, in the form the description recorded (ptflops counts torch.add, not +)."""
        return apply(node.op, node.call, body, shortcut)

    def concat(self, node: L.Concat, branches: list) -> torch.Tensor:
        """Channels concatenated."""
        return torch.cat(branches, dim=1)

    def auxiliary(self, node: L.Auxiliary, x: torch.Tensor) -> None:
        """A training-only head: run (and its output returned beside the logits) in training mode only."""
        if self.training:
            self.aux.append(fold(node.nodes, x, self))


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
    if call in ("function", "torch", "method", "bound") and kind_for(node).torch_call is not None:
        return Call(node)
    module = _module(node, x)
    if call == "subclass":  # ptflops hooks exact types only: a subclass is counted differently
        module.__class__ = type(f"Sub{type(module).__name__}", (type(module),), {})
    return module


def _module(node, x: tuple) -> nn.Module:
    kind = kind_for(node)
    if kind.torch_module is None:
        raise TypeError(f"{node.name}: no torch module for {type(node).__name__}")
    return kind.torch_module(node, x)
