"""Datasets and DataLoaders over a ``DataSource``: decoding, transforms, seeded order.

Reproducibility contract (what exact resume relies on):

* an augmented training image is delivered un-augmented (pixels in [0, 1], at
  ``augment.Recipe.base_side``) with its key, a pure function of (seed, e, index)
  for image ``index`` in epoch ``e``; the batch is augmented on its device from
  those keys (``augment.apply``), so an image's augmentation does not depend on
  worker processes, batch size, or what ran before (mixup/cutmix, which mix the
  images of one batch, follow the batch's composition: ``augment.py``);
* the shuffled order of epoch ``e`` is a pure function of (seed, e), and
  ``start_batch`` skips the batches a resumed run has already seen without
  decoding them.

Corrupt files never crash a run: the dataset returns an ``Unreadable`` marker
for them and ``collate`` drops it, handing its path to the trainer, which reports
each bad file once.
"""

from __future__ import annotations

import functools
import hashlib
from typing import NamedTuple

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from cnncost.arch import ParameterError

from ..runtime import images
from ..runtime.images import IMAGENET_MEAN, IMAGENET_STD, per_channel
from . import synthetic
from .augment import SampleKey, plan_of, recipe
from .data import DataSource

SPLITS = ("train", "val", "test")


class Unreadable(NamedTuple):
    """What the dataset returns for a file that cannot be decoded."""

    path: str      # the file, for the trainer's one report per bad file
    shape: tuple   # (C, side, side): an all-bad batch still yields images of the right shape


class ImageDataset(Dataset):
    """(normalised float32 [C, size, size] tensor, label) for each sample; Unreadable for a bad file.

    Augmented (``augment`` a recipe): (uint8 [C, side, side] pixels, label, augment.SampleKey), side =
    ``Recipe.base_side``; the batch is augmented and normalised on its device (a quarter of the bytes of
    float pixels to stack, pin and copy, and kornia's uint8 resize is the fastest on a CPU).
    """

    def __init__(self, samples, read, size: int, *, augment, seed: int, mean, std, channels: int,
                 resize: str = "crop"):
        self.samples = list(samples)  # Sample(item, label) pairs
        self.read = read              # item -> PIL image (a picklable partial, for worker processes)
        self.size = size              # output side in pixels
        self.augment = augment        # an augment.Recipe applied to the batch on its device, or None
        self.seed = seed              # with epoch and index, seeds each image's augmentation
        self.mean, self.std = tuple(mean), tuple(std)  # per-channel normalisation
        self.channels = channels      # 3 (RGB) or 1 (greyscale)
        self.resize = resize          # images.RESIZES: shorter side + centre crop, or straight to a square
        self.epoch = 0                # set_epoch changes it; call before iterating a loader

    def set_epoch(self, epoch: int) -> None:
        """Draw the augmentations of ``epoch`` from now on (worker processes copy it when a loader starts)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.samples)

    def sample_key(self, index: int) -> SampleKey:
        """What augments image ``index`` in the current epoch: the recipe and the key (seed, epoch, index)."""
        return SampleKey(self.augment, _mix(self.seed, self.epoch, index))

    def __getitem__(self, index: int):
        item, label = self.samples[index]
        side = self.augment.base_side if self.augment else self.size
        try:
            image = self.read(item)
        except Exception:  # noqa: BLE001 - any decoder failure on a user's file means "unreadable"
            return Unreadable(str(item), (self.channels, side, side))
        if self.augment:
            pixels = images.to_bytes(images.augmentation_base(image, self.size, side, self.resize))
            return pixels, int(label), self.sample_key(index)
        tensor = images.to_tensor(images.eval_transform(image, self.size, self.resize))
        return images.normalise(tensor, self.mean, self.std), int(label)


class EpochSampler(Sampler):
    """Indices of one epoch: ``randperm`` from a generator seeded by (seed, epoch), or in order."""

    def __init__(self, length: int, *, shuffle: bool, seed: int, epoch: int, start: int = 0):
        self.length, self.shuffle, self.seed, self.epoch = length, shuffle, seed, epoch
        self.start = start  # indices already consumed (resume): skipped, never decoded

    def order(self) -> list[int]:
        """The whole epoch's order: the same every time it is asked for."""
        if not self.shuffle:
            return list(range(self.length))
        generator = torch.Generator().manual_seed(_mix(self.seed, self.epoch))
        return torch.randperm(self.length, generator=generator).tolist()

    def __iter__(self):
        return iter(self.order()[self.start:])

    def __len__(self) -> int:
        return max(self.length - self.start, 0)


def make_dataset(source: DataSource, split: str, size: int, *, augment="", seed: int = 0,
                 mean=IMAGENET_MEAN, std=IMAGENET_STD, channels: int = 3, resize: str = "crop") -> ImageDataset:
    """The ``split`` ("train", "val" or "test") of ``source`` as size×size normalised tensors.

    ``augment`` (an ``--augment`` spec; True is its default recipe) applies to the
    train split only: validation and test always get the eval transform, ``resize``
    every split. Greyscale, palette and RGBA images become RGB (or L for
    ``channels=1``; a 3-value mean/std is then averaged to one).
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    if channels not in (1, 3):
        raise ParameterError("data", f"images have 1 or 3 channels; this network wants {channels}")
    if resize not in images.RESIZES:
        raise ParameterError("resize", f"{resize!r} is out of range (need one of {', '.join(images.RESIZES)})")
    read = _reader(source, size, channels)
    mean, std = per_channel(mean, channels), per_channel(std, channels)
    augmentation = recipe(augment, size, mean, std) if split == "train" else None
    return ImageDataset(getattr(source, split), read, size, augment=augmentation, seed=seed,
                        mean=mean, std=std, channels=channels, resize=resize)


def collate(batch):
    """``(images [N, C, H, W], labels int64 [N], bad_paths)`` with Unreadable items dropped.

    ``bad_paths`` lists the files of this batch that could not be decoded. When
    every item is bad, images is an empty [0, C, H, W] tensor and labels empty.
    A batch of augmented images has a fourth element, the ``augment.BatchPlan``
    the training loop applies once the batch is on its device.
    """
    good = [item for item in batch if not isinstance(item, Unreadable)]
    bad = [item for item in batch if isinstance(item, Unreadable)]
    if not good:
        shape = bad[0].shape if bad else (0, 0, 0)
        return torch.empty((0, *shape)), torch.empty(0, dtype=torch.long), [b.path for b in bad]
    labels = torch.tensor([item[1] for item in good], dtype=torch.long)
    if len(good[0]) == 3:  # augmented: the images' keys travel with them
        return _stack_channels_last([item[0] for item in good]), labels, [b.path for b in bad], \
            plan_of([item[2] for item in good])
    return torch.stack([item[0] for item in good]), labels, [b.path for b in bad]


def _stack_channels_last(pixels: list) -> torch.Tensor:
    """[N, C, H, W] uint8 in channels-last memory of [C, H, W] views of height×width×channel arrays (what
    ``images.to_bytes`` returns): stacking the arrays is one copy each, and the crop's resize is fastest on
    channels-last pixels."""
    return torch.stack([image.permute(1, 2, 0) for image in pixels]).permute(0, 3, 1, 2)


def make_loader(dataset, batch_size: int, *, shuffle: bool, seed: int, epoch: int = 0, workers: int = 0,
                pin_memory: bool = False, drop_last: bool = False, start_batch: int = 0) -> DataLoader:
    """A DataLoader of ``collate`` batches whose order is a pure function of (seed, epoch).

    Also sets the dataset's epoch (its augmentation). ``start_batch`` resumes an
    epoch after that many batches. Workers are not persistent: each loader is
    one epoch, and index-seeded augmentation makes worker seeding irrelevant.
    """
    if hasattr(dataset, "set_epoch"):
        dataset.set_epoch(epoch)
    sampler = EpochSampler(len(dataset), shuffle=shuffle, seed=seed, epoch=epoch,
                           start=start_batch * batch_size)
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=workers,
                      collate_fn=collate, pin_memory=pin_memory, drop_last=drop_last,
                      persistent_workers=False)


def _reader(source: DataSource, size: int, channels: int):
    """item -> PIL image for ``source``: decode a file, or render a synthetic index.

    JPEGs may decode at a reduced scale while both sides stay ≥ round(size·256/224):
    the largest square any split (an augmented one included) is cut from.
    """
    if source.kind == "synthetic":
        return functools.partial(_render, seed=source.seed, resolution=images.eval_resize(size),
                                 channels=channels)
    if source.kind == "arrays":
        return functools.partial(_from_pixels, pixels=source.pixels, channels=channels)
    return functools.partial(images.decode, channels=channels, min_side=images.eval_resize(size))


def _from_pixels(index: int, *, pixels, channels: int):
    """Image ``index`` of an archive's uint8 [N, H, W, C] pixels (C = 1 or 3), in the wanted mode."""
    from PIL import Image

    array = pixels[index]
    image = Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array, "L" if array.shape[-1] == 1 else "RGB")
    return images.to_mode(image, channels)


def _render(index: int, *, seed: int, resolution: int, channels: int):
    """Synthetic image ``index`` in the wanted mode (a module-level function, so it pickles)."""
    return images.to_mode(synthetic.render(seed, index, resolution), channels)


def _mix(*numbers: int) -> int:
    """A 63-bit seed from several integers (stable across runs and platforms)."""
    digest = hashlib.blake2b("/".join(map(str, numbers)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1

