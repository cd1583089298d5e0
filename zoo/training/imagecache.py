"""Decoded images kept in memory across epochs: each split is rendered or decoded once.

Without augmentation an image's tensor is the same in every epoch (the eval
transform is a pure function of the file, or of (seed, index) for synthetic
data), so re-rendering it each epoch is pure waste — a quarter of a small
network's run on CPU. When a split fits under ``limit_bytes()`` its normalised
float32 tensors are stored once, one row per sample, and each batch is the rows
of that batch's indices in the epoch's order.

Bit-identity with the streaming path (what exact resume and the tests rely on):

* a batch is the same indices in the same order (``order`` is the sampler's);
* a row holds exactly the tensor ``ImageDataset.__getitem__`` returns, and
  ``index_select`` of rows equals ``torch.stack`` of the same tensors;
* the global random stream advances as a DataLoader advances it (one draw per pass);
* an unreadable file keeps no row: it is dropped from its batch, and its path
  handed on with that batch, as ``loaders.collate`` does, so it is reported at
  the same point of the run.

Beyond the limit a split is streamed as before (the DataLoader decodes it every
epoch). An augmented training split is cached too, before its augmentation: the
dataset delivers it un-augmented (uint8 pixels, one byte a value) with a key of
(seed, epoch, index), and the batch is augmented on its device (augment.py); a
cached batch carries the keys of the dataset's current epoch, as the loader's does.
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader

from .augment import plan_of
from .loaders import Unreadable
from .memory import BYTES, GIB, available_bytes

# The cache takes at most a quarter of physical RAM (the model, its activations, the
# DataLoader and other processes need the rest), and never more than 8 GiB.
RAM_SHARE = 4
CAP_BYTES = 8 * GIB
BUILD_BATCH = 64  # items per DataLoader fetch while filling the cache (workers share the rendering)


def limit_bytes() -> int:
    """The most bytes of images the cache may hold on this machine: min(RAM / 4, 8 GiB)."""
    ram = available_bytes("cpu")
    return CAP_BYTES if ram is None else min(CAP_BYTES, ram // RAM_SHARE)


def split_bytes(dataset) -> int:
    """Bytes one split's cache takes: samples × channels × size² float32 values (augmented: side² uint8
    values, side the square augmentation starts from)."""
    if dataset.augment:
        return len(dataset) * dataset.channels * dataset.augment.base_side ** 2
    return len(dataset) * dataset.channels * dataset.size * dataset.size * BYTES


def _items(batch):
    """collate_fn that keeps the items as they are (the cache needs the Unreadable markers)."""
    return batch


class ImageCache:
    """One split's tensors, rendered once: ``rows[slot[i]]`` is sample ``i``; slot −1 is unreadable."""

    def __init__(self, rows: torch.Tensor, labels: torch.Tensor, slot: torch.Tensor, bad: dict, keys=None):
        self.rows = rows      # [readable, C, S, S] float32, normalised; augmented: [readable, S, S, C] uint8
        self.labels = labels  # [readable] int64
        self.slot = slot      # [samples] int64: the row of each sample, −1 when unreadable
        self.bad = bad        # sample index -> path of each unreadable file
        self.keys = keys      # augmented: index -> its augment.SampleKey this epoch (the dataset's); else None

    def __len__(self) -> int:
        return len(self.slot)

    @property
    def nbytes(self) -> int:
        """Memory the tensors take."""
        return self.rows.element_size() * self.rows.nelement()

    def batches(self, order: list, batch_size: int, pin_memory: bool = False):
        """``(images, labels, bad_paths)`` batches of ``order``: exactly what the DataLoader yields."""
        # A DataLoader iterator draws one int64 from torch's global generator when it starts
        # (its workers' base seed). Drawing it here too keeps every later random number —
        # dropout masks — and so the trained weights bit-identical to the streaming path.
        torch.empty((), dtype=torch.int64).random_()
        index = torch.as_tensor(order, dtype=torch.long)
        for start in range(0, len(index), batch_size):
            yield self._batch(index[start:start + batch_size], pin_memory)

    def groups(self, groups: list, pin_memory: bool = False):
        """One batch per group of sample indices (a process's micro-batches, sharding.py), as a DataLoader
        with that ``batch_sampler`` yields them (it too draws one number when it starts)."""
        torch.empty((), dtype=torch.int64).random_()
        for group in groups:
            yield self._batch(torch.as_tensor(list(group), dtype=torch.long), pin_memory)

    def _batch(self, chosen: torch.Tensor, pin_memory: bool) -> tuple:
        """(images, labels, bad paths) of the samples ``chosen``; unreadable ones dropped and named."""
        slots = self.slot[chosen]
        rows = slots[slots >= 0]
        bad = [self.bad[i] for i in chosen.tolist() if i in self.bad] if self.bad else []
        images_ = self.rows.index_select(0, rows)
        if self.keys is not None:  # augmented: channels-last pixels and the keys, as loaders.collate gives
            images_ = images_.permute(0, 3, 1, 2)
            readable = chosen[slots >= 0].tolist()
            plan = plan_of([self.keys(index) for index in readable])
            return (images_.pin_memory() if pin_memory else images_), self.labels[rows], bad, plan
        return (images_.pin_memory() if pin_memory else images_), self.labels[rows], bad


def build(dataset, workers: int = 0, progress=None) -> ImageCache:
    """Render or decode every sample of ``dataset`` (an ``ImageDataset``) once; an augmented one as the
    un-augmented pixels it delivers (height × width × channels uint8 rows: stacking them is channels-last)."""
    count = len(dataset)
    if dataset.augment:
        side = dataset.augment.base_side
        rows = torch.empty((count, side, side, dataset.channels), dtype=torch.uint8)
    else:
        rows = torch.empty((count, dataset.channels, dataset.size, dataset.size), dtype=torch.float32)
    labels = torch.empty(count, dtype=torch.long)
    slot = torch.full((count,), -1, dtype=torch.long)
    bad: dict = {}
    loader = DataLoader(dataset, batch_size=BUILD_BATCH, num_workers=workers, collate_fn=_items)
    state = torch.get_rng_state()  # filling the cache must not move the run's random stream
    try:
        _fill(loader, rows, labels, slot, bad, progress, channels_last=bool(dataset.augment))
    finally:
        torch.set_rng_state(state)
    filled = int((slot >= 0).sum())
    return ImageCache(rows[:filled], labels[:filled], slot, bad, dataset.sample_key if dataset.augment else None)


def _fill(loader, rows, labels, slot, bad: dict, progress, channels_last: bool = False) -> None:
    """Copy every item of ``loader`` (in index order) into its row; note unreadable files in ``bad``."""
    filled = seen = 0
    for batch in loader:  # in index order: rows follow the samples, so slot is increasing
        for item in batch:
            if isinstance(item, Unreadable):
                bad[seen] = item.path
            else:
                pixels = item[0].permute(1, 2, 0) if channels_last else item[0]  # augmented: [S, S, C] rows
                rows[filled], labels[filled], slot[seen] = pixels, item[1], filled
                filled += 1
            seen += 1
        if progress is not None:
            progress.advance(len(batch))
