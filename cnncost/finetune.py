"""Which layers train under a fine-tuning strategy, decided on the architecture description.

A strategy is data (``Strategy``); which leaves it trains is a pure function of
the layer tree, so the engine can count the trainable parameters — as a number
or as a closed form — and ``cnncost train`` checks the torch model against
that count (a mismatch is a bug, never a warning).

Blocks, in execution order:

* a ``Residual`` or a ``Concat`` (a ResNet/MobileNet block, an inception block);
* a ``Sequential`` holding neither (GoogLeNet's/Inception's BasicConv2d,
  MobileNet's conv-BN-ReLU6 units);
* a bare ``Conv2d`` together with the BatchNorm layers that follow it before
  the next block (VGG's, AlexNet's and scratch5's conv layers).

Sequentials holding residual or concat blocks (ResNet's ``layer1``) are walked
into. Parametrised layers after the last block form the *head* (VGG's whole
classifier, ResNet's ``fc``); the *classifier* is the head's last Linear layer,
the one replaced for the dataset's classes. Auxiliary heads are training aids
outside every strategy.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from . import layers as L
from .kinds import kind_for
from .arith import total
from .arch import ParameterError
from .errors import CnncostError

STRATEGIES = ("scratch", "last-layer", "head", "partial:K", "full")


class Strategy(NamedTuple):
    """A training strategy: ``kind`` is scratch, last-layer, partial or full."""

    kind: str
    blocks: int = 0  # K of partial:K: how many of the last blocks train (with the head)

    @property
    def pretrained(self) -> bool:
        """Whether the strategy starts from pretrained weights (all but scratch)."""
        return self.kind != "scratch"

    def __str__(self) -> str:
        return f"partial:{self.blocks}" if self.kind == "partial" else self.kind


class Block(NamedTuple):
    """A unit a partial strategy unfreezes: its name and its parametrised leaves."""

    name: str
    leaves: tuple


def parse_strategy(text: str) -> Strategy:
    """``scratch``, ``last-layer``, ``head``, ``partial:K`` (K ≥ 1) or ``full``; anything else is a one-line error."""
    text = text.strip()
    if text in ("scratch", "last-layer", "head", "full"):
        return Strategy(text)
    kind, _, count = text.partition(":")
    if kind == "partial" and count.strip().isdigit() and int(count) >= 1:
        return Strategy("partial", int(count))
    raise ParameterError("strategy", f"{text!r} is not a strategy; choose one of {', '.join(STRATEGIES)} "
                                     "(K an integer ≥ 1)")


def blocks(network: L.Network) -> list:
    """The network's blocks in execution order (see the module docstring)."""
    found: list = []
    _collect(network.layers, found)
    return [Block(name, tuple(leaves)) for name, leaves in found if leaves]


def _collect(nodes: tuple, found: list) -> None:
    """Append [name, leaves] pairs; a BatchNorm joins the conv block before it."""
    for node in nodes:
        if isinstance(node, (L.Residual, L.Concat)) or (isinstance(node, L.Sequential) and not _has_blocks(node)):
            found.append([node.name, _parametrised(node)])
        elif isinstance(node, L.Sequential):
            _collect(node.children, found)
        elif isinstance(node, L.Conv2d):
            found.append([node.name, [node.name]])
        elif isinstance(node, L.BatchNorm2d) and found:
            found[-1][1].append(node.name)


def _has_blocks(node) -> bool:
    """Whether a Sequential holds a residual or concat block anywhere inside."""
    return any(isinstance(child, (L.Residual, L.Concat))
               or (isinstance(child, L.Sequential) and _has_blocks(child)) for child in node.children)




def _leaves(node) -> list:
    """Leaf nodes under ``node`` in execution order; auxiliary heads left out."""
    return L.leaves((node,), auxiliary=False)


def _parametrised(node) -> list:
    """Names of the parametrised leaves under ``node`` (auxiliary heads excluded)."""
    return [leaf.name for leaf in _leaves(node) if kind_for(leaf).stateful(leaf)]


def head(network: L.Network) -> tuple:
    """Parametrised layers after the last block, in order (the whole classifier of a VGG)."""
    inside = {name for block in blocks(network) for name in block.leaves}
    everything = [name for node in network.layers for name in _parametrised(node)]
    last_block = max((everything.index(name) for name in inside), default=-1)
    return tuple(name for name in everything[last_block + 1:] if name not in inside)


def classifier(network: L.Network) -> str:
    """The final Linear layer — or final 1×1-style Conv2d where the network classifies with a
    convolution (SqueezeNet, Keras' MobileNet) — the one a fine-tuning run replaces for its classes."""
    layers = [leaf.name for node in network.layers for leaf in _leaves(node) if isinstance(leaf, (L.Linear, L.Conv2d))]
    if not layers:
        raise CnncostError(f"{network.name}: no Linear or Conv2d classifier layer to replace")
    return layers[-1]


def top_layers(network: L.Network) -> tuple:
    """The parametrised layers of the network's classifier top (``Network.top`` onwards): the
    ``head`` strategy's, whether the top is the network's own or a new one (``--head``)."""
    names = [node.name for node in network.layers]
    if network.top is None or network.top not in names:
        raise ParameterError("strategy", f"head: {network.name} declares no classifier top; use last-layer")
    return tuple(name for node in network.layers[names.index(network.top):] for name in _parametrised(node))


def trainable_layers(network: L.Network, strategy: Strategy) -> frozenset:
    """Names of the leaf layers whose parameters train under ``strategy``."""
    everything = [name for node in network.layers for name in _parametrised(node)]
    if strategy.kind in ("scratch", "full"):
        return frozenset(everything)
    if strategy.kind == "last-layer":
        return frozenset({classifier(network)})
    if strategy.kind == "head":
        return frozenset(top_layers(network))
    units = blocks(network)
    if not units:
        raise ParameterError("strategy", f"{network.name} has no conv blocks to unfreeze; use last-layer or "
                                         "full")
    if strategy.blocks > len(units):
        raise ParameterError("strategy", f"partial:{strategy.blocks} is out of range for {network.name} "
                                         f"(need 1 ≤ K ≤ {len(units)}: it has {len(units)} blocks)")
    chosen = [name for block in units[-strategy.blocks:] for name in block.leaves]
    return frozenset(chosen) | frozenset(head(network))


def trainable_params(table: Any, trainable: frozenset) -> tuple:
    """(trainable, frozen) parameter counts from an engine CostTable: ints or closed forms.

    Auxiliary heads are not part of any strategy's model (training builds
    without them), so their rows are left out of both.
    """
    rows = [row for row in table.layers if not row.auxiliary]
    train = total(row.params for row in rows if row.name in trainable)
    frozen = total(row.params for row in rows if row.name not in trainable)
    return train, frozen
