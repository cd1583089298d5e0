"""The YOLOv3 page: Darknet-53 and the three-scale detector (hand-written prose only)."""

from __future__ import annotations

from ..families import Family

FAMILIES = (
    Family(
        "yolo", "Darknet-53 and YOLOv3",
        "Report 000 uses YOLOv3 as it is. Darknet-53 (Redmon & Farhadi 2018) is 52 convolutions in "
        "five stages — a stride-2 3×3 convolution, then 1, 2, 8, 8 and 4 residual blocks of a 1×1 "
        "convolution to half the channels and a 3×3 back — each bias-free and followed by BatchNorm "
        "and LeakyReLU(0.1); as a classifier it ends in a global average pool and a dense layer. "
        "YOLOv3 puts three detection scales on it, at H/32, H/16 and H/8: five alternating 1×1/3×3 "
        "convolutions per scale, then a 3×3 and a 1×1 convolution with bias to 3·(5 + classes) "
        "channels (three anchors: box, objectness, class scores). A coarser scale is reduced by a 1×1 "
        "convolution, upsampled ×2 and concatenated before the finer stage's features, as darknet's "
        "route layers do. The upsampled and the skipped sizes agree only when H and W are multiples of "
        "32, so YOLOv3's sizes must be (a one-line error otherwise) and its closed forms assume it. "
        "The two coarser detection heads are side outputs: counted in full, run at inference, returned "
        "by the module before the finest scale's. Detection training is out of scope.",
        ("darknet53", "yolov3"),
        costs_by="block",
        notes=(
            "Checked against a YOLOv3 written in plain torch from darknet's cfg layout "
            "(`tests/data/yolov3_reference.py`): parameters, FlopCounterMode's MACs and the three "
            "output shapes, at 416×416 and at non-square sizes, and `cnncost verify` (fvcore and "
            "ptflops per layer) at two sizes. YOLOv3 at 416×416 with 80 classes: 61,949,149 "
            "parameters and 32.9 GMACs (65.9 GFLOPs).",
        ),
    ),
)
