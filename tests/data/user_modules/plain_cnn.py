"""A small plain CNN written as users write them: modules in __init__, a straight forward."""

from torch import nn


class PlainCNN(nn.Module):
    """conv → BN → ReLU → pool, twice, then flatten → dense → dropout → dense (for 3×32×32 inputs)."""

    input_size = (3, 32, 32)  # the Linear layer below fixes the input size

    def __init__(self, classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        )
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(32 * 8 * 8, 64)
        self.act = nn.ReLU()
        self.drop = nn.Dropout(0.5)
        self.fc2 = nn.Linear(64, classes)

    def forward(self, x):
        return self.fc2(self.drop(self.act(self.fc1(self.flatten(self.features(x))))))


def make():
    """The factory cnncost calls (no arguments)."""
    return PlainCNN()


make.input_size = (3, 32, 32)
