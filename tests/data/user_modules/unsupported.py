"""Modules cnncost must refuse, each naming what it cannot count."""

import torch
from torch import nn


class WithNorms(nn.Module):
    """An RMSNorm and a matmul with a free parameter: no counting rule for either."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.norm = nn.RMSNorm([8, 30, 30])
        self.flatten = nn.Flatten()
        self.scale = nn.Parameter(torch.ones(8 * 30 * 30, 4))
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        x = self.flatten(self.norm(self.conv(x)))
        return self.fc(torch.matmul(x, self.scale))


class WithLSTM(nn.Module):
    """A convolutional feature extractor feeding an LSTM."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.lstm = nn.LSTM(8, 16, batch_first=True)
        self.fc = nn.Linear(16, 2)

    def forward(self, x):
        x = self.conv(x).flatten(2).transpose(1, 2)
        out, _ = self.lstm(x)
        return self.fc(out[:, -1])


class SharedWeights(nn.Module):
    """The same convolution applied twice: its weights are shared."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(8, 8, 3, padding=1)
        self.stem = nn.Conv2d(3, 8, 3)

    def forward(self, x):
        return self.conv(self.conv(self.stem(x)))


class ViewConstant(nn.Module):
    """A flatten written view(-1, 512): right at one input size only."""

    input_size = (3, 8, 8)

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.fc = nn.Linear(512, 2)

    def forward(self, x):
        return self.fc(self.conv(x).view(-1, 512))


class TwoOutputs(nn.Module):
    """Returns a tuple."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)

    def forward(self, x):
        y = self.conv(x)
        return y, y


class UnusedHead(nn.Module):
    """A layer with parameters that never reaches the output."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.spare = nn.Linear(8, 8)

    def forward(self, x):
        return self.conv(x)


def not_a_module():
    """A factory returning something else."""
    return 42


class DataDependent(nn.Module):
    """Control flow on a tensor's value: torch.fx cannot trace it."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)

    def forward(self, x):
        y = self.conv(x)
        if y.sum() > 0:
            return y
        return -y
