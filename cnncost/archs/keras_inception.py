"""keras_inception_v3, keras_inception_resnet_v2: keras.applications' InceptionV3 and InceptionResNetV2.

Both are built from Keras' ``conv2d_bn``: a bias-free conv → ``BatchNormalization(scale=False)`` (beta and
the moving statistics, no gamma: see keras_b) → ReLU. Unlike torchvision's Inception-v3 there is no
auxiliary head, and every BatchNorm lacks gamma, so the networks are Keras' own (23,851,784 and 55,873,736
"Total params" with the top). Layer names are Keras': ``conv2d_N``/``batch_normalization_N``/``activation_N``
for the unnamed layers (numbered in creation order, as in a fresh session), ``mixed0``…``mixed10`` and
``mixed_5b``, ``block35_1_conv``, ``conv_7b`` where Keras names them.

InceptionResNetV2's residual blocks compute ``x + scale · up`` (Keras' CustomScaleLayer) where ``up`` is a
1×1 conv with a bias and no BatchNorm over the concatenated branches; the scale is a constant (0.17, 0.1,
0.2; 1.0 in the last block, which has no ReLU after it). Source: keras-team/keras,
keras/src/applications/inception_v3.py and inception_resnet_v2.py; Szegedy et al. 2015/2016.
"""

from __future__ import annotations

from .. import layers as L
from .keras_b import KerasNames, batch_norm_center, classifier_top, keras_params, same_padding
from .registry import input_size_params, register

PARAMS = input_size_params(299) + keras_params()


class Builder:
    """Keras' ``conv2d_bn`` and pools with automatic names, in the order the Keras code creates them."""

    def __init__(self) -> None:
        self.names = KerasNames()

    def conv_bn(self, out, kernel, stride=1, padding="same", name=None, activation=True, bias=False) -> tuple:
        """``conv2d_bn``: conv (no bias) → BatchNormalization(scale=False) → ReLU; with ``bias`` (the residual
        blocks' up-projection) a conv with a bias and nothing after it."""
        kernel = kernel if isinstance(kernel, tuple) else (kernel, kernel)
        pad = same_padding(kernel) if padding == "same" else 0
        conv_name = name or self.names("conv2d")
        nodes: tuple = (L.Conv2d(conv_name, out, kernel, stride, pad, bias=bias),)
        if not bias:
            nodes += (batch_norm_center(f"{name}_bn" if name else self.names("batch_normalization"), out),)
        if activation:
            nodes += (L.Activation(self._act_name(name) if name else self.names("activation")),)
        return nodes

    def _act_name(self, name: str) -> str:
        return name + self.act_suffix

    act_suffix = ""  # InceptionV3 names a named conv2d_bn's ReLU ``name``; InceptionResNetV2 ``name_ac``

    def max_pool(self, padding: int = 0) -> L.MaxPool2d:
        """``MaxPooling2D(3, strides=2)`` ("valid")."""
        return L.MaxPool2d(self.names("max_pooling2d"), 3, 2, padding)

    def avg_pool(self) -> L.AvgPool2d:
        """``AveragePooling2D(3, strides=1, padding="same")``: TensorFlow averages the valid cells only."""
        return L.AvgPool2d(self.names("average_pooling2d"), 3, 1, 1, count_include_pad=False)


def stem(b: Builder) -> list:
    """The shared stem: 3×3/2, 3×3, 3×3 same, max-pool, 1×1, 3×3, max-pool (35×35 at 299)."""
    return [*b.conv_bn(32, 3, 2, "valid"), *b.conv_bn(32, 3, padding="valid"), *b.conv_bn(64, 3), b.max_pool(),
            *b.conv_bn(80, 1, padding="valid"), *b.conv_bn(192, 3, padding="valid"), b.max_pool()]


def size_names(nodes: list, reductions: tuple) -> dict:
    """Names of every size change, as torchvision's inception_v3 names them: H1-H3 after the stem's
    "valid" convs, P1, P2 after its max-pools, P3 and P4 shared by all branches of the two grid
    reductions (each branch ends at the same size). Unlisted changes would be numbered H1, H2, … and clash."""
    names, convs, pools = {}, iter(("H1", "H2", "H3")), iter(("P1", "P2"))
    for node in nodes[:nodes.index(next(n for n in nodes if isinstance(n, L.Concat)))]:  # the stem
        if isinstance(node, L.MaxPool2d):
            p = next(pools)
            names[node.name] = (p, p.replace("P", "Q"))
        elif isinstance(node, L.Conv2d) and node.padding == 0 and node.kernel_size != (1, 1):
            h = next(convs)
            names[node.name] = (h, h.replace("H", "W"))
    for k, reduction in enumerate(n for n in nodes if getattr(n, "name", "") in reductions):
        strided = [leaf.name for leaf in L.leaves((reduction,)) if getattr(leaf, "stride", 1) == 2]
        names.update(dict.fromkeys(strided, (f"P{k + 3}", f"Q{k + 3}")))
    return names


# --- InceptionV3 -------------------------------------------------------------------------------------

def v3_block_a(b: Builder, name: str, pool_features: int) -> L.Concat:
    """mixed0-2: 1×1 | 1×1→5×5 | 1×1→3×3→3×3 | avg-pool→1×1."""
    b1 = b.conv_bn(64, 1)
    b5 = b.conv_bn(48, 1) + b.conv_bn(64, 5)
    b3 = b.conv_bn(64, 1) + b.conv_bn(96, 3) + b.conv_bn(96, 3)
    pool = (b.avg_pool(),) + b.conv_bn(pool_features, 1)
    return L.Concat(name, (b1, b5, b3, pool))


def v3_reduction_a(b: Builder) -> L.Concat:
    """mixed3 (35→17): 3×3/2 | 1×1→3×3→3×3/2 | 3×3/2 max-pool."""
    b3 = b.conv_bn(384, 3, 2, "valid")
    dbl = b.conv_bn(64, 1) + b.conv_bn(96, 3) + b.conv_bn(96, 3, 2, "valid")
    return L.Concat("mixed3", (b3, dbl, (b.max_pool(),)))


def v3_block_c(b: Builder, name: str, c7: int) -> L.Concat:
    """mixed4-7: 1×1 | 1×1→1×7→7×1 | 1×1→7×1→1×7→7×1→1×7 | avg-pool→1×1, c7 channels inside."""
    b1 = b.conv_bn(192, 1)
    b7 = b.conv_bn(c7, 1) + b.conv_bn(c7, (1, 7)) + b.conv_bn(192, (7, 1))
    dbl = (b.conv_bn(c7, 1) + b.conv_bn(c7, (7, 1)) + b.conv_bn(c7, (1, 7)) + b.conv_bn(c7, (7, 1))
           + b.conv_bn(192, (1, 7)))
    pool = (b.avg_pool(),) + b.conv_bn(192, 1)
    return L.Concat(name, (b1, b7, dbl, pool))


def v3_reduction_b(b: Builder) -> L.Concat:
    """mixed8 (17→8): 1×1→3×3/2 | 1×1→1×7→7×1→3×3/2 | 3×3/2 max-pool."""
    b3 = b.conv_bn(192, 1) + b.conv_bn(320, 3, 2, "valid")
    b7 = b.conv_bn(192, 1) + b.conv_bn(192, (1, 7)) + b.conv_bn(192, (7, 1)) + b.conv_bn(192, 3, 2, "valid")
    return L.Concat("mixed8", (b3, b7, (b.max_pool(),)))


def v3_block_e(b: Builder, i: int) -> L.Concat:
    """mixed9, mixed10: 1×1 | 1×1→(1×3 | 3×1) | 1×1→3×3→(1×3 | 3×1) | avg-pool→1×1."""
    b1 = b.conv_bn(320, 1)
    b3 = b.conv_bn(384, 1)
    split = L.Concat(f"mixed9_{i}", (b.conv_bn(384, (1, 3)), b.conv_bn(384, (3, 1))))
    dbl = b.conv_bn(448, 1) + b.conv_bn(384, 3)
    dbl_split = (b.conv_bn(384, (1, 3)), b.conv_bn(384, (3, 1)))
    pool = (b.avg_pool(),) + b.conv_bn(192, 1)
    return L.Concat(f"mixed{9 + i}", (b1, b3 + (split,), dbl + (L.Concat(b.names("concatenate"), dbl_split),),
                                      pool))


@register("keras_inception_v3", PARAMS,
          "Keras InceptionV3: conv2d_bn stem → mixed0-10 → avg-pool → dense (BatchNorm without gamma, no aux head)",
          "Szegedy et al. 2015 (arXiv:1512.00567); keras.applications.InceptionV3")
def keras_inception_v3(h, w, classes=1000, in_channels=3) -> L.Network:
    """Build keras.applications.InceptionV3 for an in_channels×h×w input."""
    b = Builder()
    nodes = stem(b)
    nodes += [v3_block_a(b, f"mixed{i}", features) for i, features in enumerate((32, 64, 64))]
    nodes.append(v3_reduction_a(b))
    nodes += [v3_block_c(b, f"mixed{4 + i}", c7) for i, c7 in enumerate((128, 160, 160, 192))]
    nodes.append(v3_reduction_b(b))
    nodes += [v3_block_e(b, i) for i in range(2)]
    top = classifier_top(classes)
    return L.Network("keras_inception_v3", (in_channels, h, w), tuple(nodes) + top,
                     size_names(nodes, ("mixed3", "mixed8")), top="avg_pool")


# --- InceptionResNetV2 -------------------------------------------------------------------------------

class ResNetBuilder(Builder):
    """InceptionResNetV2's conv2d_bn names a named layer's ReLU ``{name}_ac``."""

    act_suffix = "_ac"


def irv2_mixed_5b(b: Builder) -> L.Concat:
    """mixed_5b (Inception-A): 1×1 96 | 1×1→5×5 | 1×1→3×3→3×3 | avg-pool→1×1 64 (320 channels)."""
    b0 = b.conv_bn(96, 1)
    b1 = b.conv_bn(48, 1) + b.conv_bn(64, 5)
    b2 = b.conv_bn(64, 1) + b.conv_bn(96, 3) + b.conv_bn(96, 3)
    pool = (b.avg_pool(),) + b.conv_bn(64, 1)
    return L.Concat("mixed_5b", (b0, b1, b2, pool))


# Each residual block's branches: rows of (out_channels, kernel) per branch.
BRANCHES = {
    "block35": (((32, 1),), ((32, 1), (32, 3)), ((32, 1), (48, 3), (64, 3))),
    "block17": (((192, 1),), ((128, 1), (160, (1, 7)), (192, (7, 1)))),
    "block8": (((192, 1),), ((192, 1), (224, (1, 3)), (256, (3, 1)))),
}
WIDTH = {"block35": 320, "block17": 1088, "block8": 2080}  # the block's input (and output) channels


def irv2_block(b: Builder, block_type: str, idx: int, scale: float, activation: bool = True) -> L.Residual:
    """``x + scale · conv1×1(concat(branches))``, then ReLU (except the last block8)."""
    block = f"{block_type}_{idx}"
    branches = tuple(sum((b.conv_bn(out, k) for out, k in rows), ()) for rows in BRANCHES[block_type])
    up = b.conv_bn(WIDTH[block_type], 1, name=f"{block}_conv", activation=False, bias=True)
    layer = b.names("custom_scale_layer")
    body = (L.Concat(f"{block}_mixed", branches),) + up + (L.Scale(f"{layer}.scale", "mul", value=scale),)
    after = (L.Activation(f"{block}_ac"),) if activation else ()
    return L.Residual(layer, body, (), after)


def irv2_reduction_a(b: Builder) -> L.Concat:
    """mixed_6a (35→17): 3×3/2 384 | 1×1→3×3→3×3/2 384 | 3×3/2 max-pool."""
    b0 = b.conv_bn(384, 3, 2, "valid")
    b1 = b.conv_bn(256, 1) + b.conv_bn(256, 3) + b.conv_bn(384, 3, 2, "valid")
    return L.Concat("mixed_6a", (b0, b1, (b.max_pool(),)))


def irv2_reduction_b(b: Builder) -> L.Concat:
    """mixed_7a (17→8): 1×1→3×3/2 384 | 1×1→3×3/2 288 | 1×1→3×3→3×3/2 320 | 3×3/2 max-pool."""
    b0 = b.conv_bn(256, 1) + b.conv_bn(384, 3, 2, "valid")
    b1 = b.conv_bn(256, 1) + b.conv_bn(288, 3, 2, "valid")
    b2 = b.conv_bn(256, 1) + b.conv_bn(288, 3) + b.conv_bn(320, 3, 2, "valid")
    return L.Concat("mixed_7a", (b0, b1, b2, (b.max_pool(),)))


@register("keras_inception_resnet_v2", PARAMS,
          "Keras InceptionResNetV2: stem → mixed_5b → 10×block35 → mixed_6a → 20×block17 → mixed_7a → "
          "10×block8 → conv_7b → avg-pool → dense",
          "Szegedy et al. 2016 (arXiv:1602.07261); keras.applications.InceptionResNetV2")
def keras_inception_resnet_v2(h, w, classes=1000, in_channels=3) -> L.Network:
    """Build keras.applications.InceptionResNetV2 for an in_channels×h×w input."""
    b = ResNetBuilder()
    nodes = stem(b) + [irv2_mixed_5b(b)]
    nodes += [irv2_block(b, "block35", i, 0.17) for i in range(1, 11)]
    nodes.append(irv2_reduction_a(b))
    nodes += [irv2_block(b, "block17", i, 0.1) for i in range(1, 21)]
    nodes.append(irv2_reduction_b(b))
    nodes += [irv2_block(b, "block8", i, 0.2) for i in range(1, 10)]
    nodes.append(irv2_block(b, "block8", 10, 1.0, activation=False))
    nodes += b.conv_bn(1536, 1, name="conv_7b")
    top = classifier_top(classes)
    return L.Network("keras_inception_resnet_v2", (in_channels, h, w), tuple(nodes) + top,
                     size_names(nodes, ("mixed_6a", "mixed_7a")), top="avg_pool")

