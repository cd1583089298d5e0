"""YOLOv3 and Darknet-53 written in plain torch as darknet's yolov3.cfg lays them out (a list of
layers with shortcut and route entries), independently of cnncost's description: the tests'
reference for parameters, MACs and the three outputs."""

import torch
from torch import nn


def unit(cin: int, cout: int, k: int, stride: int = 1) -> nn.Sequential:
    """[convolutional] batch_normalize=1, activation=leaky."""
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout),
                         nn.LeakyReLU(0.1))


class Darknet53(nn.Module):
    """The 52 convolutions of darknet53 (the cfg's first 75 layers); ``routes`` keeps the outputs
    after the third and fourth stage (layers 36 and 61)."""

    def __init__(self, cin: int = 3):
        super().__init__()
        self.layers, self.kinds = nn.ModuleList([unit(cin, 32, 3)]), ["conv"]
        c = 32
        for cout, blocks in ((64, 1), (128, 2), (256, 8), (512, 8), (1024, 4)):
            self.layers.append(unit(c, cout, 3, 2))
            self.kinds.append("conv")
            for _ in range(blocks):
                self.layers.append(nn.Sequential(unit(cout, cout // 2, 1), unit(cout // 2, cout, 3)))
                self.kinds.append("residual")
            self.kinds[-1] += "_end"  # a stage ends here
            c = cout

    def forward(self, x):
        """The three stage outputs the detector reads: strides 8, 16 and 32."""
        ends = []
        for layer, kind in zip(self.layers, self.kinds):
            x = x + layer(x) if kind.startswith("residual") else layer(x)
            if kind.endswith("_end"):
                ends.append(x)
        return ends[2], ends[3], ends[4]


class YOLOv3(nn.Module):
    """Darknet-53 and the three detection scales of yolov3.cfg (80 classes, 3 anchors per scale)."""

    def __init__(self, classes: int = 80):
        super().__init__()
        out = 3 * (5 + classes)
        self.backbone = Darknet53()
        self.neck32, self.head32 = self._neck(1024, 512), self._head(512, out)
        self.reduce32 = unit(512, 256, 1)
        self.neck16, self.head16 = self._neck(512 + 256, 256), self._head(256, out)
        self.reduce16 = unit(256, 128, 1)
        self.neck8, self.head8 = self._neck(256 + 128, 128), self._head(128, out)

    @staticmethod
    def _neck(cin: int, c: int) -> nn.Sequential:
        return nn.Sequential(unit(cin, c, 1), unit(c, 2 * c, 3), unit(2 * c, c, 1), unit(c, 2 * c, 3),
                             unit(2 * c, c, 1))

    @staticmethod
    def _head(c: int, out: int) -> nn.Sequential:
        return nn.Sequential(unit(c, 2 * c, 3), nn.Conv2d(2 * c, out, 1))

    def forward(self, x):
        """(stride-32, stride-16, stride-8) detections; route layers concatenate upsampled first."""
        x8, x16, x32 = self.backbone(x)
        p32 = self.neck32(x32)
        p16 = self.neck16(torch.cat([nn.functional.interpolate(self.reduce32(p32), scale_factor=2), x16], 1))
        p8 = self.neck8(torch.cat([nn.functional.interpolate(self.reduce16(p16), scale_factor=2), x8], 1))
        return self.head32(p32), self.head16(p16), self.head8(p8)
