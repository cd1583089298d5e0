"""Functions bound before ptflops patches torch.nn.functional: ptflops never sees these calls."""

import torch.nn.functional as F
from torch import nn
from torch.nn.functional import adaptive_avg_pool2d, interpolate, max_pool2d, relu, softmax


class Bound(nn.Module):
    """Every patched function called through a name bound at import, at __init__ or as a default."""

    input_size = (3, 12, 10)

    def __init__(self, act=F.gelu):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.act, self.pool = act, F.avg_pool2d
        self.fc = nn.Linear(4, 5)

    def forward(self, x):
        x = self.act(relu(self.conv(x)))
        x = max_pool2d(self.pool(x, 1), 2)
        y = interpolate(x, scale_factor=2, mode="area")  # the patched F.adaptive_avg_pool2d inside still counts
        x = y + F.interpolate(x, scale_factor=2)
        x = F.relu(adaptive_avg_pool2d(x, 1)).flatten(1)
        return softmax(self.fc(x), dim=1)
