"""The datasets' archive formats, written here byte for byte as they are published, read back exactly."""

import gzip
import os
import pickle
import struct
import tarfile

import numpy as np
import pytest

from cnncost.errors import CnncostError
from zoo.training import archives


def cifar_batch(rng, count, label_key="labels", classes=10, balanced=False):
    """A batch as CIFAR's python pickles hold it: rows of 1024 red, then green, then blue values."""
    images = rng.integers(0, 256, size=(count, 32, 32, 3), dtype=np.uint8)
    labels = [i % classes for i in range(count)] if balanced else [int(v) for v in rng.integers(0, classes, count)]
    data = images.transpose(0, 3, 1, 2).reshape(count, 3072)
    return {b"batch_label": b"batch", label_key.encode(): labels, b"data": data,
            b"filenames": [b"x.png"] * count}, images, labels


def write_cifar10(folder, rng, per_batch=3, balanced=False):
    folder.mkdir(parents=True)
    truth = {}
    for name in archives.CIFAR10_FILES:
        batch, images, labels = cifar_batch(rng, per_batch, balanced=balanced)
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
        truth[name] = (images, labels)
    names = [n.encode() for n in ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                                  "truck")]
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": names, b"num_vis": 3072}, protocol=2))
    return truth


def test_cifar10_folder_and_tar_gz_read_back_every_pixel(tmp_path):
    rng = np.random.default_rng(0)
    truth = write_cifar10(tmp_path / "cifar-10-batches-py", rng)
    with tarfile.open(tmp_path / "cifar-10-python.tar.gz", "w:gz") as archive:
        archive.add(tmp_path / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    for path in (tmp_path / "cifar-10-batches-py", tmp_path / "cifar-10-python.tar.gz"):
        assert archives.detect(str(path)) == "cifar"
        data = archives.read_cifar(str(path))
        assert data.name == "cifar10" and data.classes[3] == "cat"
        expected = np.concatenate([truth[name][0] for name in archives.CIFAR10_FILES[:-1]])
        assert np.array_equal(data.train_images, expected) and data.train_images.shape == (15, 32, 32, 3)
        assert data.train_labels == [v for name in archives.CIFAR10_FILES[:-1] for v in truth[name][1]]
        assert np.array_equal(data.test_images, truth["test_batch"][0])


def test_cifar100_uses_the_fine_labels(tmp_path):
    rng = np.random.default_rng(1)
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    fine = [f"class{i}".encode() for i in range(100)]
    for name in ("train", "test"):
        batch, images, labels = cifar_batch(rng, 4, "fine_labels", classes=100)
        batch[b"coarse_labels"] = [0] * 4
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    (folder / "meta").write_bytes(pickle.dumps({b"fine_label_names": fine, b"coarse_label_names": []}))
    data = archives.read_cifar(str(folder))
    assert data.name == "cifar100" and len(data.classes) == 100 and data.test_labels == labels


def test_a_pickle_that_asks_for_code_is_refused(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar10(folder, np.random.default_rng(2))

    class Payload:
        def __reduce__(self):
            return (os.system, ("echo owned > " + str(tmp_path / "owned"),))

    (folder / "data_batch_1").write_bytes(pickle.dumps({b"data": Payload()}))
    with pytest.raises(CnncostError, match="data_batch_1 is not a CIFAR batch .*never holds"):
        archives.read_cifar(str(folder))
    assert not (tmp_path / "owned").exists()


def test_a_missing_batch_names_the_file_and_where_it_is_published(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar10(folder, np.random.default_rng(3))
    (folder / "test_batch").unlink()
    with pytest.raises(CnncostError, match="test_batch not found; the archive is published at https://www.cs.toronto"):
        archives.read_cifar(str(folder))


def idx_bytes(array: np.ndarray) -> bytes:
    return struct.pack(">BBBB", 0, 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


@pytest.mark.parametrize("zipped", [True, False])
def test_mnist_idx_files_gzipped_or_not(tmp_path, zipped):
    rng = np.random.default_rng(4)
    arrays = {"train_images": rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
              "train_labels": np.array([0, 1, 2, 3, 4, 9], dtype=np.uint8),
              "test_images": rng.integers(0, 256, (2, 28, 28), dtype=np.uint8),
              "test_labels": np.array([5, 7], dtype=np.uint8)}
    for key, name in archives.MNIST_FILES.items():
        raw = idx_bytes(arrays[key])
        (tmp_path / (name + ".gz" if zipped else name)).write_bytes(gzip.compress(raw) if zipped else raw)
    assert archives.detect(str(tmp_path)) == "mnist"
    data = archives.read_mnist(str(tmp_path))
    assert data.classes == [str(i) for i in range(10)]
    assert np.array_equal(data.train_images[..., 0], arrays["train_images"]) and data.train_images.shape[-1] == 1
    assert data.test_labels == [5, 7]


@pytest.mark.parametrize("damage, message", [
    (lambda raw: b"\x00\x00\x0d\x03" + raw[4:], "bad magic number"),
    (lambda raw: raw[:-5], "holds 1,563 data bytes, its header says 1,568"),
    (lambda raw: raw[:6], "is cut short"),
])
def test_a_damaged_idx_file_is_one_line(tmp_path, damage, message):
    arrays = {"train_images": np.zeros((2, 28, 28), np.uint8), "train_labels": np.zeros(2, np.uint8),
              "test_images": np.zeros((1, 28, 28), np.uint8), "test_labels": np.zeros(1, np.uint8)}
    for key, name in archives.MNIST_FILES.items():
        raw = idx_bytes(arrays[key])
        (tmp_path / name).write_bytes(damage(raw) if key == "train_images" else raw)
    with pytest.raises(CnncostError, match=message):
        archives.read_mnist(str(tmp_path))


def test_csv_listing_resolves_paths_next_to_the_file(tmp_path):
    (tmp_path / "imgs").mkdir()
    (tmp_path / "list.csv").write_text("path,label\nimgs/a.png,dog\nimgs/b.png,cat\n\nimgs/c.png,dog\n")
    classes, samples = archives.read_csv(str(tmp_path / "list.csv"))
    assert classes == ["cat", "dog"]
    assert samples == [(str(tmp_path / "imgs" / "a.png"), 1), (str(tmp_path / "imgs" / "b.png"), 0),
                       (str(tmp_path / "imgs" / "c.png"), 1)]
    (tmp_path / "bad.csv").write_text("imgs/a.png,dog,extra\n")
    with pytest.raises(CnncostError, match="row 1: .* is not 'path,label'"):
        archives.read_csv(str(tmp_path / "bad.csv"))


def test_train_reads_cifar10_and_mnist_archives_by_layout_or_by_name(tmp_path, capsys):
    """cnncost train on the archives as they are published: every image and label reaches the run."""
    import json

    from cnncost.cli import main
    from zoo.training.data import load_data

    rng = np.random.default_rng(5)
    write_cifar10(tmp_path / "cifar-10-batches-py", rng, per_batch=10, balanced=True)
    data = load_data(str(tmp_path / "cifar-10-batches-py"), val_fraction=0.25)
    assert (data.kind, len(data.train) + len(data.val), len(data.test)) == ("arrays", 50, 10)
    assert load_data(f"cifar10={tmp_path / 'cifar-10-batches-py'}").classes == data.classes
    from zoo.training.loaders import _from_pixels

    first_test = data.test[0]  # the test batch's image 0, as PIL gets it
    truth = pickle.loads((tmp_path / "cifar-10-batches-py" / "test_batch").read_bytes())
    assert np.array_equal(np.asarray(_from_pixels(first_test.item, pixels=data.pixels, channels=3)),
                          truth[b"data"][0].reshape(3, 32, 32).transpose(1, 2, 0))
    assert first_test.label == truth[b"labels"][0]
    arrays = {"train_images": rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
              "train_labels": np.array([i % 10 for i in range(20)], dtype=np.uint8),
              "test_images": rng.integers(0, 256, (10, 28, 28), dtype=np.uint8),
              "test_labels": np.arange(10, dtype=np.uint8)}
    (tmp_path / "mnist").mkdir()
    for key, name in archives.MNIST_FILES.items():
        (tmp_path / "mnist" / (name + ".gz")).write_bytes(gzip.compress(idx_bytes(arrays[key])))
    fashion = load_data(f"fashion-mnist={tmp_path / 'mnist'}")
    assert fashion.classes[9] == "Ankle boot" and len(fashion.test) == 10
    assert main(["train", "mlp3", "--data", f"mnist={tmp_path / 'mnist'}", "--epochs", "1", "--batch-size", "5",
                 "--out", str(tmp_path / "run"), "--quiet", "--no-plots", "--device", "cpu"]) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    # 2 training images per digit, one of each held out for validation; one test image per digit
    ones = [1] * 10
    assert metrics["data"] == {"train": 10, "val": 10, "test": 10, "skipped_files": 0, "unreadable_images": [],
                               "class_counts": {"train": ones, "val": ones, "test": ones}}
    capsys.readouterr()
    assert main(["train", "mlp3", "--data", "cifar11=x", "--quiet"]) == 2
    assert "'cifar11' is not a data format" in capsys.readouterr().err
