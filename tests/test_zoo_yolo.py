"""darknet53 and yolov3 against a YOLOv3 written in plain torch from darknet's cfg layout
(tests/data/yolov3_reference.py), and cnncost verify's full comparison at two sizes."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import cnncost
import zoo
from cnncost import archs
from cnncost.cli import main
from tests.data import yolov3_reference as reference
from tests.zoo_helpers import flop_counter_macs, numel, on_meta

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class _WithPool(nn.Module):
    """Darknet-53 as a classifier: the backbone, global average pool, fc."""

    def __init__(self, classes: int = 1000):
        super().__init__()
        self.backbone, self.fc = reference.Darknet53(), nn.Linear(1024, classes)

    def forward(self, x):
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(self.backbone(x)[2], 1), 1))


def _macs(module: nn.Module, h: int, w: int) -> int:
    with torch.no_grad():
        return flop_counter_macs(module, h, w)


@pytest.mark.parametrize("h, w", [(416, 416), (64, 96), (160, 128)])
def test_yolov3_counts_equal_the_reference(h, w):
    table = cnncost.count("yolov3", h=h, w=w)
    model = on_meta(reference.YOLOv3)
    assert table.total("params") == numel(model)
    assert table.total("macs") == _macs(model, h, w)


def test_darknet53_counts_equal_the_reference():
    table = cnncost.count("darknet53", h=256, w=192)
    model = on_meta(_WithPool)
    assert table.total("params") == numel(model) and table.total("macs") == _macs(model, 256, 192)


def test_the_three_outputs_are_the_three_scales():
    model = zoo.build("yolov3", h=64, w=96, classes=3).eval()
    outs = model(torch.zeros(1, 3, 64, 96))
    assert [tuple(o.shape) for o in outs] == [(1, 24, 2, 3), (1, 24, 4, 6), (1, 24, 8, 12)]  # 3·(5 + 3)
    with torch.device("meta"):
        ours = zoo.build("yolov3", h=64, w=96, classes=3)
        theirs = reference.YOLOv3(classes=3)
    assert [tuple(o.shape) for o in ours(torch.zeros(1, 3, 64, 96, device="meta"))] == \
        [tuple(o.shape) for o in theirs(torch.zeros(1, 3, 64, 96, device="meta"))]


@pytest.mark.parametrize("name, h, w", [("yolov3", 64, 96), ("yolov3", 96, 64), ("darknet53", 64, 80)])
def test_verify_agrees_with_every_tool(name, h, w):
    from zoo.verify import verify

    result = verify(archs.get(name).build(**archs.resolve(archs.get(name), {"h": h, "w": w})))
    assert result.ok


def test_the_closed_form_is_for_multiples_of_32_and_equals_the_count():
    from cnncost import symbolic
    from cnncost.conventions import totals

    derivation = symbolic.derive("yolov3")
    assert derivation.divisible == 32
    for h, w in ((32, 64), (416, 608)):
        values = {symbolic.symbol("h"): h, symbolic.symbol("w"): w}
        numeric = totals(cnncost.count("yolov3", h=h, w=w))
        assert all(derivation.formulas[q].xreplace(values) == numeric[q] for q in ("params", "macs"))


def test_a_size_that_is_not_a_multiple_of_32_is_one_line(capsys):
    assert main(["count", "yolov3", "--h", "100", "--w", "96"]) == 2
    assert capsys.readouterr().err == "error: --h: 100 is out of range (need a multiple of 32)\n"


def test_training_a_detector_is_refused_in_one_line(tmp_path, capsys):
    code = main(["train", "yolov3", "--img-size", "64", "--synthetic-size", "40", "--epochs", "1",
                 "--out", str(tmp_path / "run"), "--quiet"])
    assert code == 2
    assert capsys.readouterr().err == ("error: yolov3: outputs 45×8×8 maps at several scales, not one score per "
                                       "class; cnncost train trains classifiers (detection training is out of "
                                       "scope)\n")
    assert not (tmp_path / "run").exists()
