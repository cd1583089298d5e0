"""Activation maximisation: images that excite chosen filters most, by gradient ascent on the input.

Regularised activation maximisation as in Erhan et al. 2009 ("Visualizing
higher-layer features of a deep network") and Yosinski et al. 2015
("Understanding neural networks through deep visualization"): start from a
grey image with a little seeded noise and follow the gradient of

    objective = mean activation of filter f over its map − l2 · mean(x²)

(``x`` the normalised input, so the penalty pulls towards the data's mean
colour), with Adam on the pixels. Two more regularisers keep the image from
turning into high-frequency noise that only this network's exact pixel grid
responds to: a random shift (jitter, a circular roll of up to ``jitter``
pixels) before every step, and a light Gaussian blur every ``blur_every``
steps. After every step the pixels are clamped to [0, 1], the range of real
images. All filters ascend together as one batch (the model is in eval mode,
so the images do not interact).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import torch
import torch.nn.functional as F

from .activations import forward_to
from .source import to_input

STEPS = 100  # default ascent steps
LR = 0.05  # Adam step size, in pixel units (images live in [0, 1])
L2 = 0.01  # weight of the L2 penalty on the normalised input
NOISE = 0.05  # standard deviation of the starting noise around grey 0.5
BLUR_EVERY, BLUR_SIGMA = 4, 0.5  # a Gaussian blur of this sigma (pixels) every this many steps
METHOD = "gradient ascent (Adam) from grey noise; jitter, blur and L2 regularisation"


class Ascent(NamedTuple):
    """Images that maximise filters, with each filter's mean activation before and after."""

    filters: list  # channel indices of the layer
    images: torch.Tensor  # [F, C, S, S] pixel values in [0, 1] (CPU)
    before: torch.Tensor  # [F] mean activation of each filter for its starting image
    after: torch.Tensor  # [F] the same for the final image
    steps: int


def maximize(subject, layer: str, filters: list, steps: int = STEPS, seed: int = 0, lr: float = LR,
             l2: float = L2, jitter: int | None = None, progress: Callable[[], None] | None = None) -> Ascent:
    """Gradient ascent on ``len(filters)`` images, image i maximising filter ``filters[i]`` of ``layer``.

    ``progress`` (if given) is called once after every step (a progress bar's ``advance``).
    """
    generator = torch.Generator().manual_seed(seed)
    shape = (len(filters), subject.channels, subject.size, subject.size)
    pixels = (0.5 + NOISE * torch.randn(shape, generator=generator)).clamp(0.0, 1.0).to(subject.device)
    pixels.requires_grad_(True)
    jitter = max(1, subject.size // 28) if jitter is None else jitter  # 8 pixels at 224, 1 at 32
    index = torch.tensor(filters, device=subject.device)
    before = _mean_activation(subject, layer, pixels.detach(), index)
    optimiser = torch.optim.Adam([pixels], lr=lr)
    for step in range(steps):
        shift = torch.randint(-jitter, jitter + 1, (2,), generator=generator).tolist()
        with torch.enable_grad():
            x = to_input(torch.roll(pixels, shifts=shift, dims=(2, 3)), subject)
            objective = _filter_means(subject, layer, x, index).sum() - l2 * x.pow(2).mean(dim=(1, 2, 3)).sum()
            optimiser.zero_grad()
            (-objective).backward(inputs=[pixels])  # only the pixels' gradient: the weights get none
        optimiser.step()
        with torch.no_grad():
            if BLUR_EVERY and (step + 1) % BLUR_EVERY == 0 and step + 1 < steps:
                pixels.copy_(blur(pixels, BLUR_SIGMA))
            pixels.clamp_(0.0, 1.0)
        if progress is not None:
            progress()
    after = _mean_activation(subject, layer, pixels.detach(), index)
    return Ascent(list(filters), pixels.detach().float().cpu(), before, after, steps)


def _filter_means(subject, layer: str, x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """[F] mean activation of filter index[i] of ``layer`` for image i of ``x``."""
    maps = forward_to(subject.model, x, [layer])[layer]
    return maps[torch.arange(len(index), device=maps.device), index].flatten(1).mean(1)


def _mean_activation(subject, layer: str, pixels: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return _filter_means(subject, layer, to_input(pixels, subject), index).float().cpu()


def blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """A Gaussian blur of [N, C, H, W] images, per channel, edges replicated (3σ kernel radius, at least 1)."""
    radius = max(1, int(3 * sigma + 0.5))
    offsets = torch.arange(-radius, radius + 1, dtype=images.dtype, device=images.device)
    kernel = torch.exp(-offsets ** 2 / (2 * sigma ** 2))
    kernel = kernel / kernel.sum()
    channels = images.shape[1]
    padded = F.pad(images, (radius, radius, radius, radius), mode="replicate")
    rows = F.conv2d(padded, kernel.view(1, 1, 1, -1).repeat(channels, 1, 1, 1), groups=channels)
    return F.conv2d(rows, kernel.view(1, 1, -1, 1).repeat(channels, 1, 1, 1), groups=channels)
