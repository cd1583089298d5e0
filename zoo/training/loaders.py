"""Datasets and DataLoaders over a ``DataSource``: decoding, transforms, seeded order.

Reproducibility contract (what exact resume relies on):

* the augmentation of image ``index`` in epoch ``e`` is a pure function of
  (seed, e, index) — not of worker processes, batch size, or what ran before;
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

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from cnncost.errors import CnncostError

from . import images, synthetic
from .data import DataSource
from .images import IMAGENET_MEAN, IMAGENET_STD

SPLITS = ("train", "val", "test")
# Augmented crops keep as little as ~0.5 of the shorter side; decoding JPEGs at
# ≥ this many times the output size keeps those crops at full resolution.
AUGMENT_DECODE_FACTOR = 2


class Unreadable(NamedTuple):
    """What the dataset returns for a file that cannot be decoded."""

    path: str      # the file, for the trainer's one report per bad file
    shape: tuple   # (C, size, size): an all-bad batch still yields images of the right shape


class ImageDataset(Dataset):
    """(normalised float32 [C, size, size] tensor, label) for each sample; Unreadable for a bad file."""

    def __init__(self, samples, read, size: int, *, augment: bool, seed: int, mean, std, channels: int):
        self.samples = list(samples)  # Sample(item, label) pairs
        self.read = read              # item -> PIL image (a picklable partial, for worker processes)
        self.size = size              # output side in pixels
        self.augment = augment        # random crop/flip/jitter instead of resize + centre crop
        self.seed = seed              # with epoch and index, seeds each image's augmentation
        self.mean, self.std = tuple(mean), tuple(std)  # per-channel normalisation
        self.channels = channels      # 3 (RGB) or 1 (greyscale)
        self.epoch = 0                # set_epoch changes it; call before iterating a loader

    def set_epoch(self, epoch: int) -> None:
        """Draw the augmentations of ``epoch`` from now on (worker processes copy it when a loader starts)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        item, label = self.samples[index]
        try:
            image = self.read(item)
        except Exception:  # noqa: BLE001 - any decoder failure on a user's file means "unreadable"
            return Unreadable(str(item), (self.channels, self.size, self.size))
        if self.augment:
            tensor = images.train_transform(image, self.size, _rng(self.seed, self.epoch, index))
        else:
            tensor = images.to_tensor(images.eval_transform(image, self.size))
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


def make_dataset(source: DataSource, split: str, size: int, *, augment: bool = False, seed: int = 0,
                 mean=IMAGENET_MEAN, std=IMAGENET_STD, channels: int = 3) -> ImageDataset:
    """The ``split`` ("train", "val" or "test") of ``source`` as size×size normalised tensors.

    ``augment`` applies to the train split only (validation and test always get
    the eval transform). Greyscale, palette and RGBA images become RGB (or L for
    ``channels=1``; a 3-value mean/std is then averaged to one).
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    if channels not in (1, 3):
        raise CnncostError(f"--data: images have 1 or 3 channels; this network wants {channels}")
    augment = augment and split == "train"
    read = _reader(source, size, augment, channels)
    mean, std = _per_channel(mean, channels), _per_channel(std, channels)
    return ImageDataset(getattr(source, split), read, size, augment=augment, seed=seed,
                        mean=mean, std=std, channels=channels)


def collate(batch):
    """``(images [N, C, H, W], labels int64 [N], bad_paths)`` with Unreadable items dropped.

    ``bad_paths`` lists the files of this batch that could not be decoded. When
    every item is bad, images is an empty [0, C, H, W] tensor and labels empty.
    """
    good = [item for item in batch if not isinstance(item, Unreadable)]
    bad = [item for item in batch if isinstance(item, Unreadable)]
    if not good:
        shape = bad[0].shape if bad else (0, 0, 0)
        return torch.empty((0, *shape)), torch.empty(0, dtype=torch.long), [b.path for b in bad]
    images_ = torch.stack([image for image, _ in good])
    labels = torch.tensor([label for _, label in good], dtype=torch.long)
    return images_, labels, [b.path for b in bad]


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


def denormalise(images_: torch.Tensor, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> torch.Tensor:
    """Undo ``normalise`` on [C, H, W] or [N, C, H, W] images, clamped to [0, 1] for plotting."""
    channels = images_.shape[-3]
    mean_t = torch.tensor(_per_channel(mean, channels), dtype=images_.dtype, device=images_.device)
    std_t = torch.tensor(_per_channel(std, channels), dtype=images_.dtype, device=images_.device)
    return (images_ * std_t.view(-1, 1, 1) + mean_t.view(-1, 1, 1)).clamp(0.0, 1.0)


def _reader(source: DataSource, size: int, augment: bool, channels: int):
    """item -> PIL image for ``source``: decode a file, or render a synthetic index."""
    if source.kind == "synthetic":
        return functools.partial(_render, seed=source.seed, resolution=images.eval_resize(size),
                                 channels=channels)
    if source.kind == "arrays":
        return functools.partial(_from_pixels, pixels=source.pixels, channels=channels)
    min_side = AUGMENT_DECODE_FACTOR * size if augment else images.eval_resize(size)
    return functools.partial(images.decode, channels=channels, min_side=min_side)


def _from_pixels(index: int, *, pixels, channels: int):
    """Image ``index`` of an archive's uint8 [N, H, W, C] pixels (C = 1 or 3), in the wanted mode."""
    from PIL import Image

    array = pixels[index]
    image = Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array, "L" if array.shape[-1] == 1 else "RGB")
    return images.to_mode(image, channels)


def _render(index: int, *, seed: int, resolution: int, channels: int):
    """Synthetic image ``index`` in the wanted mode (a module-level function, so it pickles)."""
    return images.to_mode(synthetic.render(seed, index, resolution), channels)


def _per_channel(values, channels: int) -> tuple:
    """``values`` with one entry per channel: a 3-value mean/std is averaged for greyscale."""
    values = tuple(float(v) for v in values)
    if len(values) == channels:
        return values
    if len(values) == 3 and channels == 1:
        return (sum(values) / 3,)
    raise ValueError(f"{len(values)} normalisation values for {channels} channels")


def _mix(*numbers: int) -> int:
    """A 63-bit seed from several integers (stable across runs and platforms)."""
    digest = hashlib.blake2b("/".join(map(str, numbers)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def _rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The random stream of one image in one epoch."""
    return np.random.default_rng(_mix(seed, epoch, index))
