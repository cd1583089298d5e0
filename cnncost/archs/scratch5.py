"""scratch5: the 5-block network of reports 000 and 001.

5 × (conv k×k → [BatchNorm] → activation → 2×2 max-pool) → flatten →
dense(n) → activation → [dropout] → output(classes). Defaults follow
CONVENTIONS.md: 3 input channels, n = 128, 10 classes, valid padding,
filter organisation "same".
"""

from __future__ import annotations

from .. import layers as L
from ..arith import exact_div
from .registry import Param, input_size_params, register

ORGS = ("same", "double", "half")

PARAMS = input_size_params(100) + (
    Param("m", 64, "filters in the first conv layer", symbolic=True, meaning="filters per conv layer (first layer)"),
    Param("k", 3, "kernel size (k×k)", symbolic=True, meaning="kernel size k×k"),
    Param("n", 128, "neurons in the dense layer", symbolic=True, meaning="neurons in the dense layer"),
    Param("classes", 10, "output classes", meaning="output classes"),
    Param("padding", "valid", "conv padding", choices=("valid", "same")),
    Param("org", "same", "filter organisation: same (m everywhere), double (m, 2m, ...), half (m, m/2, ...)",
          choices=ORGS),
    Param("bn", False, "BatchNorm after each conv"),
    Param("dropout", 0.0, "dropout after the dense layer (costs nothing)"),
    Param("activation", "relu", "activation function", choices=("relu", "gelu", "silu", "mish", "elu", "tanh")),
    Param("in_channels", 3, "input channels"),
)


def filters(m, org: str, block: int):
    """Filters of conv ``block`` (0-based) under a filter organisation."""
    if org == "double":
        return m * 2**block
    if org == "half":
        return exact_div(m, 2**block, f"conv{block + 1}", f"org half gives m/{2**block} filters:")
    return m


@register("scratch5", PARAMS, "5 × (conv → activation → 2×2 max-pool) → dense(n) → output",
          "reports 000 and 001 (CS6910 assignment 2, part A)")
def scratch5(h, w, m=64, k=3, n=128, classes=10, padding="valid", org="same", bn=False,
             dropout=0.0, activation="relu", in_channels=3) -> L.Network:
    """Build the scratch5 layer tree for an input of in_channels×h×w."""
    layers: list = []
    size_names = {}
    for i in range(1, 6):
        layers.append(L.Conv2d(f"conv{i}", filters(m, org, i - 1), k, padding=padding))
        if bn:
            layers.append(L.BatchNorm2d(f"bn{i}"))
        layers += [L.Activation(f"act{i}", activation), L.MaxPool2d(f"pool{i}", 2)]
        size_names[f"conv{i}"] = (f"H{i}", f"W{i}")
        size_names[f"pool{i}"] = (f"P{i}", f"Q{i}")
    layers += [L.Flatten("flatten"), L.Linear("fc1", n), L.Activation("act_fc1", activation)]
    if dropout:
        layers.append(L.Dropout("dropout", dropout))
    layers.append(L.Linear("fc2", classes))
    return L.Network("scratch5", (in_channels, h, w), tuple(layers), size_names, top="flatten")
