"""keras_xception: keras.applications' Xception (entry, middle and exit flows).

Entry flow: two plain 3×3 convs ("valid", the first strided) → three blocks of two separable convs and a
3×3/2 max-pool, each added to a strided 1×1 conv + BatchNorm of its input. Middle flow: eight residual
blocks of three ReLU → separable conv → BatchNorm, identity shortcut (728 channels). Exit flow: one more
pooled block (728 → 1024) and two separable convs (1536, 2048) each with BatchNorm and ReLU → global
average pool → dense. Every SeparableConv2D and Conv2D is bias-free (``use_bias=False``) and every
BatchNorm has gamma and beta. Layer names are Keras' (``block4_sepconv2_bn``); the projection shortcuts
and the adds are unnamed in Keras and get its automatic names (``conv2d_1``, ``batch_normalization_1``,
``add_1``). Source: keras-team/keras, keras/src/applications/xception.py; Chollet 2017 (arXiv:1610.02357).
"""

from __future__ import annotations

from .. import layers as L
from .keras_b import KerasNames, batch_norm, classifier_top, keras_params, separable_conv
from .registry import input_size_params, register

PARAMS = input_size_params(299) + keras_params()

ENTRY = ((2, 128), (3, 256), (4, 728))  # (block, channels) of the entry flow's pooled blocks
MIDDLE = range(5, 13)  # blocks 5-12: 728 channels, identity shortcut


def sep_bn(block: str, i: int, in_ch, out_ch) -> tuple:
    """``{block}_sepconv{i}`` → ``{block}_sepconv{i}_bn``."""
    name = f"{block}_sepconv{i}"
    return (separable_conv(name, in_ch, out_ch), batch_norm(f"{name}_bn"))


def relu(name: str) -> L.Activation:
    """``Activation("relu", name=name)``."""
    return L.Activation(name)


def pooled_block(names: KerasNames, block: str, in_ch, mid_ch, out_ch, first_relu: bool) -> L.Residual:
    """[ReLU →] sepconv1 → BN → ReLU → sepconv2 → BN → 3×3/2 max-pool, plus a 1×1/2 conv + BN shortcut.

    Keras names the middle ReLU ``{block}_sepconv2_act`` and the one before sepconv1 (absent in block2,
    whose input already passed block1_conv2_act) ``{block}_sepconv1_act``.
    """
    shortcut = (L.Conv2d(names("conv2d"), out_ch, 1, 2, bias=False), batch_norm(names("batch_normalization")))
    body: tuple = (relu(f"{block}_sepconv1_act"),) if first_relu else ()
    body += sep_bn(block, 1, in_ch, mid_ch) + (relu(f"{block}_sepconv2_act"),) + sep_bn(block, 2, mid_ch, out_ch)
    body += (L.MaxPool2d(f"{block}_pool", 3, 2, 1),)
    return L.Residual(names("add"), body, shortcut)


def middle_block(names: KerasNames, i: int) -> L.Residual:
    """Three times ReLU → separable conv 728 → BN, added to the block's input."""
    block, body = f"block{i}", ()
    for j in (1, 2, 3):
        body += (relu(f"{block}_sepconv{j}_act"),) + sep_bn(block, j, 728, 728)
    return L.Residual(names("add"), body)


@register("keras_xception", PARAMS,
          "Keras Xception: entry flow (2 convs, 3 pooled separable blocks) → 8 middle blocks → exit flow → "
          "avg-pool → dense",
          "Chollet 2017, \"Xception: Deep Learning with Depthwise Separable Convolutions\" (arXiv:1610.02357); "
          "keras.applications.Xception")
def keras_xception(h, w, classes=1000, in_channels=3) -> L.Network:
    """Build keras.applications.Xception for an in_channels×h×w input."""
    names = KerasNames()
    nodes = [L.Conv2d("block1_conv1", 32, 3, 2, bias=False), batch_norm("block1_conv1_bn"), relu("block1_conv1_act"),
             L.Conv2d("block1_conv2", 64, 3, bias=False), batch_norm("block1_conv2_bn"), relu("block1_conv2_act")]
    channels = 64
    for block, out in ENTRY:
        nodes.append(pooled_block(names, f"block{block}", channels, out, out, first_relu=block > 2))
        channels = out
    nodes += [middle_block(names, i) for i in MIDDLE]
    nodes.append(pooled_block(names, "block13", 728, 728, 1024, first_relu=True))
    nodes += [*sep_bn("block14", 1, 1024, 1536), relu("block14_sepconv1_act"),
              *sep_bn("block14", 2, 1536, 2048), relu("block14_sepconv2_act")]
    top = classifier_top(classes)
    return L.Network("keras_xception", (in_channels, h, w), tuple(nodes) + top, top="avg_pool")
