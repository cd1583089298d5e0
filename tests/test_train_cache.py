"""The image cache of ``cnncost train`` and ``--no-plots``.

References: the streaming DataLoader path (the same batches, bit for bit, and
the same trained weights), a count of how often each synthetic image is
rendered, and the run folder's files.
"""

import json

import pytest
import torch
from PIL import Image

from cnncost.cli import main
from cnncost.errors import CnncostError
from zoo.training import imagecache, synthetic
from zoo.runtime.config import TrainConfig
from zoo.training.data import load_data
from zoo.training.loaders import make_dataset, make_loader
from zoo.training.memory import GIB, available_bytes
from zoo.training.run import train

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = {"m": 4, "n": 8}  # smallcnn_res


def config(tmp_path, name="run", **overrides) -> TrainConfig:
    values = dict(arch="smallcnn_res", data="synthetic", epochs=2, batch_size=8, img_size=32,
                  out=str(tmp_path / name), hyperparameters=dict(TINY), synthetic_size=40, quiet=True,
                  plots=False)
    values.update(overrides)
    return TrainConfig(**values)


def weights(folder) -> dict:
    return torch.load(folder / "checkpoint.pt", weights_only=True)["model"]


def assert_same_batches(streamed, cached) -> None:
    streamed, cached = list(streamed), list(cached)
    assert len(streamed) == len(cached)
    for (x1, y1, bad1), (x2, y2, bad2) in zip(streamed, cached):
        assert torch.equal(x1, x2) and x1.shape == x2.shape and x1.dtype == x2.dtype
        assert torch.equal(y1, y2) and bad1 == bad2


def folder_with_a_bad_file(root):
    """train/{a,b}/: 3 images each, one of b's files corrupt."""
    for label, name in enumerate("ab"):
        for i in range(3):
            path = root / "train" / name / f"{i}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (20 + 3 * i, 16), (40 * i, 90 * label, 200)).save(path)
    (root / "train" / "b" / "1.png").write_bytes(b"not a png")
    return root


@pytest.mark.parametrize("source", ["synthetic", "folder"])
def test_cached_batches_equal_the_data_loader_batches(tmp_path, source):
    data = (load_data("synthetic", seed=3, synthetic_size=30) if source == "synthetic"
            else load_data(str(folder_with_a_bad_file(tmp_path)), val_fraction=0.3, seed=3))
    dataset = make_dataset(data, "train", 24, seed=3)
    cache = imagecache.build(dataset)
    for epoch in range(2):
        loader = make_loader(dataset, 4, shuffle=True, seed=3, epoch=epoch)
        assert_same_batches(loader, cache.batches(loader.sampler.order(), 4))
    if source == "folder":  # the corrupt file keeps no row and is named in its batch, as collate does
        assert list(cache.bad.values()) == [str(tmp_path / "train" / "b" / "1.png")]
        assert len(cache.rows) == len(dataset) - 1


def test_augmented_images_are_cached_before_their_augmentation(tmp_path):
    """uint8 rows (a quarter of the bytes); each batch carries the keys of the dataset's current epoch."""
    dataset = make_dataset(load_data("synthetic", synthetic_size=40), "train", 24, augment=True, seed=3)
    cache = imagecache.build(dataset)
    assert cache.rows.dtype == torch.uint8 and cache.nbytes == imagecache.split_bytes(dataset)
    for epoch in (0, 2):
        loader = make_loader(dataset, 5, shuffle=True, seed=1, epoch=epoch)
        streamed, cached = list(loader), list(cache.batches(loader.sampler.order(), 5))
        assert len(streamed) == len(cached)
        for (x1, y1, bad1, plan1), (x2, y2, bad2, plan2) in zip(streamed, cached):
            assert torch.equal(x1, x2) and x1.stride() == x2.stride() and torch.equal(y1, y2)
            assert bad1 == bad2 and plan1 == plan2


def counting_renders(monkeypatch) -> list:
    calls = []
    original = synthetic.render

    def render(seed, index, resolution=64):
        calls.append(index)
        return original(seed, index, resolution)

    monkeypatch.setattr(synthetic, "render", render)
    return calls


def test_cache_renders_each_image_once_and_trains_bit_identically(tmp_path, monkeypatch):
    calls = counting_renders(monkeypatch)
    train(config(tmp_path, "streamed", epochs=3, cache=False))
    streamed_calls, calls[:] = len(calls), []
    train(config(tmp_path, "cached", epochs=3))
    data = load_data("synthetic", synthetic_size=40)
    # train and val once each, the test split once at the end; streaming renders train and val every epoch
    assert len(calls) == len(data.train) + len(data.val) + len(data.test)
    assert streamed_calls == 3 * (len(data.train) + len(data.val)) + len(data.test)
    streamed, cached = weights(tmp_path / "streamed"), weights(tmp_path / "cached")
    assert all(torch.equal(streamed[name], cached[name]) for name in streamed)
    history = [json.loads((tmp_path / run / "metrics.json").read_text())["epochs"] for run in ("streamed", "cached")]
    assert [(r["train_loss"], r["val_loss"]) for r in history[0]] == [(r["train_loss"], r["val_loss"])
                                                                      for r in history[1]]


def test_over_the_limit_the_split_streams_with_the_same_result(tmp_path, monkeypatch, capsys):
    train(config(tmp_path, "cached"))
    monkeypatch.setattr(imagecache, "limit_bytes", lambda: imagecache.split_bytes(
        make_dataset(load_data("synthetic", synthetic_size=40), "val", 32)))  # val fits, train does not
    calls = counting_renders(monkeypatch)
    train(config(tmp_path, "limited", quiet=False))
    out = " ".join(capsys.readouterr().out.split())
    data = load_data("synthetic", synthetic_size=40)
    assert f"caching images: val {len(data.val)} " in out and "images read every epoch: train" in out
    assert len(calls) == 2 * len(data.train) + len(data.val) + len(data.test)
    cached, limited = weights(tmp_path / "cached"), weights(tmp_path / "limited")
    assert all(torch.equal(cached[name], limited[name]) for name in cached)


def test_augmented_training_resumes_exactly(tmp_path, monkeypatch):
    """With --augment (train cached before its augmentation) an interrupted, resumed run equals a straight one."""
    train(config(tmp_path, "straight", augment=True))

    def stop(epoch, row):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(config(tmp_path, "resumed", augment=True), on_epoch_end=stop)
    train(config(tmp_path, "resumed", augment=True, resume=True, plots=True))  # --plots may change on resume
    straight, resumed = weights(tmp_path / "straight"), weights(tmp_path / "resumed")
    assert all(torch.equal(straight[name], resumed[name]) for name in straight)
    assert (tmp_path / "resumed" / "curves.png").exists()


def test_the_cache_limit_is_a_quarter_of_ram_at_most_8_gib():
    ram = available_bytes("cpu")
    assert imagecache.limit_bytes() == (8 * GIB if ram is None else min(8 * GIB, ram // 4))


def test_no_plots_writes_no_png_and_says_so(tmp_path, capsys):
    code = main(["train", "smallcnn_res", "--img-size", "32", "--m", "4", "--n", "8", "--synthetic-size", "40",
                 "--epochs", "1", "--batch-size", "20", "--device", "cpu", "--no-plots",
                 "--out", str(tmp_path / "run")])
    out = capsys.readouterr().out
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "run").iterdir() if not p.name.startswith(".")) == [
        "best.pt", "checkpoint.pt", "metrics.json"]
    assert "plots skipped: --no-plots" in " ".join(out.split())
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["config"]["plots"] is False


def test_plots_must_be_a_bool(tmp_path):
    with pytest.raises(CnncostError, match="^plots: 'no' is out of range"):
        config(tmp_path, plots="no").check()
