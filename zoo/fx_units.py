"""Every node of a traced graph as a ``fx_ops.Unit``, with names, and the problems found.

Names: a module's node is named by its module path (``layer1.0.conv1``), so the
converted network's state_dict keys are the user's. Parameter-free calls (F.relu,
the adds, a ReLU module called a second time) get generated names in the scope of
the module whose forward made them (``layer1.0.add``), never colliding with a module
path. A module with parameters or buffers called more than once shares its weights,
which the description cannot express (each call would count them again): a problem.
"""

from __future__ import annotations

import operator
import os
import re
from collections import Counter
from typing import Any, NamedTuple, cast

import torch
from torch import fx, nn

from . import fx_ops as ops
from . import fx_shapes as shapes
from cnncost.kinds.arithmetic import Scale

from .fx_ops import (ADD, BAD, CAT, GROUPED, LEAF, PARAM, PASS, SHAPE, SOURCE, TENSOR_KINDS, TUPLE, Unit,
                     Unsupported)


class Conversion(NamedTuple):
    """The units of a graph and what stands in the way of counting it."""

    units: dict  # fx node -> Unit
    source: Any  # the input placeholder
    sink: Any  # the fx node whose tensor forward returns
    expected: dict  # leaf name -> input channels/features its module was built for
    problems: list  # one readable string per category
    outputs: tuple = ()  # every tensor forward returns (the sink first); more than one only in a tuple


class Namer:
    """Unique names: module paths as they are, generated names that collide with nothing."""

    def __init__(self, root: nn.Module):
        self.taken = {name for name, _ in root.named_modules()}
        self.reserved = set(dir(nn.Module))  # the zoo registers leaves as attributes of containers

    def fresh(self, scope: str, stem: str) -> str:
        """``scope.stem``, or ``scope.stem_1``, ``_2``, ... when taken."""
        base = f"{scope}.{stem}" if scope else stem
        candidate, i = base, 0
        while candidate in self.taken or candidate.rsplit(".", 1)[-1] in self.reserved:
            i += 1
            candidate = f"{base}_{i}"
        self.taken.add(candidate)
        return candidate


class _State:
    def __init__(self, root: nn.Module):
        self.root = root
        self.namer = Namer(root)
        self.units: dict = {}
        self.expected: dict = {}
        self.calls: Counter = Counter()
        self.held_uses: Counter = Counter()  # parameter/buffer path -> arithmetic that reads it
        self.cat_lists: dict = {}  # concatenation node -> the tensors it concatenates, as written
        self.named_leaves: set = set()  # leaves named after the module holding their parameters
        self.unsupported: dict = {}  # construct -> "where (file:line)" of its first use
        self.other: list = []  # problems of other kinds, as sentences
        self.source: fx.Node | None = None
        self.sink: Any = None
        self.outputs: tuple = ()


def convert(graph: fx.Graph, root: nn.Module) -> Conversion:
    """Units for every node of ``graph`` (traced from ``root``), in graph order."""
    state = _State(root)
    for node in graph.nodes:
        HANDLERS[node.op](state, node)
    return Conversion(state.units, state.source, state.sink, state.expected, _problems(state), state.outputs)


def _problems(state: _State) -> list:
    problems = []
    if state.unsupported:
        problems.append(listing("no counting rule for ",
                                [f"{what} at {where}" for what, where in state.unsupported.items()]))
    shared = [f"{target} ({type(state.root.get_submodule(target)).__name__}, {n} calls)"
              for target, n in state.calls.items() if n > 1 and _has_state(state.root.get_submodule(target))]
    shared += [f"{path} ({n} uses)" for path, n in state.held_uses.items() if n > 1 and _learned(state.root, path)]
    if shared:
        problems.append(listing("weights shared by several calls (each call would count them again): ", shared))
    return problems + state.other


LISTING_LIMIT = 240  # characters of one problem; the whole refusal line stays under 300


def listing(lead: str, items: list, limit: int = LISTING_LIMIT) -> str:
    """``lead`` and the items, as many as fit in ``limit`` characters, then "and N more"."""
    text = lead + items[0]
    for i, item in enumerate(items[1:], 1):
        rest = len(items) - i - 1
        tail = f" and {rest} more" if rest else ""
        if len(text) + 2 + len(item) + len(tail) > limit:
            return f"{text} and {len(items) - i} more"
        text += ", " + item
    return text


def _unsupported(state: _State, what: str, where: str, node: fx.Node) -> None:
    """Note a construct with no rule, once: where it is first used, and on which source line."""
    if what not in state.unsupported:
        line = _source_line(node)
        state.unsupported[what] = f"{where} ({line})" if line else where


_TORCH = os.path.dirname(os.path.dirname(fx.__file__))
_ZOO = os.path.dirname(os.path.abspath(__file__)) + os.sep  # the importer's own tracer frames


def _source_line(node: fx.Node) -> str:
    """``file.py:42`` of the innermost user frame that made this node (fx's recorded stack), or ""."""
    frames = [f for f in re.findall(r'File "([^"]+)", line (\d+)', node.stack_trace or "")
              if not f[0].startswith(_TORCH) and not f[0].startswith(_ZOO)]
    return f"{os.path.basename(frames[-1][0])}:{frames[-1][1]}" if frames else ""


def _learned(root: nn.Module, path: str) -> bool:
    value = _attribute(root, path)
    return any(value is p for p in root.parameters())


def _has_state(module: nn.Module) -> bool:
    return any(True for _ in module.parameters()) or any(True for _ in module.buffers())


def _scope(node: fx.Node) -> str:
    """Path of the module whose forward made this call ("" for the root's own forward)."""
    stack = node.meta.get("nn_module_stack") or {}
    return list(stack.values())[-1][0] if stack else ""


def _stem(node: fx.Node) -> str:
    return re.sub(r"_\d+$", "", node.name)


def _bad(state: _State, node: fx.Node, what: str, listed: bool = True) -> None:
    if listed:
        _unsupported(state, what, _scope(node) or "forward", node)
    state.units[node] = Unit(BAD, _tensor_inputs(state, node.args))


def _kind(state: _State, value: Any) -> str | None:
    unit = state.units.get(value) if isinstance(value, fx.Node) else None
    return unit.kind if unit else None


def _tensor_inputs(state: _State, args: Any) -> tuple:
    flat = args if isinstance(args, (tuple, list)) else (args,)
    found: list = []
    for a in flat:
        if isinstance(a, (tuple, list)):
            found += _tensor_inputs(state, a)
        elif _kind(state, a) in TENSOR_KINDS:
            found.append(a)
    return tuple(found)


# --- per node kind ---------------------------------------------------------------

def _placeholder(state: _State, node: fx.Node) -> None:
    if state.source is None:
        state.source = node
        state.units[node] = Unit(SOURCE)
    elif node.users:
        state.other.append(f"forward takes more than one input ({node.name}); one image tensor is supported")
        state.units[node] = Unit(BAD)


def _get_attr(state: _State, node: fx.Node) -> None:
    """A parameter or buffer read directly: an operand of the arithmetic that uses it (ConvNeXt's layer
    scale), refused by any other consumer."""
    target = cast(str, node.target)  # a get_attr node's target is the attribute's dotted path
    value = _attribute(state.root, target)
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        learned = any(value is p for p in state.root.parameters())
        state.units[node] = Unit(PARAM, dims=tuple(value.shape), learned=learned, name=target)
    else:
        _unsupported(state, f"a {type(value).__name__} attribute used directly", target, node)
        state.units[node] = Unit(BAD)


def _attribute(root: nn.Module, target: str) -> Any:
    value: Any = root
    for part in target.split("."):
        value = getattr(value, part)
    return value


def _output(state: _State, node: fx.Node) -> None:
    value: Any = node.args[0]
    if _kind(state, value) in TENSOR_KINDS:
        state.sink = value
        state.outputs = (value,)
    else:
        if _kind(state, value) == TUPLE:
            value = tuple(value.args) + tuple(value.kwargs.values())
        if isinstance(value, (tuple, list)) and value and all(_kind(state, v) in TENSOR_KINDS for v in value):
            state.outputs = tuple(value)  # training mode's (logits, aux, ...): see fx_import's auxiliary heads
        what = f"a {type(value).__name__}" if not isinstance(value, fx.Node) else "a size"
        state.other.append(f"forward returns {what}, not one tensor (one output is supported; auxiliary "
                           "outputs are not)")


def _call_module(state: _State, node: fx.Node) -> None:
    target = cast(str, node.target)  # a call_module node's target is the module's dotted path
    module = state.root.get_submodule(target)
    state.calls[target] += 1
    first = state.calls[target] == 1
    parent, _, last = target.rpartition(".")
    name = target if first else state.namer.fresh(parent, last)
    kind = ops.module_rule(module)
    if kind is None:
        _unsupported(state, type(module).__name__, target, node)
        state.units[node] = Unit(BAD, _tensor_inputs(state, node.args))
        return
    if ops.MODULES[kind] is None:
        state.units[node] = Unit(PASS, _tensor_inputs(state, node.args[:1]))
        return
    try:
        layer = ops.MODULES[kind](module, name)
    except Unsupported as why:
        _unsupported(state, str(why), target, node)
        state.units[node] = Unit(BAD, _tensor_inputs(state, node.args))
        return
    if len(node.args) > 1 or node.kwargs:  # deconv(x, output_size=...): the module's own numbers no longer hold
        _bad(state, node, f"{type(module).__name__} called with arguments besides its input")
        return
    if kind in ops.EXPECTED_INPUT:
        width = ops.EXPECTED_INPUT[kind]  # an attribute name, or a function of the module (None: unchecked)
        want = width(module) if callable(width) else getattr(module, width)
        if want is not None:
            state.expected[name] = want
    if "call" in layer._fields and type(module) is not kind:
        layer = layer._replace(call="subclass")  # ptflops hooks exact types only
    _leaf(state, node, layer)


def _leaf(state: _State, node: fx.Node, layer: Any) -> None:
    """A one-input layer: the first argument must be a tensor, no other argument may be one."""
    inputs = _tensor_inputs(state, node.args) + _tensor_inputs(state, tuple(node.kwargs.values()))
    if len(inputs) != 1 or inputs[0] is not node.args[0]:
        _bad(state, node, f"{ops.describe(node) if node.op != 'call_module' else node.target} "
                          "with more than one tensor argument")
        return
    state.units[node] = Unit(LEAF, inputs, layer, layer.name)


def _call(state: _State, node: fx.Node, rule: Any, sizes: bool = True) -> None:
    """A function or method with a leaf rule: its layer gets a generated name. With ``sizes``,
    sizes read from a tensor are resolved first (a reshape's rule reads them itself)."""
    name = state.namer.fresh(_scope(node), _stem(node))
    try:
        layer = rule(shapes.sizes_from_input(state, node) if sizes else node, name)
    except Unsupported as why:
        state.namer.taken.discard(name)
        _bad(state, node, str(why))
        return
    if "call" in layer._fields:
        try:
            layer = layer._replace(call=ops.call_form(node))
        except Unsupported as why:
            _bad(state, node, str(why))
            return
    _leaf(state, node, layer)


def _call_with_held(state: _State, node: fx.Node, held: list) -> None:
    """A function given the module's own parameters (``F.layer_norm(x, shape, self.weight, self.bias)`` in
    ConvNeXt's LayerNorm2d): one layer, named after the module that holds them, its parameters counted once."""
    convert, names = ops.HELD_ARGUMENTS[node.target]
    bound = ops.bind(node, names, {})
    paths = [state.units[a].name for a in held]
    owner = paths[0].rpartition(".")[0]
    if any(not state.units[a].learned for a in held) or any(p.rpartition(".")[0] != owner for p in paths):
        _bad(state, node, f"{ops.describe(node)} with tensors that are not one module's parameters")
        return
    for path in paths:
        state.held_uses[path] += 1
    name = owner if owner and owner not in state.named_leaves else state.namer.fresh(_scope(node), _stem(node))
    try:
        layer = convert(ops.Call(tuple(node.args), dict(node.kwargs)), name)
    except Unsupported as why:
        _bad(state, node, str(why))
        return
    for argument in bound.values():
        if _kind(state, argument) == PARAM and tuple(state.units[argument].dims) != tuple(
                getattr(layer, "normalized_shape", state.units[argument].dims)):
            _bad(state, node, f"{ops.describe(node)} with a parameter of another shape than it normalises")
            return
    state.named_leaves.add(name)
    if "call" in layer._fields:
        # The module's forward calls the function with its own weights: like a subclass, counted the same in
        # every tool, and rebuilt by the zoo as a module holding them.
        layer = layer._replace(call="subclass")
    _leaf(state, node, layer)


def _call_function(state: _State, node: fx.Node) -> None:
    target = node.target
    held = [a for a in tuple(node.args) + tuple(node.kwargs.values()) if _kind(state, a) == PARAM]
    if held and target in ops.HELD_ARGUMENTS:
        _call_with_held(state, node, held)
    elif target in ops.LEAF_FUNCTIONS:
        _call(state, node, ops.LEAF_FUNCTIONS[target])
    elif target in ops.ARITHMETIC_FUNCTIONS:
        _arithmetic(state, node, *ops.ARITHMETIC_FUNCTIONS[target])
    elif target in ops.SIZE_ARITHMETIC and all(_kind(state, a) in (SHAPE, None) for a in node.args):
        state.units[node] = shapes.size_arithmetic(state, node)
    elif target in (torch.transpose, torch.chunk):
        shapes.grouping(state, node)
    elif target in ops.CAT_FUNCTIONS:
        _cat(state, node)
    elif target in ops.RESHAPES:
        shapes.reshape(state, node, tuple(node.args[1:]) + tuple(node.kwargs.values()))
    elif isinstance(target, type) and issubclass(target, tuple) and hasattr(target, "_fields"):
        state.units[node] = Unit(TUPLE, _tensor_inputs(state, node.args))  # outputs as a namedtuple
    elif target is getattr:
        shapes.shape_attribute(state, node)
    elif target is operator.getitem:
        shapes.getitem(state, node)
    else:
        _bad(state, node, ops.describe(node))


def _call_method(state: _State, node: fx.Node) -> None:
    method = node.target
    if method in ops.LEAF_METHODS:
        _call(state, node, ops.LEAF_METHODS[method])
    elif method in ops.ARITHMETIC_METHODS:
        _arithmetic(state, node, *ops.ARITHMETIC_METHODS[method])
    elif method in ops.RESHAPE_METHODS:
        shapes.reshape(state, node, tuple(node.args[1:]))
    elif method == "size":
        dim = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim")
        dims = "all" if dim is None else shapes.dims_of(dim)
        state.units[node] = Unit(SHAPE, node.args[:1], batch=bool(dim == 0), dims=dims)
    elif method in ("transpose", "chunk") or (method in ops.PASS_METHODS and _kind(state, node.args[0]) == GROUPED):
        shapes.grouping(state, node)
    elif method in ops.PASS_METHODS:
        state.units[node] = Unit(PASS, _tensor_inputs(state, node.args[:1]))
    else:
        _bad(state, node, ops.describe(node))


def _arithmetic(state: _State, node: fx.Node, op: str, form: str) -> None:
    """``a op b``: a merge of two tensors, a ``Scale`` by a number or a held tensor, a no-op
    (``x + 0``, ``x * 1``), or arithmetic on sizes."""
    operands: list[Any] = list(node.args) + [node.kwargs.get("other")]
    a, b = operands[:2]
    kinds = (_kind(state, a), _kind(state, b))
    if SHAPE in kinds or all(k is None for k in kinds):
        state.units[node] = Unit(SHAPE)  # arithmetic on sizes
        return
    if node.kwargs.get("alpha", 1) != 1 or node.kwargs.get("rounding_mode") is not None:
        _bad(state, node, f"{ops.describe(node)} with alpha or rounding_mode")
        return
    if all(k in TENSOR_KINDS for k in kinds):
        state.units[node] = Unit(ADD, (a, b), name=state.namer.fresh(_scope(node), _stem(node)), call=form, op=op)
        return
    first = kinds[0] in TENSOR_KINDS
    tensor, other = (a, b) if first else (b, a)
    if _kind(state, tensor) not in TENSOR_KINDS:
        _bad(state, node, f"{ops.describe(node)} of {_what(state, a)} and {_what(state, b)}")
        return
    if _kind(state, other) == PARAM:
        _scale_by_parameter(state, node, tensor, other, op, form)
    elif type(other) in (int, float):
        if other == (0 if op in ("add", "sub") else 1) and (first or op in ("add", "mul")):
            state.units[node] = Unit(PASS, (tensor,))  # x + 0, x * 1: torch still runs it; no tool counts it
            return
        # c − x and c / x differ from x − c and x / c in value only: same shape, same counts.
        layer = Scale(state.namer.fresh(_scope(node), _stem(node)), op, None, value=float(other), call=form)
        state.units[node] = Unit(LEAF, (tensor,), layer, layer.name)
    else:
        _bad(state, node, f"{ops.describe(node)} with {_what(state, other)}")


def _scale_by_parameter(state: _State, node: fx.Node, tensor: fx.Node, held: fx.Node, op: str, form: str) -> None:
    unit = state.units[held]
    state.held_uses[unit.name] += 1
    name = unit.name if state.held_uses[unit.name] == 1 and unit.name not in state.namer.taken else \
        state.namer.fresh(_scope(node), _stem(node))
    state.namer.taken.add(name)
    layer = Scale(name, op, unit.dims, unit.learned, call=form)
    state.units[node] = Unit(LEAF, (tensor,), layer, layer.name)


def _what(state: _State, value: Any) -> str:
    kind = _kind(state, value)
    if kind == PARAM:
        return f"held tensor {state.units[value].name}"
    if kind in TENSOR_KINDS:
        return "a tensor"
    return f"a {type(value).__name__}"


def _cat(state: _State, node: fx.Node) -> None:
    tensors: Any = node.args[0] if node.args else node.kwargs.get("tensors", ())
    dim = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim", node.kwargs.get("axis", 0))
    inputs = _tensor_inputs(state, tensors)
    if dim != 1 or len(inputs) != len(tensors):
        _bad(state, node, f"{ops.describe(node)} along dim {dim}; only channels, dim 1, are supported")
        return
    if len(inputs) == 1:
        state.units[node] = Unit(PASS, inputs)  # torch.cat([x]) is x
        return
    state.cat_lists[node] = inputs
    state.units[node] = Unit(CAT, _reuse_concatenations(state, inputs),
                             name=state.namer.fresh(_scope(node), _stem(node)))


def _reuse_concatenations(state: _State, inputs: tuple) -> tuple:
    """``cat([x, a, b])`` after ``c = cat([x, a])`` is ``cat([c, b])``, and so on down the list.

    DenseNet's blocks concatenate the list of all earlier features again at every layer; as written the
    graph is not series-parallel, but the same values computed as nested concatenations are: each new
    concatenation extends the previous one. Concatenations are counted by no convention, so the counts
    are those of the module as written."""
    rest = inputs
    while len(rest) > 1:
        earlier = max((cat for cat, listed in state.cat_lists.items()
                       if len(listed) < len(rest) and rest[:len(listed)] == listed and cat is not None),
                      key=lambda cat: len(state.cat_lists[cat]), default=None)
        if earlier is None:
            break
        rest = (earlier,) + rest[len(state.cat_lists[earlier]):]
    return rest


HANDLERS = {"placeholder": _placeholder, "get_attr": _get_attr, "call_module": _call_module,
            "call_function": _call_function, "call_method": _call_method, "output": _output}
