"""Published figures the family pages quote beside the engine's numbers.

Quotations, not derivations: ``tests/test_docs.py`` checks them against the
torchvision state_dict manifest (``tests/data/``) and the GFLOPS table of
``tests/test_published_figures.py``, so the pages and the tests cannot disagree.
"""

from __future__ import annotations

from typing import NamedTuple

from .torchvision_figures import FIGURES

# torchvision's published (parameters, GFLOPS), by model name (see torchvision_figures).
TORCHVISION = {name: (params, gflops) for name, (params, gflops, _) in FIGURES.items()}


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
    """MACs in torchvision's GFLOPS unit: 10⁹ multiply-accumulates, three decimals as it publishes them."""
    return round(macs / 1e9, 3)
