"""SqueezeNet 1.0 and 1.1 as torchvision builds them (Fire modules; the classifier is a 1×1 convolution)."""

import torch
import torch.nn.functional as F
from torch import nn

MODELS = ("squeezenet1_0", "squeezenet1_1")
VARIANTS = {"squeezenet1_1_functional": "squeezenet1_1"}


class Fire(nn.Module):
    """1×1 squeeze, then 1×1 and 3×3 expands concatenated along the channels."""

    def __init__(self, inplanes: int, squeeze_planes: int, expand1x1_planes: int, expand3x3_planes: int) -> None:
        super().__init__()
        self.inplanes = inplanes
        self.squeeze = nn.Conv2d(inplanes, squeeze_planes, kernel_size=1)
        self.squeeze_activation = nn.ReLU(inplace=True)
        self.expand1x1 = nn.Conv2d(squeeze_planes, expand1x1_planes, kernel_size=1)
        self.expand1x1_activation = nn.ReLU(inplace=True)
        self.expand3x3 = nn.Conv2d(squeeze_planes, expand3x3_planes, kernel_size=3, padding=1)
        self.expand3x3_activation = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The two expands of the squeezed input, side by side."""
        x = self.squeeze_activation(self.squeeze(x))
        return torch.cat(
            [self.expand1x1_activation(self.expand1x1(x)), self.expand3x3_activation(self.expand3x3(x))], 1
        )


class FunctionalFire(Fire):
    """The same Fire module calling ``F.relu`` instead of its (parameter-free) ReLU modules."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The two expands of the squeezed input, side by side."""
        x = F.relu(self.squeeze(x), inplace=True)
        return torch.cat([F.relu(self.expand1x1(x)), F.relu(self.expand3x3(x))], dim=1)


class SqueezeNet(nn.Module):
    """Fire modules between max pools; a 1×1 conv classifier, ReLU and global average pool."""

    def __init__(self, version: str = "1_0", num_classes: int = 1000, dropout: float = 0.5,
                 fire: type = Fire) -> None:
        super().__init__()
        self.num_classes = num_classes
        if version == "1_0":
            self.features = nn.Sequential(
                nn.Conv2d(3, 96, kernel_size=7, stride=2),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
                fire(96, 16, 64, 64),
                fire(128, 16, 64, 64),
                fire(128, 32, 128, 128),
                nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
                fire(256, 32, 128, 128),
                fire(256, 48, 192, 192),
                fire(384, 48, 192, 192),
                fire(384, 64, 256, 256),
                nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
                fire(512, 64, 256, 256),
            )
        elif version == "1_1":
            self.features = nn.Sequential(
                nn.Conv2d(3, 64, kernel_size=3, stride=2),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
                fire(64, 16, 64, 64),
                fire(128, 16, 64, 64),
                nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
                fire(128, 32, 128, 128),
                fire(256, 32, 128, 128),
                nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
                fire(256, 48, 192, 192),
                fire(384, 48, 192, 192),
                fire(384, 64, 256, 256),
                fire(512, 64, 256, 256),
            )
        else:
            raise ValueError(f"Unsupported SqueezeNet version {version}: 1_0 or 1_1 expected")

        final_conv = nn.Conv2d(512, self.num_classes, kernel_size=1)
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout), final_conv, nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d((1, 1))
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                if m is final_conv:
                    nn.init.normal_(m.weight, mean=0.0, std=0.01)
                else:
                    nn.init.kaiming_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class scores of an N×3×H×W batch."""
        x = self.features(x)
        x = self.classifier(x)
        return torch.flatten(x, 1)


def squeezenet1_0() -> SqueezeNet:
    """torchvision's squeezenet1_0(weights=None)."""
    return SqueezeNet("1_0")


def squeezenet1_1() -> SqueezeNet:
    """torchvision's squeezenet1_1(weights=None)."""
    return SqueezeNet("1_1")


def squeezenet1_1_functional() -> SqueezeNet:
    """squeezenet1_1 whose Fire modules call ``F.relu``."""
    return SqueezeNet("1_1", fire=FunctionalFire)


for _factory in (*MODELS, *VARIANTS):
    globals()[_factory].input_size = (3, 224, 224)
