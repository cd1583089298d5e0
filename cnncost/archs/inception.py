"""inception_v3: Inception-v3 as torchvision builds it.

Stem (five BasicConv2d, two 3×3/2 max-pools) → 3 × block A (35×35) → B
(grid reduction) → 4 × block C (17×17, factorised 1×7/7×1 convs) → D (grid
reduction) → 2 × block E (8×8, split 1×3/3×1 branches) → global average pool
→ dropout 0.5 → fc. Every conv is BasicConv2d (bias-free conv → BatchNorm with
eps 0.001 → ReLU). The training-only auxiliary classifier (``AuxLogits``) hangs
off Mixed_6e. Node names are torchvision's module paths; the functional pools
and ReLUs get extra stateless names (``Mixed_5b.avg_pool``, ``...relu``).

Each block type is a small builder: a branch is a chain of conv rows
(suffix, out_channels, kernel, stride, padding) in torchvision's names.
"""

from __future__ import annotations

from .. import layers as L
from .googlenet import basic_conv
from .registry import Param, input_size_params, register

PARAMS = input_size_params(299) + (
    Param("classes", 1000, "output classes", meaning="output classes"),
    Param("in_channels", 3, "input channels"),
    Param("aux_logits", True, "auxiliary classifiers (training only)"),
)

# Factorised 7×7 and 3×3 kernels with the padding that keeps the grid size.
ROW7, COL7 = ((1, 7), 1, (0, 3)), ((7, 1), 1, (3, 0))
ROW3, COL3 = ((1, 3), 1, (0, 1)), ((3, 1), 1, (1, 0))
K1, K3, K3S2 = (1, 1, 0), (3, 1, 1), (3, 2, 0)  # 1×1; 3×3 same size; 3×3 stride 2 valid


def chain(block: str, rows: tuple) -> tuple:
    """A branch: BasicConv2d per (suffix, out_channels, (kernel, stride, padding)) row."""
    return tuple(basic_conv(f"{block}.{suffix}", out, *geometry) for suffix, out, geometry in rows)


def split(block: str, name: str, out) -> L.Concat:
    """Inception-E's split: a 1×3 and a 3×1 conv on the same input, concatenated."""
    return L.Concat(f"{block}.{name}", (chain(block, ((f"{name}a", out, ROW3),)),
                                        chain(block, ((f"{name}b", out, COL3),))))


def avg_pool_branch(block: str, out) -> tuple:
    """3×3/1 average pool (padding 1, torchvision's F.avg_pool2d) → 1×1 conv."""
    return (L.AvgPool2d(f"{block}.avg_pool", 3, stride=1, padding=1),) + chain(block, (("branch_pool", out, K1),))


def inception_a(name: str, pool_features) -> L.Concat:
    """Block A (Mixed_5b-d): 1×1 | 1×1→5×5 | 1×1→3×3→3×3 | avg-pool→1×1."""
    return L.Concat(name, (
        chain(name, (("branch1x1", 64, K1),)),
        chain(name, (("branch5x5_1", 48, K1), ("branch5x5_2", 64, (5, 1, 2)))),
        chain(name, (("branch3x3dbl_1", 64, K1), ("branch3x3dbl_2", 96, K3), ("branch3x3dbl_3", 96, K3))),
        avg_pool_branch(name, pool_features),
    ))


def inception_b(name: str) -> L.Concat:
    """Block B (Mixed_6a), grid 35→17: 3×3/2 | 1×1→3×3→3×3/2 | 3×3/2 max-pool."""
    return L.Concat(name, (
        chain(name, (("branch3x3", 384, K3S2),)),
        chain(name, (("branch3x3dbl_1", 64, K1), ("branch3x3dbl_2", 96, K3), ("branch3x3dbl_3", 96, K3S2))),
        (L.MaxPool2d(f"{name}.max_pool", 3, stride=2),),
    ))


def inception_c(name: str, c7) -> L.Concat:
    """Block C (Mixed_6b-e): 7×7 convs factorised into 1×7 and 7×1 with c7 channels inside."""
    return L.Concat(name, (
        chain(name, (("branch1x1", 192, K1),)),
        chain(name, (("branch7x7_1", c7, K1), ("branch7x7_2", c7, ROW7), ("branch7x7_3", 192, COL7))),
        chain(name, (("branch7x7dbl_1", c7, K1), ("branch7x7dbl_2", c7, COL7), ("branch7x7dbl_3", c7, ROW7),
                     ("branch7x7dbl_4", c7, COL7), ("branch7x7dbl_5", 192, ROW7))),
        avg_pool_branch(name, 192),
    ))


def inception_d(name: str) -> L.Concat:
    """Block D (Mixed_7a), grid 17→8: 1×1→3×3/2 | 1×1→1×7→7×1→3×3/2 | 3×3/2 max-pool."""
    return L.Concat(name, (
        chain(name, (("branch3x3_1", 192, K1), ("branch3x3_2", 320, K3S2))),
        chain(name, (("branch7x7x3_1", 192, K1), ("branch7x7x3_2", 192, ROW7), ("branch7x7x3_3", 192, COL7),
                     ("branch7x7x3_4", 192, K3S2))),
        (L.MaxPool2d(f"{name}.max_pool", 3, stride=2),),
    ))


def inception_e(name: str) -> L.Concat:
    """Block E (Mixed_7b-c): the 3×3 branches end in a 1×3 | 3×1 split (nested Concat)."""
    return L.Concat(name, (
        chain(name, (("branch1x1", 320, K1),)),
        chain(name, (("branch3x3_1", 384, K1),)) + (split(name, "branch3x3_2", 384),),
        chain(name, (("branch3x3dbl_1", 448, K1), ("branch3x3dbl_2", 384, K3)))
        + (split(name, "branch3x3dbl_3", 384),),
        avg_pool_branch(name, 192),
    ))


def aux_logits_head(classes) -> L.Auxiliary:
    """InceptionAux after Mixed_6e: 5×5/3 avg-pool → 1×1 conv 128 → 5×5 conv 768 → pool → fc."""
    return L.Auxiliary("AuxLogits", (
        L.AvgPool2d("AuxLogits.avg_pool", 5, stride=3),
        *chain("AuxLogits", (("conv0", 128, K1), ("conv1", 768, (5, 1, 0)))),
        L.AdaptiveAvgPool2d("AuxLogits.adaptive_pool", (1, 1)),
        L.Flatten("AuxLogits.flatten"),
        L.Linear("AuxLogits.fc", classes),
    ))


# The stem: BasicConv2d rows (name, out_channels, (kernel, stride, padding)); a bare name is a 3×3/2 max-pool.
STEM = (
    ("Conv2d_1a_3x3", 32, K3S2),
    ("Conv2d_2a_3x3", 32, (3, 1, 0)),
    ("Conv2d_2b_3x3", 64, K3),
    ("maxpool1",),
    ("Conv2d_3b_1x1", 80, K1),
    ("Conv2d_4a_3x3", 192, (3, 1, 0)),
    ("maxpool2",),
)

# The mixed blocks in order: (name, builder, builder arguments).
MIXED = (
    ("Mixed_5b", inception_a, (32,)),
    ("Mixed_5c", inception_a, (64,)),
    ("Mixed_5d", inception_a, (64,)),
    ("Mixed_6a", inception_b, ()),
    ("Mixed_6b", inception_c, (128,)),
    ("Mixed_6c", inception_c, (160,)),
    ("Mixed_6d", inception_c, (160,)),
    ("Mixed_6e", inception_c, (192,)),
    ("Mixed_7a", inception_d, ()),
    ("Mixed_7b", inception_e, ()),
    ("Mixed_7c", inception_e, ()),
)
AUX_AFTER = "Mixed_6e"

# Names for the spatial sizes in formulas. Every layer that changes the size is
# listed: the formula namer numbers unlisted ones H1, H2, ..., which would clash
# with the names here. The three branches of a reduction block share one name.
SIZE_NAMES = {
    "Conv2d_1a_3x3.conv": ("H1", "W1"), "Conv2d_2a_3x3.conv": ("H2", "W2"), "maxpool1": ("P1", "Q1"),
    "Conv2d_4a_3x3.conv": ("H3", "W3"), "maxpool2": ("P2", "Q2"),  # 35×35 at 299
    **dict.fromkeys(("Mixed_6a.branch3x3.conv", "Mixed_6a.branch3x3dbl_3.conv", "Mixed_6a.max_pool"),
                    ("P3", "Q3")),  # 17×17
    **dict.fromkeys(("Mixed_7a.branch3x3_2.conv", "Mixed_7a.branch7x7x3_4.conv", "Mixed_7a.max_pool"),
                    ("P4", "Q4")),  # 8×8
    "AuxLogits.avg_pool": ("A1", "B1"), "AuxLogits.conv1.conv": ("A2", "B2"),  # 5×5, 1×1
}


def stem() -> tuple:
    """The stem's nodes from STEM."""
    return tuple(L.MaxPool2d(row[0], 3, stride=2) if len(row) == 1 else basic_conv(row[0], row[1], *row[2])
                 for row in STEM)


@register("inception_v3", PARAMS, "Inception-v3: stem → 3×A → B → 4×C → D → 2×E → avg-pool → fc",
          "Szegedy et al. 2015, \"Rethinking the Inception Architecture\" (torchvision's variant)",
          torchvision="inception_v3")
def inception_v3(h, w, classes=1000, in_channels=3, aux_logits=True) -> L.Network:
    """Build torchvision's Inception-v3 for an input of in_channels×h×w."""
    nodes = list(stem())
    for name, build, args in MIXED:
        nodes.append(build(name, *args))
        if aux_logits and name == AUX_AFTER:
            nodes.append(aux_logits_head(classes))
    # torchvision's order: pool → dropout → flatten → fc.
    nodes += [L.AdaptiveAvgPool2d("avgpool", (1, 1)), L.Dropout("dropout", 0.5), L.Flatten("flatten"),
              L.Linear("fc", classes)]
    return L.Network("inception_v3", (in_channels, h, w), tuple(nodes), SIZE_NAMES, top="avgpool")
