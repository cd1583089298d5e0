"""Datasets for ``cnncost train``: an image folder or the built-in synthetic shapes, split three ways.

``load_data`` only lists files (fast even for 12,000 photos); decoding happens in
the dataset (``loaders.make_dataset``), so DataLoader worker processes do it in
parallel and a corrupt file is found, reported and skipped there.

Validation is always a stratified split of the training images (every class in
both parts, seeded); the folder next to ``train/`` (``val/`` or ``test/``) is
the held-out test set. Folder layouts: see ``zoo.training.folders``.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections import defaultdict
from dataclasses import dataclass, field
from typing import NamedTuple, Union

from cnncost.arch import ParameterError

from . import folders, synthetic

SYNTHETIC = "synthetic"  # the --data value that selects the built-in dataset (./synthetic is a folder)


class Sample(NamedTuple):
    """One image: where it comes from and its class."""

    item: Union[str, int]  # a file path (folder, CSV) or an image index (synthetic data, an archive's pixels)
    label: int             # index into DataSource.classes


@dataclass
class DataSource:
    """The images of a run, split into train / validation / test, not yet decoded."""

    kind: str                 # "folder" (also a CSV listing), "synthetic", or "arrays" (CIFAR, MNIST archives)
    root: str                 # the absolute folder given to --data, or "synthetic"
    classes: list[str]        # class names; label i is classes[i] (folder names sorted, or shapes)
    train: list[Sample]       # images the network trains on
    val: list[Sample]         # the stratified validation split of the training images
    test: list[Sample]        # held-out test images (val/ or test/ next to train/); may be empty
    skipped: list[str] = field(default_factory=list)  # hidden entries / non-image files ignored
    test_folder: str = ""     # "val" or "test": where the test images came from; "" when none
    seed: int = 0             # the split seed; synthetic images are also drawn from it
    pixels: object = None     # "arrays": uint8 images [N, H, W, C], indexed by Sample.item

    def summary(self) -> str:
        """One line for the run header, e.g. ``10 classes · train 7,999 · val 2,000 · test 2,000 (val/)``."""
        test = f" · test {len(self.test):,}" + (f" ({self.test_folder}/)" if self.test_folder else "")
        skipped = f" · {len(self.skipped):,} non-image entries skipped" if self.skipped else ""
        return (f"{len(self.classes)} classes · train {len(self.train):,} · val {len(self.val):,}"
                f"{test if self.test else ''}{skipped}")


def load_data(source: str, *, val_fraction: float = 0.2, seed: int = 0,
              synthetic_size: int = 2000) -> DataSource:
    """The dataset ``source`` names (a folder, or "synthetic"), split train/validation/test.

    ``val_fraction`` of every class's training images go to validation (at
    least one, never all), chosen by ``seed``. Synthetic data has
    ``synthetic_size`` images split the same way plus ``synthetic_size // 4``
    test images (at least one per class). A folder that is literally named
    ``synthetic`` is reached as ``./synthetic``. Folder layouts (``train/`` with
    ``val/`` or ``test/`` as the test split, or a folder of class folders): see
    ``zoo.training.folders``. Raises a ParameterError naming ``data`` or
    ``val_fraction`` for anything that cannot be trained on.
    """
    check_fraction(val_fraction)
    if source == SYNTHETIC:
        return _synthetic_source(val_fraction, seed, synthetic_size)
    form, path = _form(source)
    if form is not None:
        return _archive_source(form, path, val_fraction, seed)
    scan = folders.scan(source)
    _check_splittable(scan)
    train, val = _split(scan.train, val_fraction, seed)
    test_folder = os.path.basename(scan.test_dir) if scan.test_dir else ""
    return DataSource("folder", scan.root, scan.classes, train, val, [Sample(*s) for s in scan.test],
                      scan.skipped, test_folder, seed)


# ``--data FORM=PATH`` names a format outright; a bare PATH is recognised by its layout (archives.detect).
FORMS = ("cifar10", "cifar100", "mnist", "fashion-mnist", "csv", "folder")
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot"]  # Fashion-MNIST's published label names, in label order


def _form(source: str) -> tuple:
    """(format or None for an image folder, path) of a --data value."""
    from . import archives

    name, equals, path = source.partition("=")
    if equals and name.lower() in FORMS:
        if not path.strip():
            raise ParameterError("data", f"{name}= needs the path of the files after it")
        return (None if name.lower() == "folder" else name.lower()), path
    if equals and "/" not in name and not os.path.exists(source):
        raise ParameterError("data", f"{name!r} is not a data format; write one of " + ", ".join(FORMS)
                                     + " before '=', or give a path")
    return archives.detect(source), source


def _archive_source(form: str, path: str, fraction: float, seed: int) -> DataSource:
    """A CIFAR/MNIST archive (its train split stratified into train/val, its test split the test set) or a
    CSV listing (split into train/val; no test set)."""
    from . import archives

    if not os.path.exists(os.path.expanduser(path)):
        raise ParameterError("data", f"{path} not found")
    if form == "csv":
        classes, samples = archives.read_csv(path)
        counts = [0] * len(classes)
        for _, label in samples:
            counts[label] += 1
        thin = [(name, count) for name, count in zip(classes, counts) if count < 2]
        if thin:
            raise ParameterError("data", f"class '{thin[0][0]}' has only {thin[0][1]} image in {path}; splitting off "
                                         "validation needs at least 2 per class")
        train, val = _split(samples, fraction, seed)
        return DataSource("folder", os.path.abspath(os.path.expanduser(path)), classes, train, val, [], [], "", seed)
    data = archives.read_mnist(path) if form in ("mnist", "fashion-mnist") else archives.read_cifar(path)
    if form in ("cifar10", "cifar100") and data.name != form:
        raise ParameterError("data", f"{path} holds {data.name}, not {form}")
    classes = FASHION_CLASSES if form == "fashion-mnist" else data.classes
    import numpy as np

    count = len(data.train_images)
    pixels = np.concatenate([data.train_images, data.test_images])
    train, val = _split(list(enumerate(data.train_labels)), fraction, seed)
    test = [Sample(count + i, label) for i, label in enumerate(data.test_labels)]
    return DataSource("arrays", os.path.abspath(os.path.expanduser(path)), list(classes), train, val, test, [],
                      "test", seed, pixels)


def stratified_split(labels: list[int], fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """(train indices, validation indices) of ``labels``, both sorted, together every index once.

    Per class, round(fraction·count) images (clamped to [1, count − 1]) go to
    validation. Which ones is a hash of (seed, label, rank within the class):
    a class's split depends on nothing else — not on other classes, their order
    or numpy's version — so a checkpoint's split is reproducible anywhere.
    """
    check_fraction(fraction)
    members: dict[int, list[int]] = defaultdict(list)
    for index, label in enumerate(labels):
        members[label].append(index)
    val: list[int] = []
    for label, indices in members.items():
        if len(indices) < 2:
            raise ParameterError("data", f"class {label} has {len(indices)} image; splitting off "
                                         "validation needs at least 2 per class")
        count = min(max(math.floor(fraction * len(indices) + 0.5), 1), len(indices) - 1)
        ranked = sorted(range(len(indices)), key=lambda rank: _draw(seed, label, rank))
        val.extend(indices[rank] for rank in ranked[:count])
    chosen = set(val)
    return [i for i in range(len(labels)) if i not in chosen], sorted(val)


def check_fraction(fraction: float) -> None:
    """Raise the one-line error unless 0 < fraction < 1 (NaN fails too)."""
    if not 0.0 < fraction < 1.0:
        problem = ("is not a number" if math.isnan(fraction) else
                   f"leaves no {'training' if fraction >= 1 else 'validation'} images")
        raise ParameterError("val_fraction", f"{fraction:g} {problem} (need 0 < value < 1)")


def _split(samples: list[tuple], fraction: float, seed: int) -> tuple[list[Sample], list[Sample]]:
    """Training samples split stratified into (train, validation), each in scan order."""
    train_idx, val_idx = stratified_split([label for _, label in samples], fraction, seed)
    return [Sample(*samples[i]) for i in train_idx], [Sample(*samples[i]) for i in val_idx]


def _check_splittable(scan: folders.FolderScan) -> None:
    """Every class needs one training and one validation image: name the first that has fewer."""
    counts = [0] * len(scan.classes)
    for _, label in scan.train:
        counts[label] += 1
    for name, count in zip(scan.classes, counts):
        if count < 2:
            raise folders.data_error(f"class '{name}' has only {count} image in '{scan.train_dir}'; "
                                     "splitting off validation needs at least 2 per class")


def _synthetic_source(fraction: float, seed: int, size: int) -> DataSource:
    """The synthetic shapes: images 0..size-1 split train/val, the next size // 4 the test set."""
    classes = list(synthetic.SHAPES)
    if size < 2 * len(classes):
        raise folders.data_error(f"synthetic data needs at least {2 * len(classes)} images "
                                 f"(2 per class), not {size}")
    train, val = _split([(i, synthetic.label_of(i)) for i in range(size)], fraction, seed)
    test = [Sample(i, synthetic.label_of(i)) for i in range(size, size + max(len(classes), size // 4))]
    return DataSource("synthetic", SYNTHETIC, classes, train, val, test, [], "", seed)


def _draw(seed: int, label: int, rank: int) -> bytes:
    """A stable pseudo-random sort key for one image of one class."""
    return hashlib.blake2b(f"{seed}/{label}/{rank}".encode(), digest_size=8).digest()
