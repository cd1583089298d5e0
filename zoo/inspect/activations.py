"""Activation maps: what chosen layers output for one image (forward hooks on the leaves).

``forward_to`` is the one place a partial forward pass happens: forward hooks
on the requested leaves keep their outputs, and once every one of them has
run, the pass stops (the layers after them would only cost time). The
guided-backpropagation and gradient-ascent views use it too.
"""

from __future__ import annotations

import contextlib

import torch

from . import layers

PANELS = 8  # default --layers: at most this many conv layers, spread evenly from the first to the last


class _Reached(Exception):
    """Raised by the last hook: every requested output is in, the rest of the pass is not needed."""


def forward_to(model, x: torch.Tensor, names: list) -> dict:
    """Outputs of the leaves ``names`` for input ``x`` (in the autograd graph when grad is enabled)."""
    outputs: dict = {}
    with _recording(model, names, outputs):
        try:
            model(x)
        except _Reached:
            pass
    missing = [name for name in names if name not in outputs]
    if missing:  # a leaf that the forward pass never calls (an auxiliary head in eval mode)
        raise ValueError(f"layers that did not run: {', '.join(missing)}")
    return outputs


@contextlib.contextmanager
def _recording(model, names: list, outputs: dict):
    wanted = set(names)

    def keep(name):
        def hook(module, inputs, output):
            outputs[name] = output
            if wanted <= outputs.keys():
                raise _Reached
        return hook

    handles = [model._leaves[name].register_forward_hook(keep(name)) for name in names]
    try:
        yield outputs
    finally:
        for handle in handles:
            handle.remove()


def activations(model, x: torch.Tensor, names: list) -> dict:
    """name -> the first image's output of that leaf ([C, H, W] for maps, [n] for vectors), float32 on the CPU."""
    with torch.no_grad():
        outputs = forward_to(model, x, names)
    return {name: outputs[name][0].detach().float().cpu() for name in names}


def default_layers(subject, panels: int = PANELS) -> tuple:
    """(chosen conv layers, how many there are): all of them, or ``panels`` spread evenly, first and last kept."""
    convs = layers.conv_names(subject)
    if len(convs) <= panels:
        return convs, len(convs)
    picks = sorted({round(i * (len(convs) - 1) / (panels - 1)) for i in range(panels)})
    return [convs[i] for i in picks], len(convs)


def channel_maps(output: torch.Tensor, limit: int) -> tuple:
    """(maps [n, H, W] each min-max scaled to [0, 1], channels in total) for drawing.

    The first ``limit`` channels are kept. A constant channel becomes 0 (black):
    in a ReLU network that is usually a dead one, all zeros for this image.
    A vector output ([n], a Linear layer) becomes one map, its values laid out
    row by row in a near-square grid, scaled as a whole.
    """
    if output.dim() == 1:
        side = int(torch.ceil(torch.sqrt(torch.tensor(float(output.numel())))).item())
        grid = torch.full((side * side,), float(output.min()))
        grid[: output.numel()] = output
        output = grid.view(1, side, side)
    total = output.shape[0]
    maps = output[:limit].float()
    low = maps.flatten(1).min(1).values.view(-1, 1, 1)
    span = maps.flatten(1).max(1).values.view(-1, 1, 1) - low
    scaled = torch.where(span > 0, (maps - low) / span.clamp_min(1e-30), torch.zeros_like(maps))
    return scaled, total
