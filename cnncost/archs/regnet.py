"""RegNetX and RegNetY (400MF to 128GF) as torchvision builds them, from their generating parameters.

A RegNet (Radosavovic et al. 2020, "Designing Network Design Spaces") is a 3×3/2 stem conv
(``stem_width`` channels), stages of residual bottleneck blocks, global average pool and a
fully connected layer. A block is 1×1 conv → grouped 3×3 conv (the stride, groups of
``group_width`` channels) → [RegNetY: squeeze-excitation] → 1×1 conv, each conv bias-free
and followed by BatchNorm and, except the last, ReLU; the input is added back (through a
1×1/BN projection when width or stride change) and a ReLU follows the sum. Every stage's
first block strides by 2.

The stages are not a table: they are generated, as torchvision's
``BlockParams.from_init_params`` generates them, from six numbers — ``depth`` blocks with
widths on the line u_j = w_0 + w_a·j, each quantised to w_0·w_m^round(log(u_j/w_0)/log w_m)
and rounded to a multiple of 8; a run of equal widths is one stage. The bottleneck width
(stage width × ``bottleneck_multiplier``) is then rounded to a multiple of the group width
(``make_divisible``), and the SE squeeze width is round(se_ratio × the block's input width).
torchvision does the quantisation in torch float32 tensor arithmetic; :func:`block_widths`
repeats the same operations in the same order on Python floats rounded to float32 after each
one, so the widths are torchvision's (tests/test_zoo_regnet.py compares them with torch's on
random parameters). The generating parameters are numeric design variables: a formula keeps
only H and W symbolic, and ``cnncost sweep --set w_a=…`` varies them.

Node names are torchvision's module paths (``trunk_output.block2.block2-0.f.se.fc1``); the
functional flatten gets the extra name ``flatten``. A squeeze-excitation is the gate
``x · sigmoid(fc2(relu(fc1(avgpool(x)))))``: a Residual with op mul and the identity as its
shortcut, as the ``--module`` importer turns torchvision's SqueezeExcitation into nodes.
"""

from __future__ import annotations

import math
import struct
from functools import partial
from typing import NamedTuple

from .. import layers as L
from .registry import Param, ParameterError, input_size_params, register
from .rounding import make_divisible

QUANT = 8  # block widths are multiples of 8
STEM_WIDTH = 32  # torchvision's RegNet(stem_width=32)


class Generator(NamedTuple):
    """A RegNet's generating parameters: torchvision's from_init_params arguments."""

    depth: int  # blocks in all
    w_0: int  # initial width (a multiple of 8)
    w_a: float  # width slope: u_j = w_0 + w_a·j
    w_m: float  # quantisation: widths are w_0 times a whole power of w_m
    group_width: int  # channels per group of the 3×3 conv
    se_ratio: float = 0.0  # RegNetY's squeeze-excitation (0: none, RegNetX)
    crop: int = 224  # the published weights' input size


# torchvision's regnet_{x,y}_* builders' arguments (bottleneck multiplier 1.0 throughout).
NETWORKS = {
    "regnet_y_400mf": Generator(16, 48, 27.89, 2.09, 8, 0.25),
    "regnet_y_800mf": Generator(14, 56, 38.84, 2.4, 16, 0.25),
    "regnet_y_1_6gf": Generator(27, 48, 20.71, 2.65, 24, 0.25),
    "regnet_y_3_2gf": Generator(21, 80, 42.63, 2.66, 24, 0.25),
    "regnet_y_8gf": Generator(17, 192, 76.82, 2.19, 56, 0.25),
    "regnet_y_16gf": Generator(18, 200, 106.23, 2.48, 112, 0.25),
    "regnet_y_32gf": Generator(20, 232, 115.89, 2.53, 232, 0.25),
    "regnet_y_128gf": Generator(27, 456, 160.83, 2.52, 264, 0.25, crop=384),  # SWAG weights: 384×384
    "regnet_x_400mf": Generator(22, 24, 24.48, 2.54, 16),
    "regnet_x_800mf": Generator(16, 56, 35.73, 2.28, 16),
    "regnet_x_1_6gf": Generator(18, 80, 34.01, 2.25, 24),
    "regnet_x_3_2gf": Generator(25, 88, 26.31, 2.25, 48),
    "regnet_x_8gf": Generator(23, 80, 49.56, 2.88, 120),
    "regnet_x_16gf": Generator(22, 216, 55.59, 2.1, 128),
    "regnet_x_32gf": Generator(23, 320, 69.86, 2.0, 168),
}

W_A_SPAN = (0.0, 1000.0)  # the slope: 128GF's is 160.83; 0 gives one stage of width w_0
W_M_SPAN = (1.0, 10.0)  # the quantisation base: published ones lie in 2.0–2.88; it must exceed 1
BOTTLENECK_SPAN = (0.0, 8.0)  # published RegNets use 1.0; it must be positive
SE_SPAN = (0.0, 1.0)  # 0.25 for RegNetY, 0 (no SE) for RegNetX


class Stage(NamedTuple):
    """One stage after torchvision's compatibility adjustment."""

    width: int  # output channels of every block
    depth: int  # blocks
    group_width: int  # channels per group of the 3×3 conv (at most the bottleneck width)


def f32(x: float) -> float:
    """``x`` rounded to the nearest float32, as a torch float32 tensor stores it.

    An operation on two float32 values done in float64 and then rounded is the correctly
    rounded float32 operation (+, ×, ÷: double rounding is harmless at 53 ≥ 2·24 + 2 bits).
    """
    return struct.unpack("f", struct.pack("f", x))[0]


def block_widths(depth: int, w_0: int, w_a: float, w_m: float) -> list:
    """The width of each of the ``depth`` blocks, in torchvision's float32 operations:

    ``widths_cont = arange(depth) · w_a + w_0``;
    ``capacity = round(log(widths_cont / w_0) / log(w_m))``;
    ``round(w_0 · w_m^capacity / 8) · 8``. Python scalars meet float32 tensors as float32
    (``w_a``, ``w_m`` and ``math.log(w_m)`` are rounded first); torch.round and Python's
    round both round half to even.
    """
    wa, wm, w0, log_wm = f32(w_a), f32(w_m), f32(w_0), f32(math.log(w_m))
    widths = []
    for j in range(depth):
        cont = f32(f32(j * wa) + w0)
        capacity = round(f32(f32(math.log(f32(cont / w0))) / log_wm))
        quantised = f32(w0 * f32(wm ** capacity))
        widths.append(int(round(f32(quantised / QUANT)) * QUANT))
    return widths


def stages(gen: Generator, bottleneck_multiplier: float = 1.0) -> tuple:
    """The stages of a RegNet: runs of equal block widths, then each width made compatible
    with its group width (torchvision's ``_adjust_widths_groups_compatibilty``): the
    bottleneck width rounded to a multiple of min(group width, bottleneck width), divided
    back by the multiplier."""
    runs: list = []
    for width in block_widths(gen.depth, gen.w_0, gen.w_a, gen.w_m):
        if runs and runs[-1][0] == width:
            runs[-1][1] += 1
        else:
            runs.append([width, 1])
    adjusted = []
    for width, depth in runs:
        bottleneck = int(width * bottleneck_multiplier)
        if bottleneck < 1:
            raise ParameterError("bottleneck_multiplier", f"{bottleneck_multiplier:g} leaves a stage of width "
                                 f"{width} no bottleneck channels")
        group_width = min(gen.group_width, bottleneck)
        adjusted.append(Stage(int(make_divisible(bottleneck, group_width) / bottleneck_multiplier), depth,
                              group_width))
    return tuple(adjusted)


def conv_bn(name: str, out_channels, kernel_size: int, stride=1, groups=1, relu: bool = True) -> L.Sequential:
    """torchvision's Conv2dNormActivation at ``name``: conv (padding (k−1)/2, no bias) → BN → ReLU."""
    nodes = (L.Conv2d(f"{name}.0", out_channels, kernel_size, stride, (kernel_size - 1) // 2, groups=groups,
                      bias=False),
             L.BatchNorm2d(f"{name}.1"))
    return L.Sequential(name, nodes + (L.Activation(f"{name}.2"),) if relu else nodes)


def squeeze_excitation(name: str, channels: int, squeeze: int) -> L.Residual:
    """x · sigmoid(fc2(relu(fc1(avgpool(x))))): 1×1 convs with bias down to ``squeeze`` and back."""
    gate = (L.AdaptiveAvgPool2d(f"{name}.avgpool", 1),
            L.Conv2d(f"{name}.fc1", squeeze, 1),
            L.Activation(f"{name}.activation"),
            L.Conv2d(f"{name}.fc2", channels, 1),
            L.Activation(f"{name}.scale_activation", "sigmoid"))
    return L.Residual(name, gate, (), op="mul")


def block(name: str, in_width: int, stage: Stage, stride: int, bottleneck_multiplier: float,
          se_ratio: float) -> L.Residual:
    """ResBottleneckBlock: relu(x + f(x)), or relu(proj(x) + f(x)) with a 1×1/BN projection when
    width or stride change.

    f is BottleneckTransform: a (1×1), b (grouped 3×3, strided), se (RegNetY), c (1×1, no ReLU).
    """
    bottleneck = int(round(stage.width * bottleneck_multiplier))
    groups = bottleneck // stage.group_width
    if groups < 1 or bottleneck % groups:
        raise ParameterError("bottleneck_multiplier", f"{bottleneck_multiplier:g} gives a bottleneck of "
                             f"{bottleneck} channels, which {groups} groups (bottleneck // group width "
                             f"{stage.group_width}) cannot split evenly")
    body: tuple = (conv_bn(f"{name}.f.a", bottleneck, 1),
                   conv_bn(f"{name}.f.b", bottleneck, 3, stride, groups))
    if se_ratio:
        squeeze = int(round(se_ratio * in_width))  # follows the block's input width, not the bottleneck's
        if squeeze < 1:
            raise ParameterError("se_ratio", f"{se_ratio:g} leaves the squeeze-excitation of a block of input "
                                 f"width {in_width} no channels")
        body += (squeeze_excitation(f"{name}.f.se", bottleneck, squeeze),)
    body += (conv_bn(f"{name}.f.c", stage.width, 1, relu=False),)
    f = (L.Sequential(f"{name}.f", body),)
    after = (L.Activation(f"{name}.activation"),)
    if in_width != stage.width or stride != 1:
        # torchvision computes proj(x) + f(x) (and registers proj first): the same order here, so the
        # layers and the state_dict keys come in torchvision's order.
        return L.Residual(name, (conv_bn(f"{name}.proj", stage.width, 1, stride, relu=False),), f, after)
    return L.Residual(name, f, (), after)


def trunk(stage_list: tuple, stem_width: int, bottleneck_multiplier: float, se_ratio: float) -> tuple:
    """trunk_output.block1 … blockN, the blocks of stage i named ``block{i}-{j}``; each stage's
    first block takes the previous stage's width and strides by 2. The stages are top-level nodes
    (torchvision's trunk_output holds no state of its own), so a per-block cost table is per stage."""
    nodes, width = [], stem_width
    for i, stage in enumerate(stage_list, 1):
        prefix = f"trunk_output.block{i}"
        blocks = []
        for j in range(stage.depth):
            blocks.append(block(f"{prefix}.block{i}-{j}", width, stage, 2 if j == 0 else 1, bottleneck_multiplier,
                                se_ratio))
            width = stage.width
        nodes.append(L.Sequential(prefix, tuple(blocks)))
    return tuple(nodes)


def size_names(count: int) -> dict:
    """H1, W1 for the stem and H2, W2 … for each stage's entry (its strided 3×3 conv and its
    projection give the same size); the squeeze-excitation pools' 1×1 outputs are numbers."""
    names = {"stem.0": ("H1", "W1")}
    for i in range(1, count + 1):
        block0 = f"trunk_output.block{i}.block{i}-0"
        names[f"{block0}.f.b.0"] = names[f"{block0}.proj.0"] = (f"H{i + 1}", f"W{i + 1}")
    return names


def regnet(h, w, name: str, depth: int, w_0: int, w_a: float, w_m: float, group_width: int,
           bottleneck_multiplier: float = 1.0, se_ratio: float = 0.0, stem_width: int = STEM_WIDTH,
           classes=1000, in_channels=3) -> L.Network:
    """Build the RegNet generated by (depth, w_0, w_a, w_m, group_width, bottleneck_multiplier,
    se_ratio) for an in_channels×h×w input; ``name`` is the registered network it varies."""
    if w_0 % QUANT:
        raise ParameterError("w_0", f"{w_0} is not a multiple of {QUANT}")
    if w_m <= 1:
        raise ParameterError("w_m", f"{w_m:g} must be greater than 1")
    if bottleneck_multiplier <= 0:
        raise ParameterError("bottleneck_multiplier", f"{bottleneck_multiplier:g} must be positive")
    stage_list = stages(Generator(depth, w_0, w_a, w_m, group_width), bottleneck_multiplier)
    layers = ((conv_bn("stem", stem_width, 3, 2),) + trunk(stage_list, stem_width, bottleneck_multiplier, se_ratio)
              + (L.AdaptiveAvgPool2d("avgpool", (1, 1)), L.Flatten("flatten"), L.Linear("fc", classes)))
    return L.Network(name, (in_channels, h, w), layers, size_names(len(stage_list)), top="avgpool")


def params(gen: Generator) -> tuple:
    """The declarations of one RegNet: input size, the generating parameters (its defaults), stem, classes."""
    return input_size_params(gen.crop) + (
        Param("depth", gen.depth, "blocks in all (the widths' generator runs over 0 … depth − 1)"),
        Param("w_0", gen.w_0, "initial width, a multiple of 8", minimum=QUANT),
        Param("w_a", gen.w_a, "width slope: block j's width before quantisation is w_0 + w_a·j", span=W_A_SPAN),
        Param("w_m", gen.w_m, "width quantisation: widths are w_0 · w_m^k rounded to 8 (> 1)", span=W_M_SPAN),
        Param("group_width", gen.group_width, "channels per group of each block's 3×3 conv"),
        Param("bottleneck_multiplier", 1.0, "bottleneck width / block width", span=BOTTLENECK_SPAN),
        Param("se_ratio", gen.se_ratio, "squeeze-excitation width / block input width (0: no SE)", span=SE_SPAN),
        Param("stem_width", STEM_WIDTH, "channels of the 3×3/2 stem conv"),
        Param("classes", 1000, "output classes", meaning="output classes"),
        Param("in_channels", 3, "input channels"),
    )


def title(name: str) -> str:
    """RegNetY-400MF, RegNetX-1.6GF: the paper's spelling of a torchvision name."""
    _, kind, *size = name.split("_")
    return f"RegNet{kind.upper()}-{'.'.join(size).upper()}"


def _register_all() -> None:
    """Register regnet_x_400mf … regnet_x_32gf and regnet_y_400mf … regnet_y_128gf; each description
    lists the stages its generator gives."""
    for name, gen in NETWORKS.items():
        stage_list = stages(gen)
        se = f", squeeze-excitation {gen.se_ratio:g}" if gen.se_ratio else ""
        register(name, params(gen),
                 f"{title(name)}: {gen.depth} bottleneck blocks in stages of "
                 f"{', '.join(str(s.depth) for s in stage_list)}, widths "
                 f"{', '.join(str(s.width) for s in stage_list)}, group width {gen.group_width}{se}, avg-pool, fc",
                 "Radosavovic et al. 2020, \"Designing Network Design Spaces\" (arXiv:2003.13678); "
                 "torchvision.models." + name,
                 torchvision=name)(partial(regnet, name=name))


_register_all()
