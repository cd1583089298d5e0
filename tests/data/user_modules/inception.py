"""An inception-like network: parallel branches joined with torch.cat, one branch split again."""

import torch
import torch.nn.functional as F
from torch import nn


class Inception(nn.Module):
    """1×1 | 1×1 → (1×3 | 3×1) | 3×3 max-pool → 1×1 branches, concatenated along channels."""

    def __init__(self, cin: int):
        super().__init__()
        self.b1 = nn.Conv2d(cin, 16, 1)
        self.b2 = nn.Conv2d(cin, 24, 1)
        self.b2a = nn.Conv2d(24, 16, (1, 3), padding=(0, 1))
        self.b2b = nn.Conv2d(24, 16, (3, 1), padding=(1, 0))
        self.pool = nn.MaxPool2d(3, stride=1, padding=1)
        self.b3 = nn.Conv2d(cin, 8, 1)

    def forward(self, x):
        b2 = F.relu(self.b2(x))
        b2 = torch.cat([self.b2a(b2), self.b2b(b2)], 1)
        return torch.cat([F.relu(self.b1(x)), b2, self.b3(self.pool(x))], dim=1)


class InceptionLike(nn.Module):
    """Stem, two inception blocks with a pool between, global average pool, classifier."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 32, 5, stride=2)
        self.inc1 = Inception(32)
        self.down = nn.MaxPool2d(2, ceil_mode=True)
        self.inc2 = Inception(56)
        self.gap = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(56, 5)

    def forward(self, x):
        x = self.inc2(self.down(self.inc1(F.relu(self.stem(x)))))
        return self.fc(self.gap(x).flatten(1))


def make():
    """The factory cnncost calls."""
    return InceptionLike()


make.input_size = (48, 40)  # (H, W): channels come from the stem
