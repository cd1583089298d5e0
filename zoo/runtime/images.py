"""Image decoding and the eval transform with PIL + torch (torchvision is never imported).

Every split is resized the same way (``--resize``): ``crop`` resizes the shorter
side to round(size·256/224) (bilinear) and centre-crops size×size; ``plain``
resizes straight to size×size, the aspect not kept (Keras'
``image_dataset_from_directory``). Training augmentation is not done here: it
runs on whole batches on their device (``augment.py``), from the square
``augmentation_base`` delivers.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
from PIL import Image, ImageOps

from .choices import RESIZES  # noqa: F401  (images.RESIZES: how an image becomes a square, module docstring)

# Normalisation of torchvision's ImageNet checkpoints, used by every pretrained zoo network.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
GRAY_MEAN, GRAY_STD = (0.5,), (0.5,)  # inputs that are not RGB (MNIST-style MLPs)
# Alpha is composited onto white: transparent cut-outs are usually shown on white pages.
MATTE = (255, 255, 255)


def eval_resize(size: int) -> int:
    """The shorter side before the centre crop: round(size·256/224), the ImageNet ratio."""
    return int(math.floor(size * 256 / 224 + 0.5))


def decode(path: str, channels: int = 3, min_side: int = 0) -> Image.Image:
    """The image at ``path`` fully decoded, upright, as RGB (``channels`` 3) or L (1).

    ``min_side`` lets JPEG decode at 1/2, 1/4 or 1/8 scale while both sides stay
    ≥ it, which is most of the decoding time on large photos. Raises whatever
    PIL raises for an unreadable file (the dataset turns that into a marker).
    An image over PIL's decompression-bomb limit (``Image.MAX_IMAGE_PIXELS``)
    raises too, rather than printing PIL's raw warning on stderr: such a file
    is skipped like any unreadable one.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(path) as image:
            if min_side:
                image.draft(None, (min_side, min_side))  # no-op for non-JPEG formats
            image.load()  # PIL is lazy: decode now, inside the caller's error handling
            return to_mode(_upright(image), channels)


def to_mode(image: Image.Image, channels: int) -> Image.Image:
    """``image`` as 8-bit RGB (channels 3) or L (channels 1): palette, alpha, 16-bit, CMYK handled."""
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")  # keeps the palette's transparency for the matte below
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        image = _on_matte(image)
    if image.mode.startswith(("I", "F")):
        image = _to_8_bit(image)
    wanted = {1: "L", 3: "RGB"}[channels]
    return image if image.mode == wanted else image.convert(wanted)


def eval_transform(image: Image.Image, size: int, resize: str = "crop") -> Image.Image:
    """The size×size image every split is made of: ``crop`` resizes the shorter side to ``eval_resize(size)``
    (bilinear) and centre-crops; ``plain`` resizes straight to size×size (bilinear, aspect not kept)."""
    return augmentation_base(image, size, size, resize)


def augmentation_base(image: Image.Image, size: int, side: int, resize: str = "crop") -> Image.Image:
    """The side×side square a training image is augmented from, for output ``size``: with ``crop`` the
    centre side×side of the image whose shorter side is ``eval_resize(size)`` (side = size: the eval
    image; side = eval_resize(size): everything the eval crop chooses from); with ``plain`` the image
    resized straight to side×side."""
    if resize == "plain":
        return image if image.size == (side, side) else image.resize((side, side), Image.Resampling.BILINEAR)
    return center_crop(resize_shorter(image, eval_resize(size)), side)


def resize_shorter(image: Image.Image, side: int) -> Image.Image:
    """``image`` scaled (bilinear, aspect kept) so that its shorter side is ``side``."""
    width, height = image.size
    scale = side / min(width, height)
    new = (max(side, round(width * scale)), max(side, round(height * scale)))
    return image if new == image.size else image.resize(new, Image.Resampling.BILINEAR)


def center_crop(image: Image.Image, size: int) -> Image.Image:
    """The central size×size square (torchvision's rounding of the offsets)."""
    width, height = image.size
    left, top = int(round((width - size) / 2.0)), int(round((height - size) / 2.0))
    return image.crop((left, top, left + size, top + size))


def to_tensor(image: Image.Image) -> torch.Tensor:
    """An L/RGB PIL image as a float32 [C, H, W] tensor in [0, 1]."""
    return to_bytes(image).float().div_(255.0)


def to_bytes(image: Image.Image) -> torch.Tensor:
    """An L/RGB PIL image as a uint8 [C, H, W] tensor (the pixel values as they are): a view of the
    height×width×channel array PIL gives."""
    array = np.array(image, dtype=np.uint8)  # a writable copy: torch warns on read-only buffers
    if array.ndim == 2:
        array = array[:, :, None]
    return torch.from_numpy(array).permute(2, 0, 1)


def normalise(tensor: torch.Tensor, mean, std) -> torch.Tensor:
    """``(tensor - mean) / std`` per channel, on a [C, H, W] tensor."""
    mean_t = torch.tensor(mean, dtype=tensor.dtype).view(-1, 1, 1)
    std_t = torch.tensor(std, dtype=tensor.dtype).view(-1, 1, 1)
    return (tensor - mean_t).div_(std_t)  # one new tensor, not two: this runs once per image


def model_mean_std(channels: int) -> tuple:
    """Normalisation: ImageNet's statistics for RGB (what pretrained weights expect), 0.5 otherwise."""
    if channels == 3:
        return IMAGENET_MEAN, IMAGENET_STD
    return GRAY_MEAN * channels, GRAY_STD * channels


def per_channel(values, channels: int) -> tuple:
    """``values`` with one entry per channel: a 3-value mean/std is averaged for greyscale."""
    values = tuple(float(v) for v in values)
    if len(values) == channels:
        return values
    if len(values) == 3 and channels == 1:
        return (sum(values) / 3,)
    raise ValueError(f"{len(values)} normalisation values for {channels} channels")


def denormalise(images_: torch.Tensor, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> torch.Tensor:
    """Undo ``normalise`` on [C, H, W] or [N, C, H, W] images, clamped to [0, 1] for plotting."""
    channels = images_.shape[-3]
    mean_t = torch.tensor(per_channel(mean, channels), dtype=images_.dtype, device=images_.device)
    std_t = torch.tensor(per_channel(std, channels), dtype=images_.dtype, device=images_.device)
    return (images_ * std_t.view(-1, 1, 1) + mean_t.view(-1, 1, 1)).clamp(0.0, 1.0)


def _upright(image: Image.Image) -> Image.Image:
    """``image`` rotated as its EXIF orientation says; a broken EXIF block leaves it as it is."""
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # noqa: BLE001 - bad metadata must not make a readable image "corrupt"
        return image


def _on_matte(image: Image.Image) -> Image.Image:
    """An image with alpha flattened onto the MATTE colour, as RGB."""
    rgba = image.convert("RGBA")
    background = Image.new("RGBA", rgba.size, MATTE + (255,))
    return Image.alpha_composite(background, rgba).convert("RGB")


def _to_8_bit(image: Image.Image) -> Image.Image:
    """A 16/32-bit integer or float greyscale image scaled into 8-bit L."""
    array = np.asarray(image, dtype=np.float64)
    top = 65535.0 if array.max(initial=0.0) > 255.0 else 255.0
    return Image.fromarray((np.clip(array / top, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8), "L")
