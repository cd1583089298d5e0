"""The one traversal of a layer tree: what each composite node means, for every pass that walks one.

A description is a tree of leaves and composites (``layers.Sequential``, ``Residual``, ``Concat``,
``Auxiliary``). ``fold`` walks it forward from an input value, handing each leaf and each merge to a
``Fold`` — the engine folds shapes into cost rows, the summary folds shapes into display rows, the
zoo folds tensors through torch modules — so what a composite does lives here once: a residual
runs its body and shortcut from the same value and merges them, a concatenation runs every branch,
an auxiliary head runs beside the main path and leaves it unchanged. ``children`` lists the node
sequences inside a composite for passes that only visit nodes.
"""

from __future__ import annotations

from typing import Any

from . import layers as L


class Fold:
    """What a pass does at the leaves and merges; the tree's structure is ``fold``'s."""

    def leaf(self, node: Any, x: Any) -> Any:
        """The value after leaf ``node`` given ``x``."""
        raise NotImplementedError

    def merge(self, node: L.Residual, body: Any, shortcut: Any) -> Any:
        """``body op shortcut`` of a Residual (before its ``after`` nodes)."""
        raise NotImplementedError

    def concat(self, node: L.Concat, branches: list) -> Any:
        """The concatenation of the branches' values."""
        raise NotImplementedError

    def auxiliary(self, node: L.Auxiliary, x: Any) -> None:
        """A training-only head reading ``x``; by default it is walked and its value dropped."""
        fold(node.nodes, x, self)


def fold(nodes: tuple, x: Any, f: Fold) -> Any:
    """The value after ``nodes`` applied in order to ``x``."""
    for node in nodes:
        x = step(node, x, f)
    return x


def step(node: Any, x: Any, f: Fold) -> Any:
    """The value after one node, leaf or composite."""
    kind = type(node)
    if kind is L.Sequential:
        return fold(node.children, x, f)
    if kind is L.Residual:
        body = fold(node.body, x, f)
        shortcut = fold(node.shortcut, x, f)
        return fold(node.after, f.merge(node, body, shortcut), f)
    if kind is L.Concat:
        return f.concat(node, [fold(branch, x, f) for branch in node.branches])
    if kind is L.Auxiliary:
        f.auxiliary(node, x)
        return x
    return f.leaf(node, x)


COMPOSITES = (L.Sequential, L.Residual, L.Concat, L.Auxiliary)


def children(node: Any) -> tuple:
    """The node sequences inside a composite, in execution order (() for a leaf)."""
    kind = type(node)
    if kind is L.Sequential:
        return (node.children,)
    if kind is L.Residual:
        return (node.body, node.shortcut, node.after)
    if kind is L.Concat:
        return tuple(node.branches)
    if kind is L.Auxiliary:
        return (node.nodes,)
    return ()


def fold_back(nodes: tuple, need: Any, leaf: Any, join: Any, fresh: Any) -> Any:
    """The backward pass: what the input must satisfy so that the output satisfies ``need``.

    ``leaf(node, need)`` inverts one leaf, ``join(*needs)`` combines what several paths from one
    value need, and ``fresh`` is what a training-only head needs of its own output (anything)."""
    for node in reversed(nodes):
        kind = type(node)
        if kind is L.Sequential:
            need = fold_back(node.children, need, leaf, join, fresh)
        elif kind is L.Residual:
            after = fold_back(node.after, need, leaf, join, fresh)
            need = join(fold_back(node.body, after, leaf, join, fresh),
                        fold_back(node.shortcut, after, leaf, join, fresh))
        elif kind is L.Concat:
            need = join(*(fold_back(branch, need, leaf, join, fresh) for branch in node.branches))
        elif kind is L.Auxiliary:
            need = join(need, fold_back(node.nodes, fresh, leaf, join, fresh))
        else:
            need = leaf(node, need)
    return need
