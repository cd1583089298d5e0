"""Layer nodes: an architecture is a tree of these immutable records.

Hyperparameters may be Python ints or sympy expressions; nothing here imports
sympy, so numeric counting stays light. Composite nodes (Sequential, Residual,
Concat) are walked by the engine; leaf nodes are counted by the rules in
``cnncost.rules``. Nodes are NamedTuples rather than dataclasses because they are created on
every ``cnncost count`` start-up, where dataclass creation costs ~2 ms per
class. Every node carries its hierarchical ``name`` (``features.0``,
``layer1.0.conv1``), which is also the torch module path in the zoo.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Union

# A size or channel count: an int, or a sympy expression on the symbolic path.
Dim = Any
# Padding as PyTorch accepts it: an int, an (h, w) pair, "same" or "valid".
Padding = Union[int, tuple, str]


def pair(value: Any) -> tuple:
    """Return ``value`` as an (h, w) pair, the way torch's ``_pair`` does."""
    if isinstance(value, tuple):
        return value
    return (value, value)


class Conv2d(NamedTuple):
    """2-D convolution; ``in_channels`` is inferred from the input shape."""

    name: str
    out_channels: Dim  # filters
    kernel_size: Any  # k or (kh, kw)
    stride: Any = 1  # s or (sh, sw)
    padding: Padding = 0  # int, pair, "same" (stride 1 only) or "valid"
    dilation: Any = 1  # d or (dh, dw)
    groups: Dim = 1  # channel groups; Cin and Cout must both divide by it
    bias: bool = True  # one bias per output channel
    call: str = "module"  # written as: module, or subclass (a user's subclass of nn.Conv2d)


class Linear(NamedTuple):
    """Fully connected layer; ``in_features`` is inferred from the input shape."""

    name: str
    out_features: Dim
    bias: bool = True
    call: str = "module"  # written as: module, or subclass (a user's subclass of nn.Linear)


class MaxPool2d(NamedTuple):
    """Max pooling; ``stride`` defaults to the kernel size, as in torch."""

    name: str
    kernel_size: Any
    stride: Any = None
    padding: Any = 0
    dilation: Any = 1
    ceil_mode: bool = False
    call: str = "module"  # written as: module, subclass, function (F.x), torch (torch.x), method (x.m())


class AvgPool2d(NamedTuple):
    """Average pooling; ``stride`` defaults to the kernel size, as in torch."""

    name: str
    kernel_size: Any
    stride: Any = None
    padding: Any = 0
    ceil_mode: bool = False
    count_include_pad: bool = True
    call: str = "module"  # written as: module, subclass, function (F.x), torch (torch.x), method (x.m())


class AdaptiveAvgPool2d(NamedTuple):
    """Adaptive average pooling to a fixed output size."""

    name: str
    output_size: Any  # o or (oh, ow)
    call: str = "module"  # written as: module, subclass, function (F.x), torch (torch.x), method (x.m())


class BatchNorm2d(NamedTuple):
    """Batch normalisation over channels of a C×H×W tensor."""

    name: str
    affine: bool = True  # learnable weight and bias (2C params)
    track_running_stats: bool = True  # running mean and var (2C buffers)
    eps: float = 1e-5  # numerical only (torchvision's Inception/GoogLeNet use 1e-3)
    call: str = "module"  # written as: module, or subclass (a user's subclass of nn.BatchNorm2d)


class BatchNorm1d(NamedTuple):
    """Batch normalisation over the features of a flat tensor."""

    name: str
    affine: bool = True
    track_running_stats: bool = True
    eps: float = 1e-5
    call: str = "module"  # written as: module, or subclass (a user's subclass of nn.BatchNorm1d)


class Activation(NamedTuple):
    """Elementwise nonlinearity: free for params and MACs."""

    name: str
    function: str = "relu"  # relu, gelu, silu, mish, sigmoid, tanh, ...
    call: str = "module"  # written as: module, subclass, function (F.x), torch (torch.x), method (x.m())


class Dropout(NamedTuple):
    """Dropout: free (identity at inference)."""

    name: str
    p: float = 0.5


class Flatten(NamedTuple):
    """Flatten C×H×W to C·H·W features."""

    name: str


class ZeroPad2d(NamedTuple):
    """Explicit zero padding (left, right, top, bottom)."""

    name: str
    padding: tuple  # (left, right, top, bottom)


class Sequential(NamedTuple):
    """Children applied in order."""

    name: str
    children: tuple = ()


class Residual(NamedTuple):
    """``after(body(x) + shortcut(x))``; an empty shortcut is the identity."""

    name: str
    body: tuple  # nodes applied to x
    shortcut: tuple = ()  # nodes applied to x; () means identity
    after: tuple = ()  # nodes applied to the sum (e.g. the final ReLU)
    call: str = "operator"  # how the add was written: operator (a + b, a += b), torch, method, method_


class Concat(NamedTuple):
    """Branches applied to the same input, concatenated along channels."""

    name: str
    branches: tuple  # each a tuple of nodes


class Auxiliary(NamedTuple):
    """A training-only side head (GoogLeNet/Inception aux classifiers) fed from this point.

    Its parameters exist (and are counted); at inference it does not run, so it
    adds no operations and the main path continues with the unchanged input.
    """

    name: str
    nodes: tuple


class Network(NamedTuple):
    """A whole architecture: its input shape and its top-level nodes."""

    name: str
    input_shape: tuple  # (C, H, W) or (features,)
    layers: tuple
    # Optional readable names for intermediate sizes, by layer name:
    # {"pool1": ("P1", "Q1")}. Unnamed size changes get H1, W1, H2, ...
    size_names: dict | None = None


def leaves(nodes: tuple, auxiliary: bool = True) -> list:
    """Every leaf node under ``nodes`` in execution order (branches in order); with
    ``auxiliary=False`` the training-only side heads are left out."""
    found: list = []
    for node in nodes:
        if isinstance(node, Sequential):
            found += leaves(node.children, auxiliary)
        elif isinstance(node, Residual):
            found += leaves(node.body + node.shortcut + node.after, auxiliary)
        elif isinstance(node, Concat):
            found += leaves(tuple(child for branch in node.branches for child in branch), auxiliary)
        elif isinstance(node, Auxiliary):
            found += leaves(node.nodes, auxiliary) if auxiliary else []
        else:
            found.append(node)
    return found
