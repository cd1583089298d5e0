"""VGG 11/13/16/19, with and without BatchNorm, as torchvision builds them (configurations A, B, D, E)."""

from typing import Dict, List, Union, cast

import torch
from torch import nn

MODELS = ("vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn")
VARIANTS = {"vgg11_view": "vgg11", "vgg16_bn_view": "vgg16_bn"}

# Output channels of each 3×3 convolution; "M" is a 2×2 max pool.
cfgs: Dict[str, List[Union[str, int]]] = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


class VGG(nn.Module):
    """A stack of 3×3 convolutions (``features``), a 7×7 adaptive pool and three Linear layers."""

    def __init__(self, features: nn.Module, num_classes: int = 1000, init_weights: bool = True,
                 dropout: float = 0.5) -> None:
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes),
        )
        if init_weights:
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                    if m.bias is not None:
                        nn.init.constant_(m.bias, 0)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)
                elif isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, 0, 0.01)
                    nn.init.constant_(m.bias, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class scores of an N×3×H×W batch."""
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        x = self.classifier(x)
        return x


class VGGView(VGG):
    """The same network, flattening the way much older user code does: ``x.view(x.size(0), -1)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class scores of an N×3×H×W batch."""
        x = self.avgpool(self.features(x))
        x = x.view(x.size(0), -1)
        return self.classifier(x)


def make_layers(cfg: List[Union[str, int]], batch_norm: bool = False) -> nn.Sequential:
    """The ``features`` Sequential of a configuration (conv[, BN], ReLU per entry; "M" pools)."""
    layers: List[nn.Module] = []
    in_channels = 3
    for v in cfg:
        if v == "M":
            layers += [nn.MaxPool2d(kernel_size=2, stride=2)]
        else:
            v = cast(int, v)
            conv2d = nn.Conv2d(in_channels, v, kernel_size=3, padding=1)
            if batch_norm:
                layers += [conv2d, nn.BatchNorm2d(v), nn.ReLU(inplace=True)]
            else:
                layers += [conv2d, nn.ReLU(inplace=True)]
            in_channels = v
    return nn.Sequential(*layers)


def _vgg(cfg: str, batch_norm: bool, cls: type = VGG) -> VGG:
    return cls(make_layers(cfgs[cfg], batch_norm=batch_norm))


def vgg11() -> VGG:
    """torchvision's vgg11(weights=None)."""
    return _vgg("A", False)


def vgg11_bn() -> VGG:
    """torchvision's vgg11_bn(weights=None)."""
    return _vgg("A", True)


def vgg13() -> VGG:
    """torchvision's vgg13(weights=None)."""
    return _vgg("B", False)


def vgg13_bn() -> VGG:
    """torchvision's vgg13_bn(weights=None)."""
    return _vgg("B", True)


def vgg16() -> VGG:
    """torchvision's vgg16(weights=None)."""
    return _vgg("D", False)


def vgg16_bn() -> VGG:
    """torchvision's vgg16_bn(weights=None)."""
    return _vgg("D", True)


def vgg19() -> VGG:
    """torchvision's vgg19(weights=None)."""
    return _vgg("E", False)


def vgg19_bn() -> VGG:
    """torchvision's vgg19_bn(weights=None)."""
    return _vgg("E", True)


def vgg11_view() -> VGG:
    """vgg11 flattening with ``x.view(x.size(0), -1)``."""
    return _vgg("A", False, VGGView)


def vgg16_bn_view() -> VGG:
    """vgg16_bn flattening with ``x.view(x.size(0), -1)``."""
    return _vgg("D", True, VGGView)


for _factory in (*MODELS, *VARIANTS):
    globals()[_factory].input_size = (3, 224, 224)
