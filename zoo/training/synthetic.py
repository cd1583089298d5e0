"""The built-in ``--data synthetic`` dataset: coloured shapes, 10 classes, no download.

Every image is a pure function of ``(seed, index)``: a noisy background and one
filled shape, placed, scaled, rotated and coloured at random. The class decides
the shape *and* a base hue; the hue is jittered so far that neighbouring
classes overlap in colour, so colour alone gets a network started and shape
finishes the job. A small CNN learns it well above chance in an epoch or two.
"""

from __future__ import annotations

import colorsys
import math

import numpy as np
from PIL import Image

# One name per class, in label order; the label of image ``index`` is ``index % 10``.
# Alphabetical, like the classes of an image folder: synthetic images written to disk
# in the train/<class>/ layout get the same labels back (evaluate, show predictions).
SHAPES = ["bar", "circle", "crescent", "cross", "diamond",
          "frame", "ring", "square", "star", "triangle"]
# Half the spacing between class hues is 0.05; ±0.08 makes neighbours overlap.
HUE_JITTER = 0.08
# The shape stays inside [MARGIN, 1 - MARGIN] of the image, so the centre crop
# of the eval transform (the middle 224/256 of the side) never cuts it.
MARGIN = 0.1


def label_of(index: int) -> int:
    """The class of synthetic image ``index``: classes take turns, so any range is balanced."""
    return index % len(SHAPES)


def render(seed: int, index: int, resolution: int = 64) -> Image.Image:
    """Synthetic image ``index`` as a ``resolution``² RGB PIL image, a pure function of (seed, index).

    Positions and sizes are fractions of the side, so the same (seed, index)
    draws the same picture at every resolution.
    """
    rng = np.random.default_rng([seed & (2**64 - 1), index])
    u, v = _placed_grid(rng, resolution)
    mask = _shape_mask(SHAPES[label_of(index)], u, v)
    background = rng.uniform(0.05, 0.45) + rng.normal(0.0, 0.06, (resolution, resolution, 1))
    colour = _class_colour(rng, label_of(index))
    pixels = np.where(mask[..., None], colour + rng.normal(0.0, 0.03, (resolution, resolution, 3)),
                      background)
    return Image.fromarray((np.clip(pixels, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8), "RGB")


def random_batch(batch: int, channels: int, size: int, classes: int, generator=None):
    """Random ``(images [batch, channels, size, size] float32, labels [batch] int64)`` tensors.

    For throughput benchmarks that must not wait on decoding: normal(0, 1) images
    (the scale of normalised inputs) and uniform labels, drawn from ``generator``
    (a ``torch.Generator``; None uses torch's global one).
    """
    import torch  # only this function needs torch; rendering is numpy + PIL

    images = torch.randn(batch, channels, size, size, generator=generator)
    labels = torch.randint(0, classes, (batch,), generator=generator)
    return images, labels


def _placed_grid(rng: np.random.Generator, resolution: int):
    """Pixel-centre coordinates in the shape's own frame: unit radius, random centre and rotation."""
    radius = rng.uniform(0.18, 0.3)
    cx, cy = rng.uniform(MARGIN + radius, 1.0 - MARGIN - radius, size=2)
    angle = rng.uniform(-math.pi / 12, math.pi / 12)  # ±15°: pose jitter, shapes stay recognisable
    ys, xs = (np.mgrid[0:resolution, 0:resolution] + 0.5) / resolution
    dx, dy = (xs - cx) / radius, (ys - cy) / radius
    cos, sin = math.cos(angle), math.sin(angle)
    return cos * dx + sin * dy, -sin * dx + cos * dy


def _shape_mask(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Boolean mask of ``shape`` in unit-radius coordinates (u right, v down)."""
    r = np.hypot(u, v)
    box = np.maximum(np.abs(u), np.abs(v))
    if shape == "circle":
        return r < 1.0
    if shape == "square":
        return box < 0.8
    if shape == "triangle":  # apex up, base at v = 0.7
        return (v < 0.7) & (v > 2.0 * np.abs(u) - 1.0)
    if shape == "cross":
        return ((np.abs(u) < 0.3) & (np.abs(v) < 1.0)) | ((np.abs(v) < 0.3) & (np.abs(u) < 1.0))
    if shape == "ring":
        return (r < 1.0) & (r > 0.6)
    if shape == "bar":
        return (np.abs(u) < 1.0) & (np.abs(v) < 0.3)
    if shape == "diamond":
        return np.abs(u) + np.abs(v) < 1.0
    if shape == "frame":
        return (box < 0.85) & (box > 0.55)
    if shape == "star":  # five points: the radius limit swings between 0.45 and 1
        return r < 0.45 + 0.55 * np.abs(np.cos(2.5 * np.arctan2(u, -v)))
    if shape == "crescent":
        return (r < 1.0) & (np.hypot(u - 0.5, v) > 0.75)
    raise ValueError(f"unknown synthetic shape {shape!r}")


def _class_colour(rng: np.random.Generator, label: int) -> np.ndarray:
    """A saturated, bright RGB colour near class ``label``'s hue."""
    hue = (label / len(SHAPES) + rng.uniform(-HUE_JITTER, HUE_JITTER)) % 1.0
    return np.array(colorsys.hsv_to_rgb(hue, rng.uniform(0.55, 1.0), rng.uniform(0.7, 1.0)))
