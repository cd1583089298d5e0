"""What a layer kind is: one record holding everything cnncost knows about one leaf layer type.

A ``Kind`` gathers, in one place, what used to be spread over seven files: the node
(a NamedTuple in the family's file), its shape rule, its counts, its minimum input,
what fvcore and ptflops count for it (by call form), its architecture-file types,
its torch binding and how torch.fx code that computes it is recognised. Family files
(``conv.py``, ``pool.py``, ...) each export ``KINDS``; ``cnncost.kinds`` collects them.

Nothing here imports torch or sympy: ``cnncost count`` loads these records at start-up.
Torch objects are named by dotted path (``"torch.nn.Conv2d"``) and resolved by the zoo,
which imports torch anyway; the torch bindings import torch inside their functions.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

from ..errors import CnncostError

Shape = tuple
ToolRule = Callable[[Any, tuple, tuple], Any]  # (node, input shape, output shape) -> count


class Counts(NamedTuple):
    """Per-layer quantities (ints or sympy expressions); see conventions.QUANTITIES."""

    params: Any = 0
    buffers: Any = 0
    macs: Any = 0
    mults: Any = 0
    adds: Any = 0


REQUIRED = object()  # an architecture-file field without a default


class Field(NamedTuple):
    """One field of an architecture-file layer type."""

    kind: str  # expr, static, pair, padding, quad, bool, prob, eps, index, layers, branches
    default: Any = REQUIRED
    minimum: int = 1  # smallest value an expression may take (checked once values are known)


class ArchType(NamedTuple):
    """One ``type = "..."`` of architecture files, and how its table becomes a node."""

    name: str  # the type as written in a file: "conv"
    fields: dict  # field -> archfile.schema.Field (kind, default, minimum)
    make: Callable[[str, dict, int], Any]  # (layer name, evaluated fields, input rank) -> node
    base: str  # stem of generated names: conv1, conv2, ...
    # (node, input shape with unknown sizes) -> a shape of the output's rank: the builder tracks ranks
    # (a linear needs flat features, a batchnorm is 2-D or 1-D); by default the rank is kept.
    rank: Callable[[Any, tuple], tuple] = lambda node, x: x


class FxForms(NamedTuple):
    """How torch code computing this kind is recognised in a traced graph (``zoo.fx_ops``).

    Keys name torch objects by dotted path; converters return the kind's node or raise
    ``Unsupported`` naming what they cannot express.
    """

    # "torch.nn.Conv2d" -> (converter(module, name), its input width: an attribute name, a function of the
    # module returning the width or None, or None; checked against the engine's shape walk)
    modules: dict = {}
    functions: dict = {}  # "torch.nn.functional.relu" -> converter(call, name)
    methods: dict = {}  # Tensor method name -> converter(call, name)
    # Function arguments that may be the pooled tensor's own size (x.shape[2:]): dotted -> {argument: position}
    windows: dict = {}
    importer: str = ""  # recognised by the importer itself (which function), not through these tables


class Kind(NamedTuple):
    """Everything about one leaf layer type."""

    node: type  # the layer's NamedTuple
    shape: Callable[[Any, Shape], Shape]  # (node, input shape) -> output shape
    counts: Callable[[Any, Shape, Shape], Counts]  # (node, input, output) -> quantities
    fvcore: ToolRule  # what fvcore's FlopCountAnalysis counts (cnncost.tool_conventions)
    ptflops: ToolRule  # what ptflops (pytorch backend) counts as MACs
    # (node, needed output (h, w)) -> needed input (h, w); None: size-preserving
    min_input: Callable[[Any, tuple], tuple] | None = None
    free: bool = False  # True: deliberately costs nothing (activations, dropout)
    layout: bool = False  # True: only reorders dims (a permute), so no size of its output is new
    # node -> whether it holds parameters or running statistics (what a fine-tuning strategy trains or freezes)
    stateful: Callable[[Any], bool] = lambda node: False
    archfile: tuple = ()  # ArchType records
    torch_module: Callable | None = None  # (node, input shape) -> nn.Module (imports torch itself)
    torch_call: Callable | None = None  # (node, tensor) -> tensor: the layer written as a call
    fx: FxForms = FxForms()
    # (node, saving.Site) -> saving.Effect: what it saves for backward in a training step; None: not modelled
    step: Callable | None = None
    # (node, input shape) -> State: its parameter tensors and buffer bytes (optimizer state, resident memory)
    state: Callable[[Any, tuple], "State"] = lambda node, x: State()


class State(NamedTuple):
    """What a layer holds between steps, beyond its parameter count (``Counts.params``)."""

    tensors: int = 0  # parameter tensors (a conv with bias: 2): Adam keeps one step counter per tensor
    buffer_bytes: Any = 0  # bytes of its buffers as torch holds them (running statistics, counters)


def weight_and_bias(node: Any, x: tuple) -> State:
    """``State`` of a layer with a weight and an optional bias (a convolution, a Linear)."""
    return State(2 if node.bias else 1)


class Unsupported(Exception):
    """A construct cnncost has no rule for; the message says what it is."""


def pair(value: Any) -> tuple:
    """Return ``value`` as an (h, w) pair, the way torch's ``_pair`` does."""
    if isinstance(value, tuple):
        return value
    return (value, value)


def collapse_pair(value: Any) -> Any:
    """(3, 3) -> 3: equal pairs read better in formulas; unequal pairs stay pairs."""
    if isinstance(value, (tuple, list)):
        value = tuple(value)
        return value[0] if len(value) == 2 and value[0] == value[1] else value
    return value


def bind(call: Any, names: tuple, defaults: dict) -> dict:
    """A call's arguments by parameter name (positional first, then keywords); ``call`` has
    ``args`` and ``kwargs`` (an fx node, or ``zoo.fx_ops.Call``)."""
    values = dict(defaults)
    values.update(zip(names, call.args))
    values.update(call.kwargs)
    return values


def spatial(node: Any, x: Shape) -> Shape:
    """``x``, which must be C×H×W."""
    if len(x) != 3:
        raise CnncostError(f"{node.name}: expects a C×H×W input, got {len(x)} dimension(s)")
    return x


def accumulate(macs: Any, outputs: Any, bias: bool) -> Counts:
    """mults = macs; adds = (terms − 1) per output, plus one per output for a bias."""
    adds = macs - outputs + (outputs if bias else 0)
    return Counts(macs=macs, mults=macs, adds=adds)


_CALL_MODULES: dict = {}  # class name -> the torch class, made on first use: cnncost imports without torch


def call_module(class_name: str, call: Callable[[Any, Any], Any], doc: str) -> Callable[[Any, tuple], Any]:
    """A ``Kind.torch_module`` for a layer that torch writes as a call, not a module (``x.mean((2, 3))``,
    ShuffleNetV2's view/transpose idiom): a module of class ``class_name`` whose forward is
    ``call(node, x)``. Not one of ptflops' hooked types, so it counts what the call counts."""

    def build(node: Any, x: tuple) -> Any:
        if class_name not in _CALL_MODULES:
            from torch import nn

            def __init__(self, node: Any) -> None:
                nn.Module.__init__(self)
                self.node = node

            def forward(self, x: Any) -> Any:
                return call(self.node, x)

            _CALL_MODULES[class_name] = type(class_name, (nn.Module,), {"__init__": __init__, "forward": forward,
                                                                         "__doc__": doc})
        return _CALL_MODULES[class_name](node)

    return build


def always(node: Any) -> bool:
    """``Kind.stateful`` of a kind that always holds parameters (a convolution, a Linear)."""
    return True


def same_shape(node: Any, x: Shape) -> Shape:
    """Elementwise layers keep their input shape."""
    return x


def no_counts(node: Any, x: Shape, y: Shape) -> Counts:
    """No parameters and no arithmetic in these conventions."""
    return Counts()
