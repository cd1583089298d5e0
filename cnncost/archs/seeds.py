"""The small networks of seed reports 003 and 004.

mlp3 (report 004): the MNIST MLP 784-500-500-10 (flatten → dense(n) → ReLU →
dense(n) → ReLU → output), optional dropout after each hidden layer.

smallcnn (report 003, Figs. 1 and 2): four 3×3 convs with m, 2m, 4m, 4m
filters, each followed by a 2×2 max-pool, BatchNorm after the second conv and
dropout after its pool, then dense(n) → output. Keras puts the ReLU inside each
Conv2D/Dense (``activation="relu"``), so it sits before the BatchNorm. Fig. 1
is the cats-vs-dogs form (150×150, valid, 1 class); Fig. 2 the CIFAR-10 form
(32×32, same, 10 classes).

smallcnn_res (report 003, Fig. 3): convs 3 and 4 (and their pools) replaced by
one residual block, x + dropout(BN(conv(x))), then dense(n) → dropout → output.

smallcnn_inception (report 003, text): the CIFAR-10 smallcnn with a naive
inception block (1×1, 3×3, 5×5 convs and a 3×3 max-pool, concatenated) between
the third pool and the fourth conv. The report gives no branch widths; the
defaults 2m, 4m, m (64, 128, 32 at m = 32) are those of the widely copied Keras
naive-inception example, an assumption.
"""

from __future__ import annotations

from .. import layers as L
from .registry import Param, input_size_params, register

REPORT_003 = "report 003 (CS 577 assignment 4: cats vs dogs, CIFAR-10)"


def _cnn_params(hw: int, classes: int, padding: str) -> tuple:
    """Declarations shared by the smallcnn family, with the report's defaults."""
    return input_size_params(hw) + (
        Param("m", 32, "filters in the first conv layer (then 2m, 4m, ...)", symbolic=True,
              meaning="filters in the first conv layer"),
        Param("k", 3, "kernel size (k×k) of the main convs", symbolic=True, meaning="kernel size k×k"),
        Param("n", 256, "neurons in the dense layer", symbolic=True, meaning="neurons in the dense layer"),
        Param("classes", classes, "output classes (1: one sigmoid unit)", meaning="output classes"),
        Param("padding", padding, "padding of the main convs", choices=("valid", "same")),
        Param("dropout", 0.25, "dropout rate (the report does not print it; costs nothing)"),
        Param("in_channels", 3, "input channels"),
    )


def _conv(i: int, filters, k, padding: str) -> list:
    """A Keras ``Conv2D(filters, k, activation="relu")``: conv then ReLU."""
    return [L.Conv2d(f"conv{i}", filters, k, padding=padding), L.Activation(f"act{i}")]


def _pool(i: int) -> L.MaxPool2d:
    return L.MaxPool2d(f"pool{i}", 2)


def _stem(m, k, padding: str, dropout: float) -> list:
    """conv1 → pool1 → conv2 → BN → pool2 → dropout: the part all three variants share."""
    return (_conv(1, m, k, padding) + [_pool(1)] + _conv(2, 2 * m, k, padding)
            + [L.BatchNorm2d("bn2"), _pool(2), L.Dropout("drop2", dropout)])


def _head(n, classes: int, dropout: float | None = None) -> list:
    """flatten → dense(n) → ReLU → [dropout] → dense(classes)."""
    layers = [L.Flatten("flatten"), L.Linear("fc1", n), L.Activation("act_fc1")]
    if dropout is not None:
        layers.append(L.Dropout("drop_fc1", dropout))
    return layers + [L.Linear("fc2", classes)]


def _size_names(*pools: int) -> dict:
    names = {f"conv{i}": (f"H{i}", f"W{i}") for i in pools}
    names.update({f"pool{i}": (f"P{i}", f"Q{i}") for i in pools})
    return names


@register("smallcnn", _cnn_params(150, 1, "valid"),
          "4 × (conv → 2×2 max-pool), BN and dropout after the second → dense(n) → output",
          REPORT_003 + ", Figs. 1 and 2")
def smallcnn(h, w, m=32, k=3, n=256, classes=1, padding="valid", dropout=0.25, in_channels=3) -> L.Network:
    """Build report 003's naive CNN for an input of in_channels×h×w."""
    layers = (_stem(m, k, padding, dropout) + _conv(3, 4 * m, k, padding) + [_pool(3)]
              + _conv(4, 4 * m, k, padding) + [_pool(4)] + _head(n, classes))
    return L.Network("smallcnn", (in_channels, h, w), tuple(layers), _size_names(1, 2, 3, 4), top="flatten")


@register("smallcnn_res", _cnn_params(32, 10, "same"),
          "smallcnn with convs 3-4 replaced by one residual block (conv → BN → dropout, identity skip)",
          REPORT_003 + ", Fig. 3")
def smallcnn_res(h, w, m=32, k=3, n=256, classes=10, padding="same", dropout=0.25, in_channels=3) -> L.Network:
    """Build report 003's residual variant; the block's conv always pads "same" so the add fits."""
    block = L.Residual("res", (L.Conv2d("res.conv", 2 * m, k, padding="same"), L.Activation("res.act"),
                               L.BatchNorm2d("res.bn"), L.Dropout("res.drop", dropout)))
    layers = _stem(m, k, padding, dropout) + [block] + _head(n, classes, dropout)
    return L.Network("smallcnn_res", (in_channels, h, w), tuple(layers), _size_names(1, 2), top="flatten")


def naive_inception(name: str, f1, f3, f5) -> L.Concat:
    """Naive inception block: 1×1, 3×3 and 5×5 convs (ReLU, same padding) and a 3×3/1 max-pool."""
    def branch(tag: str, filters, size: int) -> tuple:
        return (L.Conv2d(f"{name}.{tag}", filters, size, padding="same"), L.Activation(f"{name}.{tag}_act"))

    pool = (L.MaxPool2d(f"{name}.pool", 3, stride=1, padding=1),)
    return L.Concat(name, (branch("conv1x1", f1, 1), branch("conv3x3", f3, 3), branch("conv5x5", f5, 5), pool))


@register("smallcnn_inception", _cnn_params(32, 10, "same"),
          "smallcnn with a naive inception block (1×1, 3×3, 5×5 convs + 3×3 max-pool) before conv4",
          REPORT_003 + ", Results (inception block between pool 3 and conv 4)")
def smallcnn_inception(h, w, m=32, k=3, n=256, classes=10, padding="same", dropout=0.25,
                       in_channels=3) -> L.Network:
    """Build report 003's inception variant; branch widths 2m, 4m, m are an assumption."""
    layers = (_stem(m, k, padding, dropout) + _conv(3, 4 * m, k, padding) + [_pool(3)]
              + [naive_inception("inception", 2 * m, 4 * m, m)]
              + _conv(4, 4 * m, k, padding) + [_pool(4)] + _head(n, classes))
    return L.Network("smallcnn_inception", (in_channels, h, w), tuple(layers), _size_names(1, 2, 3, 4), top="flatten")


MLP_PARAMS = input_size_params(28) + (
    Param("n", 500, "neurons in each of the two hidden layers", symbolic=True, meaning="neurons per hidden layer"),
    Param("classes", 10, "output classes", meaning="output classes"),
    Param("dropout", 0.0, "dropout after each hidden layer (0: none; costs nothing)"),
    Param("in_channels", 1, "input channels"),
)


@register("mlp3", MLP_PARAMS, "flatten → dense(n) → ReLU → dense(n) → ReLU → output (MNIST 784-500-500-10)",
          "report 004 (ELL-793 assignment 2, question 1)")
def mlp3(h, w, n=500, classes=10, dropout=0.0, in_channels=1) -> L.Network:
    """Build report 004's three-layer MLP for an input of in_channels×h×w, flattened."""
    layers: list = [L.Flatten("flatten")]
    for i in (1, 2):
        layers += [L.Linear(f"fc{i}", n), L.Activation(f"act{i}")]
        if dropout:
            layers.append(L.Dropout(f"drop{i}", dropout))
    layers.append(L.Linear("fc3", classes))
    return L.Network("mlp3", (in_channels, h, w), tuple(layers))
