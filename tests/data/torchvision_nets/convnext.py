"""ConvNeXt tiny, small, base and large as torchvision builds them (LayerNorm2d, Permute, layer scale)."""

from functools import partial
from typing import Any, Callable, List, Optional, Sequence

import torch
from torch import Tensor, nn

try:  # imported as part of the tests.data.torchvision_nets package
    from .ops import Conv2dNormActivation, LayerNorm2d, Permute, StochasticDepth
except ImportError:  # loaded from its path (cnncost count --module path/to/convnext.py:convnext_tiny)
    from ops import Conv2dNormActivation, LayerNorm2d, Permute, StochasticDepth

MODELS = ("convnext_tiny", "convnext_small", "convnext_base", "convnext_large")
VARIANTS: dict = {}


class CNBlock(nn.Module):
    """Depthwise 7×7, then in NHWC: LayerNorm, Linear ×4, GELU, Linear back; scaled, stochastic depth, + input."""

    def __init__(self, dim, layer_scale: float, stochastic_depth_prob: float,
                 norm_layer: Optional[Callable[..., nn.Module]] = None) -> None:
        super().__init__()
        if norm_layer is None:
            norm_layer = partial(nn.LayerNorm, eps=1e-6)

        self.block = nn.Sequential(
            nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim, bias=True),
            Permute([0, 2, 3, 1]),
            norm_layer(dim),
            nn.Linear(in_features=dim, out_features=4 * dim, bias=True),
            nn.GELU(),
            nn.Linear(in_features=4 * dim, out_features=dim, bias=True),
            Permute([0, 3, 1, 2]),
        )
        self.layer_scale = nn.Parameter(torch.ones(dim, 1, 1) * layer_scale)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob, "row")

    def forward(self, input: Tensor) -> Tensor:
        """input + stochastic_depth(layer_scale · block(input))."""
        result = self.layer_scale * self.block(input)
        result = self.stochastic_depth(result)
        result += input
        return result


class CNBlockConfig:
    """One stage: its width, the width of the downsampling layer after it (None for the last) and its depth."""

    def __init__(self, input_channels: int, out_channels: Optional[int], num_layers: int) -> None:
        self.input_channels = input_channels
        self.out_channels = out_channels
        self.num_layers = num_layers


class ConvNeXt(nn.Module):
    """4×4/4 patchify stem + LayerNorm2d, stages joined by LayerNorm2d + 2×2/2 convs, pool, norm, flatten, Linear."""

    def __init__(self, block_setting: List[CNBlockConfig], stochastic_depth_prob: float = 0.0,
                 layer_scale: float = 1e-6, num_classes: int = 1000, block: Optional[Callable[..., nn.Module]] = None,
                 norm_layer: Optional[Callable[..., nn.Module]] = None, **kwargs: Any) -> None:
        super().__init__()

        if not block_setting:
            raise ValueError("The block_setting should not be empty")
        elif not (isinstance(block_setting, Sequence) and all(isinstance(s, CNBlockConfig) for s in block_setting)):
            raise TypeError("The block_setting should be List[CNBlockConfig]")

        if block is None:
            block = CNBlock

        if norm_layer is None:
            norm_layer = partial(LayerNorm2d, eps=1e-6)

        layers: List[nn.Module] = []

        # Stem
        firstconv_output_channels = block_setting[0].input_channels
        layers.append(Conv2dNormActivation(3, firstconv_output_channels, kernel_size=4, stride=4, padding=0,
                                           norm_layer=norm_layer, activation_layer=None, bias=True))

        total_stage_blocks = sum(cnf.num_layers for cnf in block_setting)
        stage_block_id = 0
        for cnf in block_setting:
            # Bottlenecks
            stage: List[nn.Module] = []
            for _ in range(cnf.num_layers):
                # adjust stochastic depth probability based on the depth of the stage block
                sd_prob = stochastic_depth_prob * stage_block_id / (total_stage_blocks - 1.0)
                stage.append(block(cnf.input_channels, layer_scale, sd_prob))
                stage_block_id += 1
            layers.append(nn.Sequential(*stage))
            if cnf.out_channels is not None:
                # Downsampling
                layers.append(nn.Sequential(
                    norm_layer(cnf.input_channels),
                    nn.Conv2d(cnf.input_channels, cnf.out_channels, kernel_size=2, stride=2),
                ))

        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)

        lastblock = block_setting[-1]
        lastconv_output_channels = (
            lastblock.out_channels if lastblock.out_channels is not None else lastblock.input_channels
        )
        self.classifier = nn.Sequential(
            norm_layer(lastconv_output_channels), nn.Flatten(1), nn.Linear(lastconv_output_channels, num_classes)
        )

        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def _forward_impl(self, x: Tensor) -> Tensor:
        x = self.features(x)
        x = self.avgpool(x)
        x = self.classifier(x)
        return x

    def forward(self, x: Tensor) -> Tensor:
        """Class scores of an N×3×H×W batch."""
        return self._forward_impl(x)


def convnext_tiny() -> ConvNeXt:
    """torchvision's convnext_tiny(weights=None)."""
    block_setting = [CNBlockConfig(96, 192, 3), CNBlockConfig(192, 384, 3), CNBlockConfig(384, 768, 9),
                     CNBlockConfig(768, None, 3)]
    return ConvNeXt(block_setting, stochastic_depth_prob=0.1)


def convnext_small() -> ConvNeXt:
    """torchvision's convnext_small(weights=None)."""
    block_setting = [CNBlockConfig(96, 192, 3), CNBlockConfig(192, 384, 3), CNBlockConfig(384, 768, 27),
                     CNBlockConfig(768, None, 3)]
    return ConvNeXt(block_setting, stochastic_depth_prob=0.4)


def convnext_base() -> ConvNeXt:
    """torchvision's convnext_base(weights=None)."""
    block_setting = [CNBlockConfig(128, 256, 3), CNBlockConfig(256, 512, 3), CNBlockConfig(512, 1024, 27),
                     CNBlockConfig(1024, None, 3)]
    return ConvNeXt(block_setting, stochastic_depth_prob=0.5)


def convnext_large() -> ConvNeXt:
    """torchvision's convnext_large(weights=None)."""
    block_setting = [CNBlockConfig(192, 384, 3), CNBlockConfig(384, 768, 3), CNBlockConfig(768, 1536, 27),
                     CNBlockConfig(1536, None, 3)]
    return ConvNeXt(block_setting, stochastic_depth_prob=0.5)


for _factory in MODELS:
    globals()[_factory].input_size = (3, 224, 224)
