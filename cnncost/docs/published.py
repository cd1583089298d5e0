"""Published figures the family pages quote beside the engine's numbers.

Quotations, not derivations: ``tests/test_docs.py`` checks them against the
torchvision state_dict manifest (``tests/data/``) and the GFLOPS table of
``tests/test_published_figures.py``, so the pages and the tests cannot disagree.
"""

from __future__ import annotations

from typing import NamedTuple

# torchvision's weight metadata (IMAGENET1K_V1): parameters and GFLOPS (multiply-accumulates
# of conv and linear layers, in units of 10⁹, two decimals) at 224×224 (Inception-v3: 299×299).
TORCHVISION = {
    "alexnet": (61_100_840, 0.71),
    "vgg11": (132_863_336, 7.61), "vgg11_bn": (132_868_840, 7.61),
    "vgg13": (133_047_848, 11.31), "vgg13_bn": (133_053_736, 11.31),
    "vgg16": (138_357_544, 15.47), "vgg16_bn": (138_365_992, 15.47),
    "vgg19": (143_667_240, 19.63), "vgg19_bn": (143_678_248, 19.63),
    "resnet18": (11_689_512, 1.81), "resnet34": (21_797_672, 3.66), "resnet50": (25_557_032, 4.09),
    "resnet101": (44_549_160, 7.80), "resnet152": (60_192_808, 11.51),
    "googlenet": (6_624_904, 1.50),
    "inception_v3": (27_161_264, 5.71),
    "mobilenet_v2": (3_504_872, 0.30),
}


class ReportFigure(NamedTuple):
    """A number a seed report prints, and the configuration it is about."""

    arch: str
    given: dict  # builder keywords of the configuration the report describes
    convention: str  # the cnncost convention the number is in
    value: int
    where: str  # report and place


_REPORT_000 = dict(m=64, k=3, n=128, h=100, w=100)
_CIFAR = dict(h=32, w=32, classes=10, padding="same")

REPORTS = (
    ReportFigure("scratch5", _REPORT_000, "params", 159_114, "report 000: total parameters"),
    ReportFigure("scratch5", _REPORT_000, "mults+adds", 233_603_072, "report 000: total computations"),
    ReportFigure("smallcnn", _CIFAR, "keras", 374_986, "report 003, Fig. 2: Keras \"Total params\""),
    ReportFigure("smallcnn", _CIFAR, "params", 374_858, "report 003, Fig. 2: \"Trainable params\""),
    ReportFigure("smallcnn", _CIFAR, "buffers", 128, "report 003, Fig. 2: \"Non-trainable params\""),
)


def gflops(macs: int) -> float:
    """MACs in torchvision's GFLOPS column: units of 10⁹, two decimals."""
    return round(macs / 1e9, 2)
