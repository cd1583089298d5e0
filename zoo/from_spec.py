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
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cnncost import engine
from cnncost import layers as L
from cnncost.kinds import kind_for
from cnncost.kinds.arithmetic import apply
from cnncost.kinds.elementwise import FUNCTIONS

from .fx_ops import resolve

# Every activation's torch module, by function name (the visualisations' guided backprop needs them all).
ACTIVATIONS = {function: resolve(spec.module) for function, spec in FUNCTIONS.items()}


class Container(nn.Module):
    """The module at a path segment between the root and its layers (``layer1``, ``layer1.0``,
    ``features``): it runs the layers under it, so the usual surgery works — ``model.layer1(x)``,
    ``nn.Sequential(*list(model.children())[:-2])``, ``model.layer4[-1]``, replacing ``model.fc``.

    Its plan is set by the parent that found its layers as one contiguous run of the description;
    a path whose layers are spread over several places (a residual's body and shortcut alike) has
    no forward of its own and says so.
    """

    _plan: tuple | None  # kept in __dict__, outside nn.Module's registries

    def __init__(self, path: str):
        super().__init__()
        self.path = path
        self.__dict__["_plan"] = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The layers under this path, in the description's order."""
        if self._plan is None:
            raise RuntimeError(f"{self.path}: its layers are not one contiguous run of the network "
                               "(they lie in several branches), so it cannot be called on its own")
        return _run(self, self._plan, x)

    def _load_from_state_dict(self, state_dict, prefix, *args):
        _load_with_held_tensors(self, super(), state_dict, prefix, *args)

    def __getitem__(self, index):
        """Children by position, as nn.Sequential (``model.layer4[-1]``, ``model.features[:7]`` as a list)."""
        items = list(self._modules.values())
        return items[index]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


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
        torch_call = kind_for(node).torch_call
        assert torch_call is not None  # a Call holds only layers whose kind has a call form
        if node.call == "bound":  # taken before ptflops patched it: call the original, as the user's code did
            with _original_function(_function_name(node)):
                return torch_call(node._replace(call="function"), x)
        return torch_call(node, x)


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
    """A network whose forward pass follows its cnncost description, through a module tree in
    which every container runs the layers under it (see ``Container``)."""

    # kept in __dict__, outside nn.Module's registries
    _plan: tuple
    _leaf_names: tuple

    def __init__(self, network: L.Network):
        super().__init__()
        table = engine.analyze(network)
        self.network_name = network.name
        self.input_shape = tuple(network.input_shape)
        self._nodes = network.layers  # plain data, not registered
        nodes = {leaf.name: leaf for leaf in L.leaves(network.layers)}
        for row in table.layers:
            _register(self, row.name, _leaf(nodes[row.name], row.input_shape))
        self.__dict__["_leaf_names"] = tuple(row.name for row in table.layers)
        self.__dict__["_plan"] = _Planner(self, nodes).plan(self, "", network.layers)

    def _load_from_state_dict(self, state_dict, prefix, *args):
        _load_with_held_tensors(self, super(), state_dict, prefix, *args)

    @property
    def _leaves(self) -> dict:
        """Leaf name -> the module now at that path (a replaced ``model.fc`` included)."""
        return {name: self.get_submodule(name) for name in self._leaf_names}

    def forward(self, x: torch.Tensor):
        """Logits (with side outputs: every output, in execution order); in training mode with
        auxiliary heads, (logits, deepest aux, ..., first aux)."""
        _AUX.append([])
        _SIDES.append([])
        try:
            out: torch.Tensor | tuple = _run(self, self._plan, x)
        finally:
            aux, sides = _AUX.pop(), _SIDES.pop()
        if sides:  # every output in execution order (YOLOv3: the 13×13, 26×26, then 52×52 scale)
            out = (*sides, out)
        # As torchvision's GoogLeNet: the deepest auxiliary head first.
        return (out, *reversed(aux)) if aux and self.training else out


def _load_with_held_tensors(module: nn.Module, parent, state_dict, prefix, local_metadata, strict, missing_keys,
                            unexpected_keys, error_msgs) -> None:
    """torch's loading for ``module``, plus the tensors its children hold under their own path (a
    held ``Scale`` is saved as ``<path>``, as the attribute it is in the user's module, not as
    ``<path>.weight``): loaded here, where torch hands out that key."""
    parent._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                 error_msgs)
    child: Any  # torch types a child as Module | None; a held one keeps its tensor as .weight
    for name, child in module._modules.items():
        if not _holds_own_key(child):
            continue
        key = prefix + name
        if key in unexpected_keys:
            unexpected_keys.remove(key)
        if key not in state_dict:
            missing_keys.append(key)
        elif tuple(state_dict[key].shape) != tuple(child.weight.shape):
            error_msgs.append(f"size mismatch for {key}: copying a param with shape {tuple(state_dict[key].shape)} "
                              f"from checkpoint, the shape in current model is {tuple(child.weight.shape)}.")
        else:
            with torch.no_grad():
                child.weight.copy_(state_dict[key])


def _holds_own_key(module) -> bool:
    node = getattr(module, "node", None)
    return isinstance(node, L.Scale) and node.operand is not None


# The auxiliary outputs of the forward passes under way, innermost last: an auxiliary head deep in
# the tree hands its output to the root's forward, which returns it beside the logits.
_AUX: list = []
_SIDES: list = []  # likewise for side outputs


class _Planner:
    """Turns a description's node sequences into plans: steps over a module's children."""

    def __init__(self, root: nn.Module, nodes: dict):
        self.root = root
        self.under: dict = {}  # path -> names of every leaf at or below it
        for name in nodes:
            parts = name.split(".")
            for i in range(1, len(parts) + 1):
                self.under.setdefault(".".join(parts[:i]), set()).add(name)

    def plan(self, owner: nn.Module, path: str, nodes: tuple) -> tuple:
        """The steps that run ``nodes`` (all at or below ``path``) from ``owner``, the module at ``path``."""
        steps, i = [], 0
        while i < len(nodes):
            node = nodes[i]
            child = self._child(path, node)
            if child is not None and type(node) is not L.Auxiliary:
                j, covered = i, set()
                while j < len(nodes) and self._child(path, nodes[j]) == child and type(nodes[j]) is not L.Auxiliary:
                    covered |= _leaf_names(nodes[j])
                    j += 1
                full = _join(path, child)
                module = owner.get_submodule(child)
                # The child's whole content in one run; a layer's own module stands only for that
                # layer, never for a composite around it (a residual whose body is one pool).
                whole = covered == self.under.get(full, set())
                if whole and isinstance(module, Container):
                    module.__dict__["_plan"] = self.plan(module, full, nodes[i:j])
                if whole and (isinstance(module, Container) or (j == i + 1 and node.name == full)):
                    steps.append(("child", child))
                    i = j
                    continue
            steps.append(self._inline(owner, path, node))
            i += 1
        return tuple(steps)

    def _child(self, path: str, node) -> str | None:
        """The child segment of ``path`` that holds every leaf of ``node``, or None."""
        names = _leaf_names(node)
        if not names:
            return None
        segments = {_segment(path, name) for name in names}
        return segments.pop() if len(segments) == 1 and None not in segments else None

    def _inline(self, owner: nn.Module, path: str, node) -> tuple:
        """A step that runs ``node`` from ``owner`` itself: its structure, its leaves by path."""
        kind = type(node)
        if kind is L.Sequential:
            return ("seq", self.plan(owner, path, node.children))
        if kind is L.Residual:
            return ("merge", node, self.plan(owner, path, node.body), self.plan(owner, path, node.shortcut),
                    self.plan(owner, path, node.after))
        if kind is L.Concat:
            return ("concat", node, tuple(self.plan(owner, path, branch) for branch in node.branches))
        if kind is L.Auxiliary:
            return ("aux" if node.training_only else "side", self.plan(owner, path, node.nodes))
        return ("leaf", node.name[len(path) + 1:] if path else node.name)


def _leaf_names(node) -> set:
    return {leaf.name for leaf in L.leaves((node,))}


def _segment(path: str, name: str) -> str | None:
    """The first segment of ``name`` below ``path`` (None when ``name`` is not below it)."""
    if path and not name.startswith(path + "."):
        return None
    return name[len(path) + 1:].split(".")[0] if path else name.split(".")[0]


def _join(path: str, segment: str) -> str:
    return f"{path}.{segment}" if path else segment


def _run(owner: nn.Module, plan: tuple, x: torch.Tensor) -> torch.Tensor:
    """Run a plan's steps from ``owner``; children are looked up at each call, so a replaced one is used."""
    for step in plan:
        kind = step[0]
        if kind == "child":
            x = getattr(owner, step[1])(x)
        elif kind == "leaf":
            x = owner.get_submodule(step[1])(x)
        elif kind == "seq":
            x = _run(owner, step[1], x)
        elif kind == "merge":
            node, body, shortcut, after = step[1:]
            # The residual's op, in the form the description recorded (ptflops counts torch.add, not +).
            x = _run(owner, after, apply(node.op, node.call, _run(owner, body, x), _run(owner, shortcut, x)))
        elif kind == "concat":
            x = torch.cat([_run(owner, branch, x) for branch in step[2]], dim=1)
        elif kind == "aux" and owner.training:  # a training-only head: its output goes beside the logits
            out = _run(owner, step[1], x)
            if _AUX:
                _AUX[-1].append(out)
        elif kind == "side":  # a side output (a detection scale): always run, returned before the main one
            out = _run(owner, step[1], x)
            if _SIDES:
                _SIDES[-1].append(out)
    return x


def to_module(network: L.Network) -> SpecModule:
    """The torch module of ``network`` (validated by the engine's walk first)."""
    return SpecModule(network)


def _register(root: nn.Module, path: str, module: nn.Module) -> nn.Module:
    """Attach ``module`` at dotted ``path`` under ``root``, creating containers on the way."""
    *parents, last = path.split(".")
    owner = root
    for i, part in enumerate(parents):
        if not hasattr(owner, part):
            owner.add_module(part, Container(".".join(parents[:i + 1])))
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
