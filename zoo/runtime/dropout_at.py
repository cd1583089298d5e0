"""``--dropout P --dropout-at LAYERS``: dropout placed before named layers of any network.

Report 004 puts dropout inside ResNet-18 (before its first convolution and its classifier), which
torchvision's network does not have. The layers are added to the network's *description*, so the
engine counts them (free at inference, a saved mask in training: ``cnncost memory`` and the run's
memory check include it), and the module built from it has them: ``NAME_dropout`` beside ``NAME``,
holding no parameters, so every checkpoint key stays where it was.
"""

from __future__ import annotations

from typing import Any

from cnncost import layers as L
from cnncost.arch import ParameterError
from cnncost.kinds.elementwise import Dropout

SUFFIX = "_dropout"


def parse_layers(text: str | None) -> tuple:
    """'conv1, fc' as ('conv1', 'fc'); None or '' as ()."""
    if not text:
        return ()
    names = tuple(name.strip() for name in text.split(","))
    if any(not name for name in names) or len(set(names)) != len(names):
        raise ParameterError("dropout_at", f"{text!r} is not a comma-separated list of distinct layer names")
    return names


def insert_dropout(network: L.Network, names: tuple, rate: float) -> L.Network:
    """``network`` with a Dropout(``rate``) node before each leaf named in ``names``; an unknown name is a
    one-line error listing the network's leaves."""
    missing = set(names)
    layers = _rewrite(network.layers, set(names), rate, missing)
    if missing:
        leaves = [leaf.name for leaf in L.leaves(network.layers)]
        shown = ", ".join(leaves[:12]) + (f", ... ({len(leaves)} layers)" if len(leaves) > 12 else "")
        raise ParameterError("dropout_at", f"{sorted(missing)[0]!r} is not a layer of this network ({shown})")
    return network._replace(layers=layers)


def _rewrite(nodes: tuple, names: set, rate: float, missing: set) -> tuple:
    """``nodes`` with the dropout inserted, composites rebuilt around their rewritten children."""
    result = []
    for node in nodes:
        kind = type(node)
        if kind is L.Sequential:
            node = node._replace(children=_rewrite(node.children, names, rate, missing))
        elif kind is L.Residual:
            node = node._replace(body=_rewrite(node.body, names, rate, missing),
                                 shortcut=_rewrite(node.shortcut, names, rate, missing),
                                 after=_rewrite(node.after, names, rate, missing))
        elif kind is L.Concat:
            node = node._replace(branches=tuple(_rewrite(b, names, rate, missing) for b in node.branches))
        elif kind is L.Auxiliary:
            node = node._replace(nodes=_rewrite(node.nodes, names, rate, missing))
        elif _name(node) in names:
            result.append(Dropout(_name(node) + SUFFIX, rate))
            missing.discard(_name(node))
        result.append(node)
    return tuple(result)


def _name(node: Any) -> str:
    return getattr(node, "name", "")
