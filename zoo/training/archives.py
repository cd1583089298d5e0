"""The datasets' own archive formats, read without torchvision: CIFAR-10/100 python batches, MNIST-style
idx files, and a CSV listing of ``path,label``.

* CIFAR-10: the ``cifar-10-batches-py`` folder (``data_batch_1`` … ``data_batch_5``, ``test_batch``,
  ``batches.meta``) or the ``cifar-10-python.tar.gz`` it comes in; CIFAR-100: ``cifar-100-python``
  (``train``, ``test``, ``meta``; the 100 fine labels) or its ``.tar.gz``. The batches are pickles,
  so they are read with an unpickler that builds only what the format holds — dicts, lists, bytes,
  numbers and numpy arrays — and refuses any other global: a crafted file cannot run code.
* MNIST and Fashion-MNIST: ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
  ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each gzipped (``.gz``) or not.
* CSV: a file of ``path,label`` rows (an optional ``path,label`` header); paths relative to the file.

Every missing or malformed file is one line naming it, and for the archives where it is published.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import pickle
import tarfile
from pathlib import Path
from typing import NamedTuple

import numpy as np

from cnncost.arch import ParameterError

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR100_URL = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
MNIST_URL = "https://yann.lecun.com/exdb/mnist/ (or the Fashion-MNIST release on GitHub, zalandoresearch)"
CIFAR10_FILES = ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch")
MNIST_FILES = {"train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
               "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte"}
IDX_UBYTE = 0x08  # the idx type code of unsigned bytes (the only one these datasets use)
# The globals a pickled numpy array needs, in numpy 1's and numpy 2's module names; nothing else is built.
NUMPY_GLOBALS = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                 ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
                 ("numpy._core.multiarray", "scalar"),
                 # protocol-2 pickles written by Python 3 carry bytes as _codecs.encode(text, "latin1"):
                 # a pure function of its arguments, it builds bytes and nothing else.
                 ("_codecs", "encode")}
MAX_MEMBER_BYTES = 2 * 2**30  # a tar member larger than this is not a CIFAR batch


class ArrayData(NamedTuple):
    """A dataset held as arrays: uint8 images [N, H, W, C] (C = 1 or 3) and int labels, per split."""

    name: str  # "cifar10", "cifar100", "mnist"
    classes: list
    train_images: np.ndarray
    train_labels: list
    test_images: np.ndarray
    test_labels: list


def detect(path: str) -> str | None:
    """Which archive format ``path`` is ("cifar", "mnist", "csv"), or None for anything else (an image folder)."""
    file = Path(path).expanduser()
    if file.is_file():
        if file.suffix.lower() == ".csv":
            return "csv"
        if file.name.endswith((".tar.gz", ".tgz")) and "cifar" in file.name.lower():
            return "cifar"
        return None
    if not file.is_dir():
        return None
    names = set(os.listdir(file))
    if "batches.meta" in names or {"train", "test", "meta"} <= names or "data_batch_1" in names:
        return "cifar"
    if any(name.startswith(MNIST_FILES["train_images"]) for name in names):
        return "mnist"
    return None


# ---------------------------------------------------------------- CIFAR

class _ArraysOnly(pickle.Unpickler):
    """Builds the containers and numpy arrays a CIFAR batch holds; any other global is refused."""

    def find_class(self, module: str, name: str):
        """numpy's array reconstruction only."""
        if (module, name) in NUMPY_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"the file asks for {module}.{name}, which a CIFAR batch never holds")


def _unpickle(data: bytes, where: str) -> dict:
    try:
        value = _ArraysOnly(io.BytesIO(data), encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, ImportError,
            IndexError, KeyError, OverflowError, MemoryError) as error:
        raise ParameterError("data", f"{where} is not a CIFAR batch ({str(error)[:120]})") from None
    if not isinstance(value, dict):
        raise ParameterError("data", f"{where} is not a CIFAR batch (it holds a {type(value).__name__}, not a dict)")
    return {(k.decode("latin-1") if isinstance(k, bytes) else k): v for k, v in value.items()}


def read_cifar(path: str) -> ArrayData:
    """CIFAR-10 or CIFAR-100 from its python-batches folder or its .tar.gz."""
    files = _cifar_files(path)
    hundred = "meta" in files and "batches.meta" not in files
    if hundred:
        meta = _unpickle(_member(files, "meta", path, CIFAR100_URL), _where(path, "meta"))
        classes = _names(meta.get("fine_label_names"), _where(path, "meta"))
        train = [_batch(files, "train", path, CIFAR100_URL, "fine_labels")]
        test = _batch(files, "test", path, CIFAR100_URL, "fine_labels")
    else:
        meta = _unpickle(_member(files, "batches.meta", path, CIFAR10_URL), _where(path, "batches.meta"))
        classes = _names(meta.get("label_names"), _where(path, "batches.meta"))
        train = [_batch(files, name, path, CIFAR10_URL, "labels") for name in CIFAR10_FILES[:-1]]
        test = _batch(files, "test_batch", path, CIFAR10_URL, "labels")
    images = np.concatenate([b[0] for b in train])
    labels = [label for b in train for label in b[1]]
    for split_labels, where in ((labels, "train"), (test[1], "test")):
        if split_labels and not 0 <= min(split_labels) <= max(split_labels) < len(classes):
            raise ParameterError("data", f"{path}: a {where} label is outside 0..{len(classes) - 1}")
    return ArrayData("cifar100" if hundred else "cifar10", classes, images, labels, test[0], test[1])


def _cifar_files(path: str) -> dict:
    """{member name: bytes loader} of the batches folder, or of the first such folder inside the tar.gz."""
    file = Path(path).expanduser()
    if file.is_dir():
        return {name: (lambda p=file / name: p.read_bytes()) for name in os.listdir(file) if (file / name).is_file()}
    try:
        archive = tarfile.open(file, "r:gz")
        members = {}
        for member in archive.getmembers():
            if member.isfile() and member.size <= MAX_MEMBER_BYTES:
                # a regular file (isfile above), for which extractfile returns a reader, never None
                members[Path(member.name).name] = (
                    lambda m=member: archive.extractfile(m).read())  # type: ignore[union-attr]
        return members
    except (tarfile.TarError, OSError, EOFError) as error:
        raise ParameterError("data", f"{path} is not a readable .tar.gz ({error})") from None


def _member(files: dict, name: str, path: str, url: str) -> bytes:
    if name not in files:
        raise ParameterError("data", f"{_where(path, name)} not found; the archive is published at {url}")
    try:
        return files[name]()
    except OSError as error:
        raise ParameterError("data", f"cannot read {_where(path, name)} ({error.strerror or error})") from None


def _batch(files: dict, name: str, path: str, url: str, label_key: str) -> tuple:
    """(uint8 images [N, 32, 32, 3], labels) of one batch: its rows are 1024 red, green, blue values each."""
    where = _where(path, name)
    batch = _unpickle(_member(files, name, path, url), where)
    data, labels = batch.get("data"), batch.get(label_key)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise ParameterError("data", f"{where}: 'data' is not a uint8 array of 3,072 values per image")
    labels = list(labels) if isinstance(labels, (list, np.ndarray)) else None
    if labels is None or len(labels) != len(data) or not all(isinstance(v, (int, np.integer)) for v in labels):
        raise ParameterError("data", f"{where}: '{label_key}' is not one integer label per image")
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), [int(v) for v in labels]


def _names(names, where: str) -> list:
    if not isinstance(names, list) or not names or not all(isinstance(n, (bytes, str)) for n in names):
        raise ParameterError("data", f"{where} holds no list of class names")
    return [n.decode("utf-8", "replace") if isinstance(n, bytes) else n for n in names]


def _where(path: str, name: str) -> str:
    return f"{path}{'' if path.endswith('/') else '/'}{name}"


# ---------------------------------------------------------------- MNIST idx

def read_mnist(path: str) -> ArrayData:
    """MNIST or Fashion-MNIST from a folder of its four idx files (gzipped or not); classes '0'..'9'."""
    arrays = {key: _idx(Path(path).expanduser(), name) for key, name in MNIST_FILES.items()}
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise ParameterError("data", f"{path}: the {split} images ({images.shape}) and labels ({labels.shape}) "
                                         "do not pair up (need N×H×W images and N labels)")
    classes = [str(c) for c in range(int(max(arrays["train_labels"].max(initial=0),
                                             arrays["test_labels"].max(initial=0))) + 1)]
    return ArrayData("mnist", classes, arrays["train_images"][..., None], arrays["train_labels"].tolist(),
                     arrays["test_images"][..., None], arrays["test_labels"].tolist())


def _idx(folder: Path, name: str) -> np.ndarray:
    """One idx file (``name`` or ``name.gz``): magic 0x0000TTDD (type, dimensions), big-endian sizes, data."""
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            break
    else:
        raise ParameterError("data", f"{folder / name}(.gz) not found; MNIST's idx files are published at {MNIST_URL}")
    try:
        raw = gzip.decompress(candidate.read_bytes()) if candidate.suffix == ".gz" else candidate.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        raise ParameterError("data", f"cannot read {candidate} ({error})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != IDX_UBYTE or not 1 <= raw[3] <= 4:
        raise ParameterError("data", f"{candidate} is not an idx file of unsigned bytes (bad magic number)")
    dims = raw[3]
    header = 4 + 4 * dims
    if len(raw) < header:
        raise ParameterError("data", f"{candidate} is cut short (its header needs {header} bytes)")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims))
    count = int(np.prod(shape, dtype=np.int64))
    if len(raw) - header != count:
        raise ParameterError("data", f"{candidate} holds {len(raw) - header:,} data bytes, its header says "
                                     f"{count:,} ({'×'.join(map(str, shape))})")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


# ---------------------------------------------------------------- CSV

def read_csv(path: str) -> tuple:
    """(classes sorted by name, [(absolute image path, label index)]) from a ``path,label`` CSV file."""
    file = Path(path).expanduser()
    try:
        rows = list(csv.reader(file.read_text(encoding="utf-8-sig").splitlines()))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise ParameterError("data", f"cannot read {path} ({error})") from None
    if rows and [cell.strip().lower() for cell in rows[0]] == ["path", "label"]:
        rows = rows[1:]
    pairs = []
    for number, row in enumerate(rows, start=1):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != 2 or not row[0].strip() or not row[1].strip():
            raise ParameterError("data", f"{path} row {number}: {','.join(row)[:80]!r} is not 'path,label'")
        pairs.append((str((file.parent / row[0].strip()).resolve()), row[1].strip()))
    if not pairs:
        raise ParameterError("data", f"{path} lists no images (need rows of path,label)")
    classes = sorted({label for _, label in pairs})
    index = {name: i for i, name in enumerate(classes)}
    return classes, [(image, index[label]) for image, label in pairs]
