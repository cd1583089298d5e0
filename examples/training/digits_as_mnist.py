"""Write scikit-learn's 8×8 handwritten digits as MNIST's four idx files: a stand-in for MNIST, offline.

MNIST itself (https://yann.lecun.com/exdb/mnist/) is a download; scikit-learn bundles the UCI optical
digits (1,797 images of 8×8 pixels, 16 grey levels), which need none. Each digit is laid out as MNIST lays
out its own: scaled to a 20×20 box (bilinear), centred in a 28×28 black image, white ink on black, 0–255.
One seventh of each class is the test split (MNIST: 10,000 of 70,000), chosen by a seeded shuffle.

    python examples/training/digits_as_mnist.py runs/digits-idx
    cnncost train mlp3 --data mnist=runs/digits-idx ...

The numbers a run reports on these files are the digits' numbers, not MNIST's: 1,540 training images of
smoother, lower-resolution digits.
"""

from __future__ import annotations

import argparse
import struct
from pathlib import Path

import numpy as np

SIDE, BOX = 28, 20  # MNIST: a 20×20 digit centred in a 28×28 image
TEST_SHARE = 1 / 7
FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
         "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def mnist_layout(digit: np.ndarray) -> np.ndarray:
    """One 8×8 digit (values 0–16) as a 28×28 uint8 MNIST image: scaled to 20×20, centred."""
    from PIL import Image

    grey = Image.fromarray((digit * 255.0 / 16.0).round().astype(np.uint8))
    box = np.asarray(grey.resize((BOX, BOX), Image.Resampling.BILINEAR))
    image = np.zeros((SIDE, SIDE), dtype=np.uint8)
    start = (SIDE - BOX) // 2
    image[start:start + BOX, start:start + BOX] = box
    return image


def split(labels: np.ndarray, seed: int) -> tuple:
    """(train indices, test indices): TEST_SHARE of every class in the test split, by a seeded shuffle."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        count = int(round(len(members) * TEST_SHARE))
        test += members[:count].tolist()
        train += members[count:].tolist()
    return np.array(sorted(train)), np.array(sorted(test))


def write_idx(path: Path, array: np.ndarray) -> None:
    """An idx file of unsigned bytes: magic 0x00 0x00 0x08 NDIM, each dimension as a big-endian uint32, the data."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder for the four idx files (created)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the train/test split")
    args = parser.parse_args()
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.stack([mnist_layout(d) for d in digits.images])
    labels = digits.target.astype(np.uint8)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, indices in zip(("train", "test"), split(labels, args.seed)):
        image_file, label_file = FILES[name]
        write_idx(args.out / image_file, images[indices])
        write_idx(args.out / label_file, labels[indices])
        print(f"{name}: {len(indices):,} images -> {args.out / image_file}")


if __name__ == "__main__":
    main()
