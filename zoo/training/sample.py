"""Which test images the prediction grid shows: a seeded, stratified random sample.

The first 30 images in folder order are two or three classes; the grid should
show every class. ``GridSample`` watches the evaluation stream once (no second
pass, bounded memory) and keeps, per class, the images with the smallest
pseudo-random keys — a key is a hash of (seed, class, the image's rank within
its class), so the sample is the same for a seed on every machine and does not
depend on batch size or on how the classes are interleaved.

Allocation for a grid of ``rows`` × ``cols``:

* as many classes as rows or fewer: whole rows per class (``rows // classes``,
  the remaining rows to the first classes in a seeded order), so each row is
  one class — report 001's 10 × 3 grid with 10 classes is a row per class;
* more classes than rows: one image each for ``keep`` classes drawn by the
  seed (more when there are fewer classes than cells).

A class with fewer images than its share leaves its cells to the other classes
(each keeps up to twice its share as spares). The kept images are returned
sorted by class.
"""

from __future__ import annotations

import hashlib
import math

GRID_COLS = 3  # the prediction grid is rows × 3 (10 × 3 for the train report's 30 images)


class GridSample:
    """A stratified, seeded sample of ``keep`` images from a stream of labelled batches."""

    def __init__(self, classes: int, keep: int, seed: int = 0, cols: int = GRID_COLS):
        self.keep, self.seed = keep, seed
        self.order = sorted(range(classes), key=lambda c: _key(seed, "class", c))  # seeded class order
        self.quota = shares(classes, keep, cols, self.order)
        self.seen = [0] * classes  # images of each class met so far: the rank of the next one
        self.kept: dict[int, list] = {c: [] for c in range(classes)}  # (key, image, pred), smallest keys

    def add(self, inputs, labels: list, preds: list) -> None:
        """Offer one batch: ``inputs`` [N, C, H, W] on the CPU, with true and predicted labels."""
        for index, (label, pred) in enumerate(zip(labels, preds)):
            label = int(label)
            rank, self.seen[label] = self.seen[label], self.seen[label] + 1
            room = 2 * self.quota[label]
            if room == 0:
                continue
            key = _key(self.seed, label, rank)
            pool = self.kept[label]
            if len(pool) < room or key < pool[-1][0]:
                pool.append((key, inputs[index].clone(), int(pred)))
                pool.sort(key=lambda entry: entry[0])
                del pool[room:]

    def chosen(self) -> list:
        """(class, key, image, pred) of the sample, sorted by class then key."""
        counts = {c: min(self.quota[c], len(self.kept[c])) for c in self.order}
        missing = self.keep - sum(counts.values())
        while missing > 0:  # short classes' cells go round-robin to classes with spares
            spare = [c for c in self.order if counts[c] < len(self.kept[c])]
            if not spare:
                break
            for c in spare[:missing]:
                counts[c] += 1
            missing = self.keep - sum(counts.values())
        return [(c, *entry) for c in sorted(counts) for entry in self.kept[c][:counts[c]]]

    def result(self) -> tuple:
        """(images [n, C, H, W] or None, true labels, predicted labels), as ``loop.evaluate`` keeps them."""
        import torch

        picked = self.chosen()
        if not picked:
            return None, [], []
        return (torch.stack([image for _, _, image, _ in picked]), [c for c, *_ in picked],
                [pred for *_, pred in picked])


def shares(classes: int, keep: int, cols: int, order: list) -> list:
    """Images per class for a grid of ceil(keep / cols) rows: whole rows per class when they fit."""
    quota = [0] * classes
    if classes == 0 or keep <= 0:
        return quota
    rows = math.ceil(keep / cols)
    if classes <= rows:
        unit, total = cols, rows  # hand out rows
    else:
        unit, total = 1, keep  # hand out single cells
    for rank, label in enumerate(order):
        quota[label] = unit * (total // classes + (rank < total % classes))
    return quota


def _key(seed: int, *parts) -> bytes:
    """A stable pseudo-random sort key (blake2b: the same on every platform and Python)."""
    return hashlib.blake2b("/".join(map(str, (seed, *parts))).encode(), digest_size=8).digest()
