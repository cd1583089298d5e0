"""Keras layer idioms shared by the keras.applications flavours (keras_xception, keras_inception,
keras_efficientnet); this file registers no network.

The descriptions follow keras.applications layer by layer, named as Keras names the layers, so
``cnncost count --convention keras`` reads the model's "Total params" and a Keras model's weights map
one to one onto the zoo module's state_dict. How Keras layers become cnncost nodes:

- ``BatchNormalization`` (scale and center on): BatchNorm2d, eps 1e-3 (Keras' default epsilon).
- ``BatchNormalization(scale=False)`` (Inception's ``conv2d_bn``): Keras keeps beta, moving_mean and
  moving_variance, no gamma; torch has no such layer, so it is a bias-free BatchNorm2d (``{name}.norm``:
  the moving statistics) followed by a learned per-channel add (``{name}.beta``): 3C values.
- ``SeparableConv2D(use_bias=False)``: a depthwise conv (``{name}.depthwise``, one k×k filter per channel)
  then a 1×1 pointwise conv (``{name}.pointwise``), neither with a bias.
- ``padding="same"``: symmetric padding k//2. At stride 1 (odd kernels) that is exactly TensorFlow's; at
  stride 2 TensorFlow pads one more row/column at the bottom/right of an even input (and Keras' EfficientNet
  writes that as a ``ZeroPadding2D`` before a "valid" conv); the output size is ⌈n/2⌉ either way, so every
  parameter, MAC and output shape is the same, while border values shift by one pixel.
- ``GlobalAveragePooling2D``: the mean over H and W (C×H×W → C). ``Dense(activation="softmax")``: Linear;
  the softmax is left out (logits), as torch classifiers return them.

Auto-generated names (layers built without ``name=``) are numbered per layer class in creation order,
as in a fresh Keras session: ``conv2d``, ``conv2d_1``, … .
"""

from __future__ import annotations

from .. import layers as L
from .registry import Param

KERAS_BN_EPS = 1e-3  # keras.layers.BatchNormalization's default epsilon


def keras_params() -> tuple:
    """``classes`` and ``in_channels``, as every Keras flavour takes them. ``include_top`` (Keras' own
    option: false ends at the last feature map, ``pooling=None``) is the registry's, given to every image
    network (cnncost.heads), and takes off everything from ``Network.top`` ("avg_pool") on."""
    return (
        Param("classes", 1000, "output classes", meaning="output classes"),
        Param("in_channels", 3, "input channels"),
    )


class KerasNames:
    """Keras' automatic layer names: the first layer of a class is ``conv2d``, the next ``conv2d_1``, …"""

    def __init__(self) -> None:
        self.used: dict = {}

    def __call__(self, base: str) -> str:
        """The next automatic name of a layer class (``conv2d``, ``batch_normalization``, ``activation``)."""
        n = self.used.get(base, 0)
        self.used[base] = n + 1
        return base if n == 0 else f"{base}_{n}"


def same_padding(kernel_size) -> tuple:
    """Keras' ``padding="same"`` for an odd kernel (kh, kw): kh//2 rows and kw//2 columns each side."""
    kh, kw = kernel_size if isinstance(kernel_size, tuple) else (kernel_size, kernel_size)
    return (kh // 2, kw // 2)


def batch_norm(name: str) -> L.BatchNorm2d:
    """``BatchNormalization()``: gamma, beta and the two moving statistics (4C values)."""
    return L.BatchNorm2d(name, eps=KERAS_BN_EPS)


def batch_norm_center(name: str, channels) -> L.Sequential:
    """``BatchNormalization(scale=False)``: moving statistics at ``{name}.norm``, beta at ``{name}.beta``."""
    return L.Sequential(name, (L.BatchNorm2d(f"{name}.norm", affine=False, eps=KERAS_BN_EPS),
                               L.Scale(f"{name}.beta", "add", (channels, 1, 1))))


def separable_conv(name: str, in_channels, out_channels, kernel_size: int = 3) -> L.Sequential:
    """``SeparableConv2D(out, k, padding="same", use_bias=False)``: depthwise k×k, then pointwise 1×1."""
    return L.Sequential(name, (
        L.Conv2d(f"{name}.depthwise", in_channels, kernel_size, 1, kernel_size // 2, groups=in_channels,
                 bias=False),
        L.Conv2d(f"{name}.pointwise", out_channels, 1, bias=False),
    ))


def classifier_top(classes, dropout: float = 0.0) -> tuple:
    """``GlobalAveragePooling2D`` "avg_pool" [→ ``Dropout`` "top_dropout"] → ``Dense`` "predictions"."""
    drop = (L.Dropout("top_dropout", dropout),) if dropout > 0 else ()
    return (L.GlobalPool("avg_pool", "mean"),) + drop + (L.Linear("predictions", classes),)
