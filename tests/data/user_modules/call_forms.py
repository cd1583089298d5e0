"""One small residual network, each layer written in a chosen idiom (module, F.*, torch.*, method).

``Forms(relu=..., pool=..., gap=..., add=...)`` picks the idiom of each layer kind;
``make`` is the all-functional one for ``--module`` specs.
"""

import torch
import torch.nn.functional as F
from torch import nn

RELU = ("module", "function", "torch", "method", "inplace")
POOL = ("module", "function")
GAP = ("module", "function", "avg_size", "max_shape")
ADD = ("operator", "iadd", "torch", "method", "method_")


class Forms(nn.Module):
    """conv → relu → maxpool → residual(conv, relu) → global pool → linear."""

    def __init__(self, relu="module", pool="module", gap="module", add="operator", relu2="module"):
        super().__init__()
        self.relu_form, self.pool_form, self.gap_form, self.add_form, self.relu2_form = relu, pool, gap, add, relu2
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.relu2 = nn.ReLU()
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 5)

    def _relu(self, x, form, module):
        if form == "module":
            return module(x)
        if form == "function":
            return F.relu(x)
        if form == "torch":
            return torch.relu(x)
        if form == "method":
            return x.relu()
        return F.relu(x, inplace=True)

    def forward(self, x):
        x = self._relu(self.conv1(x), self.relu_form, self.relu)
        x = self.pool(x) if self.pool_form == "module" else F.max_pool2d(x, 2)
        y = self._relu(self.conv2(x), self.relu2_form, self.relu2)
        if self.add_form == "operator":
            x = y + x
        elif self.add_form == "iadd":
            y += x
            x = y
        elif self.add_form == "torch":
            x = torch.add(y, x)
        elif self.add_form == "method":
            x = y.add(x)
        else:
            x = y.add_(x)
        if self.gap_form == "module":
            x = self.gap(x)
        elif self.gap_form == "function":
            x = F.adaptive_avg_pool2d(x, 1)
        elif self.gap_form == "avg_size":
            x = F.avg_pool2d(x, x.size()[2:])
        else:
            x = F.max_pool2d(x, x.shape[2:])
        return self.fc(torch.flatten(x, 1))


def make():
    """Every layer written functionally, the add with torch.add."""
    return Forms(relu="function", pool="function", gap="function", add="torch", relu2="method")


class SquareKernel(nn.Module):
    """A kernel of one size taken from the input, for both axes: refused (global only when H = W)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        x = self.conv(x)
        return F.avg_pool2d(x, x.size(3))


class ManyUnsupported(nn.Module):
    """Twelve blocks, each with the same three unsupported constructs."""

    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList(Gate() for _ in range(12))

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return x


class Gate(nn.Module):
    """A block with three constructs that have no counting rule: roll, cumsum, an LSTM."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)
        self.rnn = nn.LSTM(3, 3)

    def forward(self, x):
        x = torch.roll(self.conv(x), 1, 2)
        return self.rnn(x.cumsum(1))


class MyConv(nn.Conv2d):
    """A subclass that keeps Conv2d's forward (e.g. to add an attribute): ptflops hooks exact types."""


class MyLinear(nn.Linear):
    """A subclass of Linear that keeps its forward."""


class MyBatchNorm(nn.BatchNorm2d):
    """A subclass of BatchNorm2d that keeps its forward."""


class Subclassed(nn.Module):
    """conv → bn → relu → pool → linear, each layer a user's subclass of the torch module."""

    def __init__(self, subclass=True):
        super().__init__()
        conv, bn, linear = (MyConv, MyBatchNorm, MyLinear) if subclass else (nn.Conv2d, nn.BatchNorm2d, nn.Linear)
        self.conv = conv(3, 6, 3, padding=1)
        self.bn = bn(6)
        self.relu = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = linear(6, 4)

    def forward(self, x):
        return self.fc(self.flatten(self.pool(self.relu(self.bn(self.conv(x))))))
