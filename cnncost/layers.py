"""Layer nodes: an architecture is a tree of these immutable records.

Hyperparameters may be Python ints or sympy expressions; nothing here imports
sympy, so numeric counting stays light. Composite nodes (Sequential, Residual,
Concat, Auxiliary) are defined here; each leaf node is defined with the rest of its
kind in ``cnncost.kinds``. Nodes are NamedTuples rather than dataclasses because they are created on
every ``cnncost count`` start-up, where dataclass creation costs ~2 ms per
class. Every node carries its hierarchical ``name`` (``features.0``,
``layer1.0.conv1``), which is also the torch module path in the zoo.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Union

# Leaf nodes live with the rest of their kind (cnncost.kinds); they are re-exported here so
# a description reads L.Conv2d, L.Residual alike.
from .kinds.arithmetic import Scale
from .kinds.base import pair
from .kinds.conv import Conv2d
from .kinds.dense import Linear
from .kinds.elementwise import Activation, Dropout, PReLU
from .kinds.layout import ChannelSlice, Permute
from .kinds.norm import BatchNorm1d, BatchNorm2d, GroupNorm, InstanceNorm2d, LayerNorm
from .kinds.pool import AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool2d, GlobalPool, MaxPool2d
from .kinds.resample import ConvTranspose2d, PixelShuffle, PixelUnshuffle, Upsample
from .kinds.reshape import ChannelShuffle, Flatten, ZeroPad2d

__all__ = ["Activation", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "Auxiliary", "AvgPool2d", "BatchNorm1d",
           "BatchNorm2d", "ChannelShuffle", "ChannelSlice", "Concat", "Conv2d", "ConvTranspose2d", "Dim", "Dropout",
           "Flatten", "GlobalPool", "GroupNorm", "InstanceNorm2d", "LayerNorm", "Linear", "MaxPool2d", "Network",
           "PReLU", "Padding", "Permute", "PixelShuffle", "PixelUnshuffle", "Residual", "Scale", "Sequential",
           "Upsample", "ZeroPad2d", "leaves", "pair"]

# A size or channel count: an int, or a sympy expression on the symbolic path.
Dim = Any
# Padding as PyTorch accepts it: an int, an (h, w) pair, "same" or "valid".
Padding = Union[int, tuple, str]


class Sequential(NamedTuple):
    """Children applied in order."""

    name: str
    children: tuple = ()


class Residual(NamedTuple):
    """``after(body(x) op shortcut(x))``; an empty shortcut is the identity.

    ``op`` is add for a residual connection, mul for a gate (squeeze-excitation's
    ``x * sigmoid(...)``), or sub/div; the two results broadcast as torch does.
    """

    name: str
    body: tuple  # nodes applied to x
    shortcut: tuple = ()  # nodes applied to x; () means identity
    after: tuple = ()  # nodes applied to the result (e.g. the final ReLU)
    call: str = "operator"  # how the op was written: operator (a + b, a += b), torch, method, method_
    op: str = "add"  # add, sub, mul, div (cnncost.kinds.arithmetic.OPS)


class Concat(NamedTuple):
    """Branches applied to the same input, concatenated along channels."""

    name: str
    branches: tuple  # each a tuple of nodes


class Auxiliary(NamedTuple):
    """A side head fed from this point; the main path continues with the unchanged input.

    A training-only head (GoogLeNet/Inception aux classifiers, the default) has parameters (counted)
    but does not run at inference, so it adds no operations. A side *output* (``training_only=False``:
    YOLOv3's detection heads at the coarser scales) runs at inference too: it is counted in full, and
    the module returns its output beside the main one.
    """

    name: str
    nodes: tuple
    training_only: bool = True


class Network(NamedTuple):
    """A whole architecture: its input shape and its top-level nodes."""

    name: str
    input_shape: tuple  # (C, H, W) or (features,)
    layers: tuple
    # Optional readable names for intermediate sizes, by layer name:
    # {"pool1": ("P1", "Q1")}. Unnamed size changes get H1, W1, H2, ...
    size_names: dict | None = None
    # The name of the first top-level node of the classifier top (pooling, flatten, dropout,
    # dense), where a replacement head goes (cnncost.heads); None: the network declares no top.
    top: str | None = None


def leaves(nodes: tuple, auxiliary: bool = True) -> list:
    """Every leaf node under ``nodes`` in execution order (branches in order); with
    ``auxiliary=False`` the training-only side heads are left out (side outputs stay)."""
    from .walk import children  # walk defines the composites' structure; it imports this module

    found: list = []
    for node in nodes:
        if type(node) is Auxiliary and node.training_only and not auxiliary:
            continue
        parts = children(node)
        if parts:
            for part in parts:
                found += leaves(part, auxiliary)
        elif not isinstance(node, (Sequential, Residual, Concat, Auxiliary)):
            found.append(node)
    return found
