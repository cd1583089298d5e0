"""What a layer keeps for backward: the vocabulary each kind's ``step`` rule speaks (no torch here).

One training step saves tensors for the backward pass: exactly the tensors
``torch.autograd.graph.saved_tensors_hooks`` sees. A kind's ``step`` rule says, for one
leaf in one step, which tensors it saves (``Saved``), what dtype its output has and
whether its output is a view of its input (same storage). ``cnncost.trainstep`` walks
the network with these rules, tracks storages, and counts each distinct storage once.

A rule sees a ``Site``: the leaf, its input tensor, its output shape, whether its own
parameters train, whether it runs in training mode, the autocast dtype (or None) and the
device. It is asked only about leaves that are in the autograd graph (their input
requires grad or their parameters train); a leaf outside it saves nothing.

The rules were read from ATen's derivatives (tools/autograd/derivatives.yaml) and the
autocast op lists of torch 2.13, and are checked against the hooks on every zoo network
(tests/test_trainstep_zoo.py, tests/test_trainstep_kinds.py).
"""

from __future__ import annotations

from typing import Any, NamedTuple

ITEMSIZE = {"fp32": 4, "bf16": 2, "fp16": 2, "int64": 8, "bool": 1}


class Tensor(NamedTuple):
    """A tensor of the step, per sample (the batch dimension left out)."""

    shape: tuple
    storage: int  # identity of the storage it lives in (a view shares its base's)
    dtype: str = "fp32"
    grad: bool = False  # requires grad


class Saved(NamedTuple):
    """One tensor a layer saves for backward.

    ``tensor``: "input" (the layer's input, or its cast copy when an autocast op casts it),
    "output" (its result), or "new" (a tensor made inside the op: max-pool indices, BatchNorm's
    batch statistics, a dropout mask, an autocast copy of a weight), with ``elements`` and
    ``dtype``; ``batched``: whether ``elements`` is per sample (× batch) or fixed.
    """

    tensor: str
    elements: Any = 0
    dtype: str = "fp32"
    batched: bool = True


class Effect(NamedTuple):
    """What one leaf does in a step: what it saves, its output's dtype, whether the output is a view."""

    saved: tuple = ()
    dtype: str | None = None  # None: the input's dtype
    view: bool = False  # the output shares the input's storage (flatten, permute, eval dropout)
    # Under autocast: "low" for an op autocast runs in the lower precision (it reads its input cast to the
    # autocast dtype), "fp32" for one it runs in full precision (it reads its input cast to fp32); None: neither.
    cast: str | None = None
    # (expression, minimum, why): what must hold for torch to run the step, where the sizes are symbols (a
    # closed form's validity condition); with numbers a rule raises instead.
    requires: tuple = ()


class Site(NamedTuple):
    """One leaf in one training step, as a ``step`` rule sees it."""

    node: Any
    x: Tensor
    y: tuple  # output shape, per sample
    trains: bool  # its own parameters require grad
    training: bool  # module.training during the step
    autocast: str | None  # "bf16", "fp16" or None
    device: str  # "cpu" or "cuda"
    batch: Any = 1  # samples in the step's batch


class NotModelled(Exception):
    """A layer configuration whose saved tensors cnncost does not know: refused, never guessed."""


def elements(shape: tuple) -> Any:
    """Elements of a per-sample shape."""
    total = 1
    for side in shape:
        total = total * side
    return total


def nothing(node: Any, site: Site) -> Effect:
    """Saves nothing; output a new tensor of the input's dtype (padding, upsampling, shuffles)."""
    return Effect()


def view(node: Any, site: Site) -> Effect:
    """A view of its input (flatten, permute, a channel slice): saves nothing, shares the storage."""
    return Effect(view=True)


def saves_input(node: Any, site: Site) -> Effect:
    """Saves its input (average pooling, SiLU, GELU, ...)."""
    return Effect((Saved("input"),))


def saves_output(node: Any, site: Site) -> Effect:
    """Saves its result (ReLU, sigmoid, tanh, softmax, ...)."""
    return Effect((Saved("output"),))


def low_precision_weights(site: Site, weights: Any) -> tuple:
    """The autocast copy of a weight a lower-precision op saves (none in full precision: a parameter
    itself is model state, not a saved activation)."""
    return (Saved("new", weights, site.autocast, batched=False),) if site.autocast else ()


def refuse_autocast(node: Any, site: Site, what: str) -> None:
    """Refuse a layer under autocast whose saved tensors were not measured in lower precision."""
    if site.autocast:
        raise NotModelled(f"{node.name}: {what} under {site.autocast} autocast")
