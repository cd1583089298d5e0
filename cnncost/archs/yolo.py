"""darknet53 and yolov3: Redmon & Farhadi 2018, "YOLOv3: An Incremental Improvement".

Darknet-53 is 52 convolutions in five stages (a stride-2 3×3 conv, then 1, 2, 8, 8, 4 residual
blocks of a 1×1 conv to half the channels and a 3×3 conv back), every conv bias-free, followed by
BatchNorm and LeakyReLU(0.1); as a classifier it ends in a global average pool and a dense layer.

YOLOv3 puts three detection scales on it (H/32, H/16, H/8). Each scale runs five alternating
1×1/3×3 convs on its input (the "neck"), then a 3×3 conv and a 1×1 conv with bias to
3·(5 + classes) channels (three anchors: box, objectness, class scores). The coarser scales'
necks are reduced by a 1×1 conv, upsampled ×2 (nearest) and concatenated before the next finer
stage's features, as darknet's route layers do (upsampled first). The two coarser detection
heads are side outputs (``Auxiliary(training_only=False)``): counted in full, run at inference,
and returned by the module before the finest scale's. The upsampled and skipped sizes agree only
when H and W are multiples of 32; elsewhere the concatenation is refused. Detection training
(anchors, losses) is out of scope: these networks are for counting and verification.
"""

from __future__ import annotations

from .. import layers as L
from .registry import Param, input_size_params, register

STAGES = ((64, 1), (128, 2), (256, 8), (512, 8), (1024, 4))  # (channels, residual blocks) per stage
STEM = 32
LEAKY = (("negative_slope", 0.1),)


def conv(name: str, channels, k: int, stride: int = 1) -> L.Sequential:
    """Darknet's convolutional unit: k×k conv (padding k//2, no bias) → BatchNorm → LeakyReLU(0.1)."""
    return L.Sequential(name, (L.Conv2d(f"{name}.conv", channels, k, stride, k // 2, bias=False),
                               L.BatchNorm2d(f"{name}.bn"), L.Activation(f"{name}.act", "leaky_relu", LEAKY)))


def stage(i: int) -> L.Sequential:
    """Stage i: a stride-2 3×3 conv to its channels, then its residual blocks (1×1 to half, 3×3 back)."""
    channels, blocks = STAGES[i - 1]
    name = f"backbone.stage{i}"
    nodes: list = [conv(f"{name}.down", channels, 3, 2)]
    for j in range(blocks):
        nodes.append(L.Residual(f"{name}.{j}", (conv(f"{name}.{j}.conv1", channels // 2, 1),
                                                conv(f"{name}.{j}.conv2", channels, 3))))
    return L.Sequential(name, tuple(nodes))


def backbone(stages: tuple) -> tuple:
    """The stem conv and the given stages."""
    return (conv("backbone.stem", STEM, 3),) + tuple(stage(i) for i in stages)


def neck(name: str, channels) -> L.Sequential:
    """Five alternating convs: 1×1 to ``channels``, 3×3 to twice that, three times 1×1 and twice 3×3."""
    return L.Sequential(name, tuple(conv(f"{name}.{i}", channels * (2 if i % 2 else 1), 3 if i % 2 else 1)
                                    for i in range(5)))


def detect(name: str, channels, classes) -> tuple:
    """A detection head: 3×3 conv to twice ``channels``, then a 1×1 conv with bias to 3·(5 + classes)."""
    return (conv(f"{name}.0", channels * 2, 3), L.Conv2d(f"{name}.1", 3 * (5 + classes), 1))


def upsampled(name: str, channels) -> tuple:
    """A neck's output reduced by a 1×1 conv and upsampled ×2 for the next finer scale."""
    return (conv(f"{name}.reduce", channels, 1), L.Upsample(f"{name}.upsample", scale=2))


PARAMS_DARKNET = input_size_params(256) + (
    Param("classes", 1000, "output classes", meaning="output classes"),
    Param("in_channels", 3, "input channels"),
)
PARAMS_YOLO = input_size_params(416, multiple=32) + (
    Param("classes", 80, "object classes (COCO: 80)", meaning="object classes"),
    Param("in_channels", 3, "input channels"),
)


@register("darknet53", PARAMS_DARKNET, "Darknet-53: 52 convs in 5 residual stages, global pool, fc",
          "Redmon & Farhadi 2018 (arXiv:1804.02767), Table 1")
def darknet53(h, w, classes=1000, in_channels=3) -> L.Network:
    """The Darknet-53 classifier for an in_channels×h×w input."""
    head = (L.AdaptiveAvgPool2d("avgpool", (1, 1)), L.Flatten("flatten"), L.Linear("fc", classes))
    return L.Network("darknet53", (in_channels, h, w), backbone((1, 2, 3, 4, 5)) + head, top="avgpool")


@register("yolov3", PARAMS_YOLO, "YOLOv3: Darknet-53, three detection scales (H/32, H/16, H/8)",
          "Redmon & Farhadi 2018 (arXiv:1804.02767)")
def yolov3(h, w, classes=80, in_channels=3) -> L.Network:
    """YOLOv3 for an in_channels×h×w input (h and w multiples of 32); outputs 3·(5 + classes) channels
    at H/32, H/16 (side outputs) and H/8 (the main output)."""
    coarse = (stage(5), neck("neck32", 512), L.Auxiliary("detect32", detect("detect32", 512, classes), False))
    coarse += upsampled("neck32", 256)
    middle = (stage(4), L.Concat("route16", (coarse, ())), neck("neck16", 256),
              L.Auxiliary("detect16", detect("detect16", 256, classes), False)) + upsampled("neck16", 128)
    layers = backbone((1, 2, 3)) + (L.Concat("route8", (middle, ())), neck("neck8", 128)) + detect("detect8", 128,
                                                                                                     classes)
    return L.Network("yolov3", (in_channels, h, w), layers)
