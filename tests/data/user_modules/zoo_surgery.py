"""User networks made by the usual PyTorch surgery on zoo networks (torchvision idioms)."""

import torch
from torch import nn

import zoo


def resnet18_backbone():
    """The feature extractor of torchvision tutorials: every child but the pool, flatten and fc."""
    model = zoo.build("resnet18", h=64, w=64)
    backbone = nn.Sequential(*list(model.children())[:-3])
    backbone.input_size = (3, 64, 64)
    return backbone


def resnet18_new_fc():
    """The fine-tuning idiom: the fc replaced by a new Linear layer."""
    model = zoo.build("resnet18", h=64, w=64)
    model.fc = nn.Linear(model.fc.in_features, 10)
    model.input_size = (3, 64, 64)
    return model


class TwoStages(nn.Module):
    """A user's forward that calls zoo stages and a block picked by index."""

    input_size = (3, 64, 72)

    def __init__(self):
        super().__init__()
        source = zoo.build("resnet18", h=64, w=72)
        self.stem = nn.Sequential(source.conv1, source.bn1, source.relu, source.maxpool)
        self.layer1, self.last = source.layer1, source.layer2[-1]
        self.widen = nn.Conv2d(64, 128, 1)
        self.fc = nn.Linear(128, 7)

    def forward(self, x):
        x = self.layer1(self.stem(x))
        x = self.last(self.widen(x))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


def two_stages():
    """TwoStages, as a factory."""
    return TwoStages()


def mobilenet_features():
    """MobileNetV2's ``features`` container alone."""
    model = zoo.build("mobilenet_v2", h=64, w=64).features
    model.input_size = (3, 64, 64)
    return model
