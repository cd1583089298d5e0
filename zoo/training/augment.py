"""Training augmentation (``--augment SPEC``): kornia's operations on a whole batch, on the batch's device.

A spec (``zoo.runtime.augment_spec``: parsed there, without torch) is a comma-separated list of named
transforms, each with an optional value (``hflip,vflip,rotate=0.1,crop=0.35,pad-crop=4,jitter=0.2``).
Whatever order it is written in, the transforms run in the order of ``KINDS``:
the crop (``crop`` or ``pad-crop``), the flips, the rotation, the colour jitter
(``jitter=S``, or its parts ``brightness``, ``contrast``, ``saturation``), then
normalisation, then mixup or cutmix.

Where the randomness comes from (what exact resume relies on):

* the dataset hands over each training image un-augmented, as uint8 pixels
  (``base_side`` says at what size), with the image's key: a 63-bit number that
  is a pure function of (seed, epoch, index) (``loaders.ImageDataset``);
* every random parameter of an image (crop box, flips, angle, colour factors) is
  drawn from ``numpy.random.default_rng(key)``, so an augmented image does not
  depend on the batch size, the worker processes or what ran before;
* mixup and cutmix mix images of one batch: the pairing, λ and cutmix's box
  come from a generator seeded by (first image's key, batch length), so they
  follow the batch's composition — the same on a resumed run of the same batch
  size, different under another batch size or number of processes.

kornia is imported by the first augmented batch (it takes 0.4 s), so a run
without augmentation, and parsing a spec, never import it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch


from ..runtime.augment_spec import COLOURS, parse
from ..runtime.images import eval_resize

# Random resized crop: width/height ratio drawn log-uniformly from this range (torchvision's and Keras' default).
CROP_RATIO = (3 / 4, 4 / 3)
CROP_TRIES = 10  # torchvision's rejection sampling: ten boxes, then the whole image


# ---------------------------------------------------------------- what the dataset and collate carry


@dataclass(frozen=True)
class Recipe:
    """A parsed spec with what applying it needs: the output side and the normalisation."""

    transforms: tuple  # ((name, value), ...) in application order
    size: int  # side of the augmented images, pixels
    mean: tuple  # per-channel normalisation, applied after the pixel-space transforms
    std: tuple

    def value(self, name: str):
        """The value of transform ``name``; None when the spec does not have it (or it takes none)."""
        return dict(self.transforms).get(name)

    def has(self, name: str) -> bool:
        return any(given == name for given, _ in self.transforms)

    @property
    def base_side(self) -> int:
        """Side of the image the dataset delivers: the eval image (size) for most specs; for ``crop``, the
        square the eval transform crops from (round(size·256/224)), so the crop can reach past the eval border."""
        return eval_resize(self.size) if self.has("crop") else self.size


def recipe(spec, size: int, mean, std) -> Recipe | None:
    """The recipe of ``spec`` at ``size``; None when the spec augments nothing."""
    transforms = parse(spec)
    if not transforms:
        return None
    return Recipe(transforms, int(size), tuple(float(m) for m in mean), tuple(float(s) for s in std))


class SampleKey(NamedTuple):
    """What an augmented training image carries beside its pixels and label."""

    recipe: Recipe
    key: int  # pure function of (seed, epoch, index): seeds every random parameter of this image


class BatchPlan(NamedTuple):
    """An augmented batch's recipe and its images' keys (loaders.collate builds it; ``apply`` uses it)."""

    recipe: Recipe
    keys: tuple  # one int per image of the batch, in batch order


def plan_of(keys: list) -> BatchPlan:
    """The BatchPlan of a batch's SampleKeys."""
    return BatchPlan(keys[0].recipe, tuple(int(k.key) for k in keys))


class Mixed(NamedTuple):
    """Targets of a mixup/cutmix batch: image i is λ of itself and 1 − λ of its partner, another image of the
    batch."""

    first: object  # each image's own label (int64 [N])
    second: object  # the label of the image mixed into it
    weight: float  # λ, the share of the first image (for cutmix: 1 − the pasted box's area fraction)


def loss_of(criterion, logits, targets):
    """``criterion`` against ``targets``: labels as they are; a Mixed batch as
    λ·criterion(first) + (1 − λ)·criterion(second) (label smoothing and a per-sample reduction carry through)."""
    if isinstance(targets, Mixed):
        return targets.weight * criterion(logits, targets.first) + (1 - targets.weight) * criterion(
            logits, targets.second)
    return criterion(logits, targets)


def labels_of(targets):
    """The labels the training accuracy counts against: for a Mixed batch the dominant label of each image
    (its own when λ ≥ 0.5, its partner's otherwise)."""
    if isinstance(targets, Mixed):
        return targets.first if targets.weight >= 0.5 else targets.second
    return targets


# ---------------------------------------------------------------- random parameters


# Uniform numbers each transform takes from an image's stream: the crop's ten tries (area, ratio) and the
# winning box's position; the pad-crop offsets; one per flip; the angle; one per colour factor.
DRAWS = {"crop": 2 * CROP_TRIES + 2, "pad-crop": 2, "hflip": 1, "vflip": 1, "rotate": 1, "jitter": 3,
         "brightness": 1, "contrast": 1, "saturation": 1}


def draw(recipe_: Recipe, key: int) -> dict:
    """Every random parameter of one image: uniform numbers from ``default_rng(key)``, drawn at once (one
    call, not one per number: this runs for every image) and taken in ``KINDS`` order, a fixed count per
    transform whatever is used of it."""
    count = sum(DRAWS.get(name, 0) for name, _ in recipe_.transforms)
    numbers = iter(np.random.default_rng(key).random(count).tolist())
    params: dict = {}
    for name, value in recipe_.transforms:
        taken = [next(numbers) for _ in range(DRAWS.get(name, 0))]
        if name == "crop":
            params["box"] = crop_box(recipe_.base_side, value, taken)
        elif name == "pad-crop":
            params["offset"] = tuple(int(u * (2 * value + 1)) for u in taken)
        elif name in ("hflip", "vflip"):
            params[name] = taken[0] < 0.5
        elif name == "rotate":
            params["degrees"] = (2 * taken[0] - 1) * value * 360.0
        elif name == "jitter":  # factors uniform in [1 − S, 1 + S], in COLOURS order
            params.update({part: 1 - value + 2 * value * u for part, u in zip(COLOURS, taken)})
        elif name in COLOURS:
            params[name] = 1 - value + 2 * value * taken[0]
    return params


def crop_box(side: int, smallest: float, numbers: list) -> tuple:
    """(left, top, width, height) of a random resized crop of a side×side image from ``DRAWS["crop"]``
    uniform numbers: area fraction uniform in [smallest, 1], width/height log-uniform in CROP_RATIO,
    up to ten tries (torchvision's rule), else the whole image; the last two place the box."""
    area, low, high = side * side, math.log(CROP_RATIO[0]), math.log(CROP_RATIO[1])
    for attempt in range(CROP_TRIES):
        share, spread = numbers[2 * attempt], numbers[2 * attempt + 1]
        target = area * (smallest + (1.0 - smallest) * share)
        ratio = math.exp(low + (high - low) * spread)
        width, height = round(math.sqrt(target * ratio)), round(math.sqrt(target / ratio))
        if 0 < width <= side and 0 < height <= side:
            left, top = numbers[-2], numbers[-1]
            return int(left * (side - width + 1)), int(top * (side - height + 1)), width, height
    return 0, 0, side, side


def draw_mix(recipe_: Recipe, keys: tuple, side: int) -> dict | None:
    """The batch's mixing, from a generator seeded by (first key, batch length): which of mixup and cutmix
    (each half the time when both are given), λ ~ Beta(α, α), the partner of each image, cutmix's box."""
    mixup, cutmix = recipe_.value("mixup"), recipe_.value("cutmix")
    if mixup is None and cutmix is None:
        return None
    rng = np.random.default_rng([int(keys[0]), len(keys)])
    use_cutmix = cutmix is not None and (mixup is None or rng.random() < 0.5)
    alpha = cutmix if use_cutmix else mixup
    weight = float(rng.beta(alpha, alpha))
    partner = rng.permutation(len(keys)).tolist()
    if not use_cutmix:
        return {"kind": "mixup", "weight": weight, "partner": partner}
    box = cutmix_box(side, weight, rng)
    left, top, right, bottom = box
    return {"kind": "cutmix", "weight": 1.0 - (right - left) * (bottom - top) / (side * side),
            "partner": partner, "box": box}


def cutmix_box(side: int, weight: float, rng: np.random.Generator) -> tuple:
    """(left, top, right, bottom) of the pasted box: sides √(1 − λ)·side about a uniform centre, clipped
    to the image (the CutMix paper's rule; λ is then recomputed from the box actually pasted)."""
    cut = int(side * math.sqrt(1.0 - weight))
    centre_x, centre_y = int(rng.integers(0, side)), int(rng.integers(0, side))
    left, right = max(centre_x - cut // 2, 0), min(centre_x + cut // 2, side)
    top, bottom = max(centre_y - cut // 2, 0), min(centre_y + cut // 2, side)
    return left, top, right, bottom


# ---------------------------------------------------------------- the batch, on its device


def apply(plan: BatchPlan, inputs, labels) -> tuple:
    """(normalised augmented inputs, targets) of a batch already on its device.

    ``inputs`` are [N, C, base_side, base_side] pixels, uint8 (0–255) or float (0–1); the result is
    [N, C, size, size] float32, normalised. Targets are ``labels`` or, with mixup/cutmix, ``Mixed``.
    On a CPU the crop and the flips run on the uint8 pixels (a quarter of the bytes, and torch's uint8
    resize is about three times as fast as its float one); torch resizes uint8 on no other device, so
    there they run on floats. The rest runs on floats in [0, 1].
    """
    recipe_ = plan.recipe
    if tuple(inputs.shape[-2:]) != (recipe_.base_side,) * 2 or len(inputs) != len(plan.keys):
        raise ValueError(f"a batch of {tuple(inputs.shape)} for {len(plan.keys)} keys; the recipe augments "
                         f"{recipe_.base_side}×{recipe_.base_side} images")
    params = [draw(recipe_, key) for key in plan.keys]
    scale = 255.0 if inputs.dtype == torch.uint8 else 1.0
    pixels = crop_and_flip(inputs if inputs.device.type == "cpu" else inputs.float(), recipe_, params)
    pixels = pixels.float().div_(scale) if scale != 1.0 else pixels.float()
    if recipe_.has("rotate"):
        pixels = rotate(pixels, _column(params, "degrees", pixels.device))
    parts = COLOURS if recipe_.has("jitter") else [part for part in COLOURS if recipe_.has(part)]
    factors = {part: _column(params, part, pixels.device) for part in parts}
    if factors:
        pixels = colour(pixels, **factors)
    pixels = normalise(pixels, recipe_.mean, recipe_.std)
    mix = draw_mix(recipe_, plan.keys, recipe_.size)
    if mix is None:
        return pixels, labels
    return mixed(pixels, labels, mix)


def crop_and_flip(pixels, recipe_: Recipe, params: list):
    """Crop (random resized or pad-and-crop) to the output size, then the flips (any dtype)."""
    from kornia.geometry import transform

    size = recipe_.size
    if recipe_.has("crop"):
        pixels = resized_crop(pixels, [p["box"] for p in params], size)
    elif recipe_.has("pad-crop"):
        pixels = pad_crop(pixels, [p["offset"] for p in params], recipe_.value("pad-crop"), size)
    if recipe_.has("hflip"):
        pixels = _some(pixels, [p["hflip"] for p in params], transform.hflip)
    if recipe_.has("vflip"):
        pixels = _some(pixels, [p["vflip"] for p in params], transform.vflip)
    return pixels


def resized_crop(pixels, boxes: list, size: int):
    """Each image's box (left, top, width, height) cut out and resized to size×size (bilinear), as
    torchvision's resized crop does: kornia's crop_by_indices, which slices and then resizes."""
    from kornia.geometry.transform import crop_by_indices

    if pixels.dtype == torch.uint8:  # torch's uint8 resize is fastest on channels-last images
        pixels = pixels.contiguous(memory_format=torch.channels_last)
    return crop_by_indices(pixels, _corners(boxes), size=(size, size), interpolation="bilinear", align_corners=False)


def pad_crop(pixels, offsets: list, pad: int, size: int):
    """Zero-pad every side by ``pad`` (black, as torchvision's RandomCrop(padding=P)) and cut size×size at
    each image's offset (x, y) into the padded image."""
    from kornia.geometry.transform import crop_by_indices

    padded = torch.nn.functional.pad(pixels, (pad, pad, pad, pad))
    return crop_by_indices(padded, _corners([(x, y, size, size) for x, y in offsets]), size=(size, size))


def rotate(pixels, degrees):
    """Each image turned by its angle (degrees, counter-clockwise) about its centre, bilinear, the corners
    filled by reflection (Keras RandomRotation's default fill is a reflection too)."""
    from kornia.geometry.transform import rotate as kornia_rotate

    return kornia_rotate(pixels, degrees.to(pixels.dtype), padding_mode="reflection")


def colour(pixels, brightness=None, contrast=None, saturation=None):
    """Brightness (× factor), contrast (blend with the mean grey), saturation (blend with the grey image;
    RGB only), in that order, each with the image's own factor (a [N] tensor; None: not done) and clamped
    to [0, 1]: torchvision's ColorJitter formulas, through kornia's functions."""
    from kornia import enhance

    if brightness is not None:
        pixels = enhance.adjust_brightness_accumulative(pixels, brightness.to(pixels.dtype))
    if contrast is not None:
        pixels = enhance.adjust_contrast_with_mean_subtraction(pixels, contrast.to(pixels.dtype))
    if saturation is not None and pixels.shape[1] == 3:
        pixels = enhance.adjust_saturation_with_gray_subtraction(pixels, saturation.to(pixels.dtype))
    return pixels


def normalise(pixels, mean: tuple, std: tuple):
    """(pixels − mean) / std per channel, as the eval path's ``images.normalise``."""
    from kornia.enhance import normalize

    kwargs = dict(dtype=pixels.dtype, device=pixels.device)
    return normalize(pixels, torch.tensor(mean, **kwargs), torch.tensor(std, **kwargs))


def mixed(pixels, labels, mix: dict) -> tuple:
    """Mixup (λ·x + (1 − λ)·x[partner]) or cutmix (the partner's box pasted in), with Mixed targets."""
    partner = torch.as_tensor(mix["partner"], dtype=torch.long, device=pixels.device)
    weight = mix["weight"]
    if mix["kind"] == "mixup":
        pixels = weight * pixels + (1 - weight) * pixels[partner]
    else:
        left, top, right, bottom = mix["box"]
        pixels = pixels.clone()
        pixels[:, :, top:bottom, left:right] = pixels[partner][:, :, top:bottom, left:right]
    return pixels, Mixed(labels, labels[partner], weight)


def _corners(boxes: list):
    """kornia's box form, [N, 4, 2] corner pixels (x, y) inclusive, clockwise from top-left, on the CPU
    (kornia reads crop boxes back to Python: a CPU box costs no device synchronisation)."""
    return torch.tensor([[[x, y], [x + w - 1, y], [x + w - 1, y + h - 1], [x, y + h - 1]] for x, y, w, h in boxes],
                        dtype=torch.float32)


def _column(params: list, name: str, device):
    """One number of every image's parameters as a float32 [N] tensor on ``device``."""
    return torch.tensor([p[name] for p in params], dtype=torch.float32).to(device, non_blocking=True)


def _some(pixels, chosen: list, operation):
    """``operation`` applied to the images whose flag in ``chosen`` is set, the others as they are (a new
    tensor). Image by image: on a CPU a masked select or a gather of the rows costs 5–10 times more, and
    the flags are on the host, so nothing waits for the device."""
    if not any(chosen):
        return pixels
    if all(chosen):
        return operation(pixels)
    result = pixels.clone()
    for row, flag in enumerate(chosen):
        if flag:
            result[row] = operation(pixels[row:row + 1])[0]
    return result
