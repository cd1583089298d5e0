"""A traced dataflow graph as cnncost's layer tree: series-parallel decomposition.

The tree can say three things: one layer after another, a residual add of two
paths from a common point, and a channel concatenation of paths from a common
point. A graph says this exactly when it is series-parallel; then the common
point of every merge is its immediate dominator (the last node every path from
the input to the merge passes through). So the decomposition is:

  * dominators of the DAG, in one pass over the nodes in topological order;
  * ``chain(start, end)``: walk back from ``end`` along inputs until ``start``;
    a layer is emitted and the walk goes on from its input; a merge becomes a
    Residual or Concat whose branches are ``chain(fork, input)`` for each input,
    and the walk goes on from the fork.

Every node must be emitted once. One reached a second time feeds two branches
that do not rejoin where the tree would need them to: the graph is not
series-parallel, and those nodes are named in the error.
"""

from __future__ import annotations

from typing import Any

from cnncost import layers as L
from cnncost.errors import CnncostError

from .fx_ops import ADD, CAT, LEAF, PASS, SOURCE
from .fx_units import Conversion

FLOWING = (SOURCE, LEAF, PASS, ADD, CAT)  # units on the tensor path


def dominators(conversion: Conversion) -> dict:
    """Immediate dominator of every unit reachable from the input (the input maps to None)."""
    idom: dict = {conversion.source: None}
    depth: dict = {conversion.source: 0}
    for node, unit in conversion.units.items():  # graph order is topological
        if unit.kind not in FLOWING or node is conversion.source:
            continue
        if not unit.inputs or any(p not in idom for p in unit.inputs):
            continue  # not fed by the input (a constant): never on the path to the output
        common = unit.inputs[0]
        for p in unit.inputs[1:]:
            common = _meet(common, p, idom, depth)
        idom[node], depth[node] = common, depth[common] + 1
    return idom


def _meet(a: Any, b: Any, idom: dict, depth: dict) -> Any:
    """Nearest common dominator of two nodes."""
    while a is not b:
        if depth[a] >= depth[b]:
            a = idom[a]
        else:
            b = idom[b]
    return a


class _Decomposer:
    def __init__(self, conversion: Conversion, attached: dict | None = None):
        self.units = conversion.units
        self.attached = attached or {}  # node -> training-only heads fed by its tensor (L.Auxiliary)
        self.idom = dominators(conversion)
        self.emitted: set = set()
        self.repeated: list = []  # nodes reached twice: the graph is not series-parallel

    def chain(self, start: Any, end: Any) -> tuple:
        """Nodes that turn the tensor at ``start`` into the tensor at ``end``."""
        items: list = []
        node = end
        while node is not start:
            if node in self.emitted:
                self.repeated.append(node)
                break
            self.emitted.add(node)
            items.extend(reversed(self.attached.get(node, ())))  # they run right after this node
            unit = self.units[node]
            if unit.kind in (LEAF, PASS):
                if unit.kind == LEAF:
                    items.append(unit.layer)
                node = unit.inputs[0]
            else:  # ADD or CAT: the branches start where every path to the merge passes
                fork = self.idom[node]
                items.append(self._merge(unit, [self.chain(fork, p) for p in unit.inputs]))
                node = fork
        return tuple(reversed(items))

    @staticmethod
    def _merge(unit: Any, branches: list) -> Any:
        if unit.kind == CAT:
            return L.Concat(unit.name, tuple(branches))
        first, second = branches
        body, shortcut = (second, first) if not first else (first, second)  # an empty path is the identity
        return L.Residual(unit.name, body, shortcut, call=unit.call, op=unit.op)


def decompose(conversion: Conversion, attached: dict | None = None) -> tuple:
    """The layer tree computing the output from the input; non-series-parallel graphs raise.
    ``attached``: fx node -> auxiliary heads (``L.Auxiliary``) to place right after it."""
    decomposer = _Decomposer(conversion, attached)
    if conversion.sink not in decomposer.idom:
        raise CnncostError("its output does not depend on its input")
    tree = tuple((attached or {}).get(conversion.source, ())) + decomposer.chain(conversion.source, conversion.sink)
    if decomposer.repeated:
        names = ", ".join(dict.fromkeys(_label(conversion.units[n], n) for n in decomposer.repeated))
        raise CnncostError("its graph is not series-parallel, so it is not sequences, residual adds and "
                           f"concatenations: the output of {names} feeds branches that merge at different points")
    return tree


def _label(unit: Any, node: Any) -> str:
    if unit.kind == LEAF:
        return f"{unit.name} ({type(unit.layer).__name__})"
    return unit.name or node.name




def branch(conversion: Conversion, start: Any, end: Any) -> tuple:
    """The layers from ``start``'s tensor to ``end``'s (an auxiliary head), on their own."""
    decomposer = _Decomposer(conversion)
    items = decomposer.chain(start, end)
    if decomposer.repeated:
        raise CnncostError("an auxiliary head's graph is not series-parallel")
    return items
