"""The engine: walks an architecture's layer tree and tabulates each layer's costs.

The same walk serves both paths: with int hyperparameters it produces exact
numbers (and raises at the first layer whose output would be empty); with
sympy symbols it produces closed forms. A ``namer`` hook, used only on the
symbolic path, replaces each new spatial size by a named symbol (H1, P1, ...)
so formulas can be shown compactly.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

from . import layers as L
from .arith import is_number, maximum, product, total
from .errors import CnncostError
from .kinds import kind_for
from .kinds.arithmetic import PATCHED, broadcast, merge_ptflops
from .walk import Fold, fold, fold_back

STORED_QUANTITIES = ("params", "buffers")  # what an auxiliary head contributes
Namer = Callable[[str, tuple, tuple], tuple]  # (layer name, input shape, output shape) -> output shape


class LayerCost(NamedTuple):
    """One leaf layer's row: its shapes and quantities (see conventions.QUANTITIES)."""

    name: str
    type: str
    input_shape: tuple
    output_shape: tuple
    params: Any
    buffers: Any
    macs: Any
    mults: Any
    adds: Any
    activations: Any
    node: Any = None  # the leaf itself: the tool counts below are computed from it when asked for
    free: bool = False  # free on purpose (activation, dropout), not merely zero
    auxiliary: bool = False  # inside a training-only side head: params only, no inference cost

    def tool(self, tool: str) -> Any:
        """What ``tool`` ("fvcore", "ptflops"; see cnncost.tool_conventions) counts for this layer."""
        return getattr(kind_for(self.node), tool)(self.node, self.input_shape, self.output_shape)

    @property
    def fvcore(self) -> Any:
        """What fvcore's FlopCountAnalysis counts for this layer."""
        return self.tool("fvcore")

    @property
    def ptflops(self) -> Any:
        """What ptflops (pytorch backend) counts as MACs for this layer."""
        return self.tool("ptflops")


class MergeCost(NamedTuple):
    """A merge some tool counts (torch.add, Tensor.mul, ...): not a layer, so not a row."""

    name: str
    output_shape: tuple
    fvcore: Any
    ptflops: Any
    auxiliary: bool = False


class CostTable:
    """Everything the engine derives for one network: rows in execution order."""

    def __init__(self, network: L.Network):
        self.network = network
        self.layers: list = []  # LayerCost rows in execution order
        # Residual adds some tool counts; kept out of ``layers``, whose rows are the leaf
        # layers (summary, verify and the torch builder pair them with leaves one to one).
        self.merges: list = []  # MergeCost
        self.output_shape: tuple = ()
        # Symbolic only: (layer, size, other size) pairs that two branches need equal but that are
        # neither provably equal nor provably different; symbolic.derive decides them or refuses.
        self.assumed_equal: list = []

    def total(self, quantity: str) -> Any:
        """Sum of one per-layer quantity over all layers.

        Auxiliary (training-only) heads contribute parameters and buffers only:
        they do not run at inference.
        """
        stored = quantity in STORED_QUANTITIES
        terms = [getattr(row, quantity) for row in self.layers if stored or not row.auxiliary]
        if quantity in MergeCost._fields:
            terms += [getattr(m, quantity) for m in self.merges if not m.auxiliary]
        return total(terms)  # one pass: a running sum of expressions would be quadratic


def analyze(network: L.Network, namer: Namer | None = None) -> CostTable:
    """Walk ``network`` from its input shape and return its CostTable."""
    table = CostTable(network)
    table.output_shape = fold(network.layers, tuple(network.input_shape), _Costs(table, namer))
    return table


class _Costs(Fold):
    """Shapes folded through the tree, a cost row appended at each leaf (and each counted merge)."""

    def __init__(self, table: CostTable, namer: Namer | None):
        self.table, self.namer = table, namer

    def leaf(self, node: Any, x: tuple) -> tuple:
        """The leaf's output shape; its row appended."""
        kind = kind_for(node)
        y = kind.shape(node, x)
        _check_not_empty(node, x, y, self.table.network)
        # A Linear maps the last dim only: on a 3-D tensor that is a channels-last feature count
        # (ConvNeXt's 4C after a permute), never a spatial size, so it gets no size name.
        if self.namer is not None and len(y) == 3 and y[1:] != x[1:] and not kind.layout \
                and type(node) is not L.Linear:
            y = self.namer(node.name, x, y)
        c = kind.counts(node, x, y)
        self.table.layers.append(LayerCost(node.name, type(node).__name__, x, y, c.params, c.buffers,
                                           c.macs, c.mults, c.adds, product(y), node, kind.free))
        return y

    def merge(self, node: L.Residual, body: tuple, short: tuple) -> tuple:
        """The shape of ``body op shortcut``; a merge some tool counts gets a MergeCost."""
        if node.op == "add" and not _same_shape(node.name, body, short, self.table.assumed_equal):
            raise CnncostError(f"{node.name}: residual branches disagree: body gives {_fmt(body)}, "
                               f"shortcut gives {_fmt(short)}")
        if len(body) != len(short):
            raise CnncostError(f"{node.name}: cannot {node.op} a {_fmt(body)} tensor and a {_fmt(short)} one")
        y = body if node.op == "add" else broadcast(node.name, body, short)
        ptflops = merge_ptflops(node.op, node.call, body, short)  # checks the op and form (unknown ones raise)
        if (node.op, node.call) in PATCHED:  # fvcore counts no elementwise op (aten::add/mul/... have no handler)
            self.table.merges.append(MergeCost(node.name, y, 0, ptflops))
        return y

    def concat(self, node: L.Concat, outs: list) -> tuple:
        """Channels add up; the spatial sizes must agree."""
        for out in outs[1:]:
            if not _same_shape(node.name, out[1:], outs[0][1:], self.table.assumed_equal):
                raise CnncostError(f"{node.name}: concatenated branches have different sizes "
                                   f"{_fmt(outs[0])} and {_fmt(out)}")
        return (sum(out[0] for out in outs),) + tuple(outs[0][1:])

    def auxiliary(self, node: L.Auxiliary, x: tuple) -> None:
        """A training-only head's rows, marked: they count parameters only. A side output's rows
        are ordinary rows: it runs at inference."""
        if not node.training_only:
            fold(node.nodes, x, self)
            return
        table = self.table
        start, merged = len(table.layers), len(table.merges)
        fold(node.nodes, x, self)
        table.layers[start:] = [row._replace(auxiliary=True) for row in table.layers[start:]]
        table.merges[merged:] = [m._replace(auxiliary=True) for m in table.merges[merged:]]


def _same_shape(name: str, a: tuple, b: tuple, assumed: list) -> bool:
    """Whether two branches' shapes are equal. Symbolic sizes that are neither provably equal nor
    provably different (YOLOv3's 2·⌈H/32⌉ against ⌈H/16⌉: equal for some H only) are recorded in
    ``assumed``; a closed form that held only for some sizes must not be printed as general."""
    if len(a) != len(b):
        return False
    for u, v in zip(a, b):
        if is_number(u) and is_number(v):
            if u != v:
                return False
            continue
        difference = u - v
        if difference == 0 or getattr(difference, "is_zero", None) is True:
            continue
        if getattr(difference, "is_zero", None) is False:
            return False
        assumed.append((name, u, v))
    return True


def _check_not_empty(node: Any, x: tuple, y: tuple, network: L.Network) -> None:
    """Numeric path: stop at the first layer whose output would be empty."""
    for d in y:
        if type(d) is not int:
            return  # symbolic: validity is reported as conditions instead
    if min(y, default=1) >= 1:
        return
    hint = ""
    if len(network.input_shape) == 3:
        hmin, wmin = min_input_size(network)
        if is_number(hmin) and is_number(wmin):
            hint = f"; this network needs an input of at least {hmin}×{wmin}"
    raise CnncostError(f"{node.name} ({type(node).__name__}): its {_fmt(x[1:])} input is too small "
                       f"for it (the output would be empty){hint}")


def min_input_size(network: L.Network) -> tuple:
    """Smallest (H, W) for which every layer's output is non-empty."""
    return fold_back(network.layers, (1, 1), _need, _elementwise_max, (1, 1))


def _need(node: Any, need: tuple) -> tuple:
    kind = kind_for(node)
    return kind.min_input(node, need) if kind.min_input else need


def _elementwise_max(*needs: tuple) -> tuple:
    return (maximum(*(n[0] for n in needs)), maximum(*(n[1] for n in needs)))


def _fmt(shape: tuple) -> str:
    return "×".join(str(d) for d in shape)
