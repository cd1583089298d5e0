"""ResNet, ResNeXt and Wide ResNet as torchvision builds them (BasicBlock / Bottleneck, stride in the 3×3)."""

from typing import Callable, List, Optional, Type, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

MODELS = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d", "resnext101_32x8d",
          "resnext101_64x4d", "wide_resnet50_2", "wide_resnet101_2")
VARIANTS = {"resnet18_functional": "resnet18", "resnet50_torch_add": "resnet50"}


def conv3x3(in_planes: int, out_planes: int, stride: int = 1, groups: int = 1, dilation: int = 1) -> nn.Conv2d:
    """3×3 convolution with padding, no bias (a BatchNorm follows)."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=dilation, groups=groups,
                     bias=False, dilation=dilation)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """1×1 convolution, no bias."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3×3 conv-BN pairs and a shortcut (downsampled when the shape changes)."""

    expansion: int = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: Optional[nn.Module] = None,
                 groups: int = 1, base_width: int = 64, dilation: int = 1,
                 norm_layer: Optional[Callable[..., nn.Module]] = None) -> None:
        super().__init__()
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        if groups != 1 or base_width != 64:
            raise ValueError("BasicBlock only supports groups=1 and base_width=64")
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        """relu(block(x) + shortcut(x))."""
        identity = x

        out = self.conv1(x)
        out = self.bn1(out)
        out = self.relu(out)

        out = self.conv2(out)
        out = self.bn2(out)

        if self.downsample is not None:
            identity = self.downsample(x)

        out += identity
        out = self.relu(out)

        return out


class Bottleneck(nn.Module):
    """1×1 reduce, 3×3 (grouped for ResNeXt, carrying the stride), 1×1 expand ×4, plus the shortcut."""

    expansion: int = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: Optional[nn.Module] = None,
                 groups: int = 1, base_width: int = 64, dilation: int = 1,
                 norm_layer: Optional[Callable[..., nn.Module]] = None) -> None:
        super().__init__()
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = norm_layer(width)
        self.conv2 = conv3x3(width, width, stride, groups, dilation)
        self.bn2 = norm_layer(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = norm_layer(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        """relu(block(x) + shortcut(x))."""
        identity = x

        out = self.conv1(x)
        out = self.bn1(out)
        out = self.relu(out)

        out = self.conv2(out)
        out = self.bn2(out)
        out = self.relu(out)

        out = self.conv3(out)
        out = self.bn3(out)

        if self.downsample is not None:
            identity = self.downsample(x)

        out += identity
        out = self.relu(out)

        return out


class FunctionalBasicBlock(BasicBlock):
    """BasicBlock as user code often writes it: ``F.relu`` calls, the shortcut chosen inline."""

    def forward(self, x: Tensor) -> Tensor:
        """relu(block(x) + shortcut(x))."""
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(out + shortcut)


class TorchAddBottleneck(Bottleneck):
    """Bottleneck adding its shortcut with ``torch.add`` and activating with ``x.relu()``."""

    def forward(self, x: Tensor) -> Tensor:
        """relu(block(x) + shortcut(x))."""
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return torch.add(out, identity).relu()


class ResNet(nn.Module):
    """7×7 stem and max pool, four stages of blocks (64, 128, 256, 512 planes), global pool, fc."""

    def __init__(self, block: Type[Union[BasicBlock, Bottleneck]], layers: List[int], num_classes: int = 1000,
                 zero_init_residual: bool = False, groups: int = 1, width_per_group: int = 64,
                 replace_stride_with_dilation: Optional[List[bool]] = None,
                 norm_layer: Optional[Callable[..., nn.Module]] = None) -> None:
        super().__init__()
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        self._norm_layer = norm_layer

        self.inplanes = 64
        self.dilation = 1
        if replace_stride_with_dilation is None:
            replace_stride_with_dilation = [False, False, False]
        if len(replace_stride_with_dilation) != 3:
            raise ValueError("replace_stride_with_dilation should be None or a 3-element tuple")
        self.groups = groups
        self.base_width = width_per_group
        self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = norm_layer(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2, dilate=replace_stride_with_dilation[0])
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2, dilate=replace_stride_with_dilation[1])
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2, dilate=replace_stride_with_dilation[2])
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

        # Each residual branch starts as zero, so every block starts as the identity.
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck) and m.bn3.weight is not None:
                    nn.init.constant_(m.bn3.weight, 0)
                elif isinstance(m, BasicBlock) and m.bn2.weight is not None:
                    nn.init.constant_(m.bn2.weight, 0)

    def _make_layer(self, block: Type[Union[BasicBlock, Bottleneck]], planes: int, blocks: int, stride: int = 1,
                    dilate: bool = False) -> nn.Sequential:
        norm_layer = self._norm_layer
        downsample = None
        previous_dilation = self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                conv1x1(self.inplanes, planes * block.expansion, stride),
                norm_layer(planes * block.expansion),
            )

        layers = []
        layers.append(block(self.inplanes, planes, stride, downsample, self.groups, self.base_width,
                            previous_dilation, norm_layer))
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, groups=self.groups, base_width=self.base_width,
                                dilation=self.dilation, norm_layer=norm_layer))

        return nn.Sequential(*layers)

    def _forward_impl(self, x: Tensor) -> Tensor:
        x = self.conv1(x)
        x = self.bn1(x)
        x = self.relu(x)
        x = self.maxpool(x)

        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        x = self.layer4(x)

        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        x = self.fc(x)

        return x

    def forward(self, x: Tensor) -> Tensor:
        """Class scores of an N×3×H×W batch."""
        return self._forward_impl(x)


def resnet18() -> ResNet:
    """torchvision's resnet18(weights=None)."""
    return ResNet(BasicBlock, [2, 2, 2, 2])


def resnet34() -> ResNet:
    """torchvision's resnet34(weights=None)."""
    return ResNet(BasicBlock, [3, 4, 6, 3])


def resnet50() -> ResNet:
    """torchvision's resnet50(weights=None)."""
    return ResNet(Bottleneck, [3, 4, 6, 3])


def resnet101() -> ResNet:
    """torchvision's resnet101(weights=None)."""
    return ResNet(Bottleneck, [3, 4, 23, 3])


def resnet152() -> ResNet:
    """torchvision's resnet152(weights=None)."""
    return ResNet(Bottleneck, [3, 8, 36, 3])


def resnext50_32x4d() -> ResNet:
    """torchvision's resnext50_32x4d(weights=None): 32 groups of 4 channels in the first stage."""
    return ResNet(Bottleneck, [3, 4, 6, 3], groups=32, width_per_group=4)


def resnext101_32x8d() -> ResNet:
    """torchvision's resnext101_32x8d(weights=None)."""
    return ResNet(Bottleneck, [3, 4, 23, 3], groups=32, width_per_group=8)


def resnext101_64x4d() -> ResNet:
    """torchvision's resnext101_64x4d(weights=None)."""
    return ResNet(Bottleneck, [3, 4, 23, 3], groups=64, width_per_group=4)


def wide_resnet50_2() -> ResNet:
    """torchvision's wide_resnet50_2(weights=None): bottlenecks twice as wide."""
    return ResNet(Bottleneck, [3, 4, 6, 3], width_per_group=64 * 2)


def wide_resnet101_2() -> ResNet:
    """torchvision's wide_resnet101_2(weights=None)."""
    return ResNet(Bottleneck, [3, 4, 23, 3], width_per_group=64 * 2)


def resnet18_functional() -> ResNet:
    """resnet18 whose blocks call ``F.relu`` and add ``out + shortcut``."""
    return ResNet(FunctionalBasicBlock, [2, 2, 2, 2])


def resnet50_torch_add() -> ResNet:
    """resnet50 whose blocks add with ``torch.add(out, identity)`` and activate with ``.relu()``."""
    return ResNet(TorchAddBottleneck, [3, 4, 6, 3])


for _factory in (*MODELS, *VARIANTS):
    globals()[_factory].input_size = (3, 224, 224)
