"""A graph that is not series-parallel (a Wheatstone bridge): b uses both x and a."""

from torch import nn


class Bridge(nn.Module):
    """a = conv_a(x); b = conv_b(x) + a; out = conv_c(a) + conv_d(b)."""

    def __init__(self):
        super().__init__()
        self.conv_a = nn.Conv2d(3, 8, 3, padding=1)
        self.conv_b = nn.Conv2d(3, 8, 3, padding=1)
        self.conv_c = nn.Conv2d(8, 8, 3, padding=1)
        self.conv_d = nn.Conv2d(8, 8, 3, padding=1)

    def forward(self, x):
        a = self.conv_a(x)
        b = self.conv_b(x) + a
        return self.conv_c(a) + self.conv_d(b)
