"""Training reports: exact metrics against brute force, atomic files, PNG plots, console output, peak table."""

from __future__ import annotations

import dataclasses
import importlib
import io
import json
import os
import random
import sys
from pathlib import Path

import pytest
import torch
from rich.console import Console

from zoo.training import plots
from zoo.training.console import TrainConsole
from zoo.runtime.files import open_atomic, save_atomic_torch, write_atomic, write_json_atomic
from zoo.training.metrics import ClassificationMeter, format_throughput, peak_flops_for

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------- metrics vs brute force

def random_batches(rng: random.Random, classes: int, batches: int) -> list:
    """Batches of small-integer logits (many ties, to pin the tie rule) with a float loss sum;
    sizes include empty batches, and the last batch is never empty."""
    out = []
    for size in [rng.choice([0, 1, 5, 17]) for _ in range(batches - 1)] + [17]:
        logits = torch.tensor([[float(rng.randint(0, 3)) for _ in range(classes)] for _ in range(size)])
        labels = torch.tensor([rng.randrange(classes) for _ in range(size)], dtype=torch.int64)
        out.append((logits.reshape(size, classes), labels, rng.uniform(0, 10) * size))
    return out


def brute_force(batches: list, classes: int, topk: int) -> dict:
    """Every metric by plain Python loops, ties broken towards the lower class index."""
    k = min(topk, classes)
    confusion = [[0] * classes for _ in range(classes)]
    hits_k, loss_sum, count = 0, 0.0, 0
    for logits, labels, batch_loss in batches:
        loss_sum += batch_loss
        for row, true in zip(logits.tolist(), labels.tolist()):
            order = sorted(range(classes), key=lambda c: (-row[c], c))
            confusion[true][order[0]] += 1
            hits_k += true in order[:k]
            count += 1
    correct = sum(confusion[c][c] for c in range(classes))
    per_class = []
    for c in range(classes):
        support = sum(confusion[c])
        predicted = sum(confusion[t][c] for t in range(classes))
        hits = confusion[c][c]
        per_class.append({"class": c, "precision": hits / predicted if predicted else 0.0,
                          "recall": hits / support if support else 0.0,
                          "f1": 2 * hits / (support + predicted) if support + predicted else 0.0,
                          "support": support, "predicted": predicted})
    # Macro means over the classes that have samples or predictions (torchmetrics' average="macro").
    present = [row for row in per_class if row["support"] or row["predicted"]]
    macro = {name: sum(row[name] for row in present) / len(present) for name in ("precision", "recall", "f1")}
    return {"confusion": confusion, "per_class": per_class,
            "result": {"loss": loss_sum / count, "top1": correct / count, "topk": hits_k / count, "k": k,
                       "count": count, "correct": correct, "correct_topk": hits_k, **macro}}


@pytest.mark.parametrize("seed", range(12))
def test_meter_equals_brute_force(seed):
    rng = random.Random(seed)
    classes, topk = rng.choice([2, 3, 7, 10]), rng.choice([1, 3, 5])  # torchmetrics needs 2 classes or more
    batches = random_batches(rng, classes, rng.randint(1, 8))
    meter = ClassificationMeter(classes, topk=topk)
    for logits, labels, loss in batches:
        meter.update(logits, labels, loss)
    expected = brute_force(batches, classes, topk)
    # Counts and accuracies exactly; precision, recall and F1 are torchmetrics' float32 ratios.
    result = meter.result()
    assert result.pop("confusion") == meter.confusion() == expected["confusion"]
    assert result.pop("per_class") == {key: [row[key] for row in meter.per_class()]
                                       for key in ("precision", "recall", "f1", "support", "predicted")}
    assert result == pytest.approx(expected["result"], rel=1e-6)
    exact = ("loss", "k", "count", "correct", "correct_topk", "top1", "topk")
    assert {key: result[key] for key in exact} == {key: expected["result"][key] for key in exact}
    assert [pytest.approx(row, rel=1e-6) for row in expected["per_class"]] == meter.per_class()


def test_meter_is_independent_of_batching_and_takes_tensor_losses():
    rng = random.Random(7)
    batches = [b for b in random_batches(rng, 10, 8) if len(b[1])]
    split, whole = ClassificationMeter(10), ClassificationMeter(10)
    for logits, labels, loss in batches:
        split.update(logits, labels, torch.tensor(loss, dtype=torch.float64))
    whole.update(torch.cat([b[0] for b in batches]), torch.cat([b[1] for b in batches]), 0.0)
    assert split.confusion() == whole.confusion()
    assert split.result()["correct_topk"] == whole.result()["correct_topk"]
    assert split.result()["loss"] == sum(b[2] for b in batches) / split.count


def test_meter_clamps_k_reset_names_and_bad_input():
    meter = ClassificationMeter(3, topk=5)
    meter.update(torch.tensor([[0.0, 1.0, 2.0], [5.0, 0.0, 0.0]]), torch.tensor([0, 0]), 1.5)
    result = meter.result()
    assert (result["k"], result["topk"], result["top1"], result["loss"]) == (3, 1.0, 0.5, 0.75)
    assert [row["name"] for row in meter.per_class(["a", "b", "c"])] == ["a", "b", "c"]
    never_predicted = meter.per_class()[1]
    assert never_predicted == {"class": 1, "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0, "predicted": 0}
    meter.reset()
    assert meter.count == 0 and meter.confusion() == [[0] * 3] * 3
    assert all(value != value for value in (meter.result()["loss"], meter.result()["top1"]))  # NaN
    for labels in (torch.tensor([0, 3]), torch.tensor([-1, 0])):
        with pytest.raises(ValueError, match="labels must lie"):
            meter.update(torch.zeros(2, 3), labels, 0.0)
    with pytest.raises(ValueError, match="logits"):
        meter.update(torch.zeros(2, 4), torch.tensor([0, 1]), 0.0)
    assert meter.count == 0  # a rejected batch leaves no trace


# ---------------------------------------------------------------- atomic files

class Unpicklable:
    """Serialising it raises, halfway through a torch.save or a JSON dump."""

    def __reduce__(self):
        raise RuntimeError("cannot serialise")


def test_atomic_writes_round_trip_without_leftovers(tmp_path):
    write_atomic(tmp_path / "a.txt", "héllo")
    write_atomic(tmp_path / "b.bin", b"\x00\x01")
    save_atomic_torch({"w": torch.arange(4)}, tmp_path / "c.pt")

    @dataclasses.dataclass
    class Config:
        lr: float
        out: Path

    write_json_atomic(tmp_path / "m.json", {"config": Config(0.1, tmp_path), "loss": float("nan"),
                                            "confusion": torch.tensor([[1, 2], [3, 4]]), 3: "key"})
    assert (tmp_path / "a.txt").read_text(encoding="utf-8") == "héllo"
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    assert torch.load(tmp_path / "c.pt")["w"].tolist() == [0, 1, 2, 3]
    data = json.loads((tmp_path / "m.json").read_text())
    assert data == {"config": {"lr": 0.1, "out": str(tmp_path)}, "loss": None,
                    "confusion": [[1, 2], [3, 4]], "3": "key"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.bin", "c.pt", "m.json"]
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "m.json").stat().st_mode & 0o777 == 0o666 & ~umask


@pytest.mark.parametrize("write", [
    lambda path: save_atomic_torch({"weights": torch.zeros(100_000), "bad": Unpicklable()}, path),
    lambda path: write_json_atomic(path, {"ok": 1, "bad": object()}),
    lambda path: write_atomic(path, 12),  # not bytes: must not become bytes(12), twelve zeros
], ids=["torch", "json", "int"])
def test_failed_write_keeps_the_old_file(tmp_path, write):
    target = tmp_path / "checkpoint"
    target.write_bytes(b"old")
    with pytest.raises((RuntimeError, TypeError)):
        write(target)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint"]


def test_interrupted_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "metrics.json"
    target.write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with open_atomic(target) as handle:
            handle.write(b"half a fi")
            raise KeyboardInterrupt
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


# ---------------------------------------------------------------- plots

def assert_png(path: Path) -> None:
    import matplotlib.image

    assert path.read_bytes()[:8] == PNG_SIGNATURE
    height, width = matplotlib.image.imread(path).shape[:2]
    assert height > 0 and width > 0
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []


def test_plots_write_pngs(tmp_path):
    history = [{"epoch": e, "train_loss": 2 / e, "val_loss": 2.2 / e, "train_acc": 0.3 + e / 20,
                "val_acc": 0.25 + e / 25} for e in range(1, 6)]
    history.append({"epoch": 6, "train_loss": float("nan"), "val_loss": None, "train_acc": 0.1})
    names = ["Amphibia", "Animalia", "Arachnida"]
    torch.manual_seed(0)
    written = [
        plots.plot_curves(history, tmp_path / "curves.png"),
        plots.plot_confusion([[5, 1, 0], [2, 7, 1], [0, 0, 0]], names, tmp_path / "confusion.png"),
        plots.plot_predictions(torch.rand(4, 3, 16, 16), [0, 1, 2, 0], [0, 2, 2, 1], names,
                               tmp_path / "predictions.png"),
        plots.plot_filters(torch.randn(20, 3, 5, 5), tmp_path / "filters.png"),
        plots.plot_filters(torch.randn(8, 16, 3, 3), tmp_path / "filters-grey.png"),
    ]
    for path in written:
        assert_png(path)


def test_predictions_titles_are_green_when_right_and_red_when_wrong():
    from matplotlib.colors import to_rgba

    true, pred = [0, 1, 2, 1, 0], [0, 2, 2, 1, 1]
    figure = plots.predictions_figure(torch.rand(5, 3, 8, 8), true, pred, ["cat", "dog", "owl"])
    axes = figure.axes
    assert len(axes) == 30  # 10 rows × 3 columns, blank cells included
    for index, (t, p) in enumerate(zip(true, pred)):
        title = axes[index].title
        names = ["cat", "dog", "owl"]
        assert title.get_text() == f"pred {names[p]} / true {names[t]}"
        red, green, _, _ = to_rgba(title.get_color())
        assert to_rgba(title.get_color()) == to_rgba(plots.RIGHT_COLOUR if t == p else plots.WRONG_COLOUR)
        assert (green > red) == (t == p)
        assert len(axes[index].images) == 1
    assert all(not ax.images and not ax.title.get_text() for ax in axes[5:])
    assert "3 of 5 predicted right" in figure._suptitle.get_text()


def test_confusion_counts_in_cells_only_up_to_thirty_classes():
    small = plots.confusion_figure([[3, 1], [0, 4]], ["a", "b"])
    assert sorted(t.get_text() for t in small.axes[0].texts) == ["0", "1", "3", "4"]
    big = plots.confusion_figure([[1] * 31 for _ in range(31)], [f"c{i}" for i in range(31)])
    assert len(big.axes[0].texts) == 0


def test_filters_are_min_max_scaled_each():
    weight = torch.randn(70, 3, 4, 4)
    weight[1] = 2.5  # a constant filter
    rgb = plots.normalise_filters(weight)
    assert rgb.shape == (64, 4, 4, 3)
    for index in (0, 2, 63):
        assert rgb[index].min() == 0.0 and rgb[index].max() == 1.0
    assert (rgb[1] == 0.5).all()
    grey = plots.normalise_filters(torch.randn(4, 16, 3, 3), max_filters=2)
    assert grey.shape == (2, 3, 3) and grey.min() == 0.0 and grey.max() == 1.0


class BlockMatplotlib:
    """A meta-path finder that fails any import of matplotlib."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "matplotlib":
            raise ImportError(f"{name} imported while importing zoo.training.plots")
        return None


def test_importing_plots_does_not_import_matplotlib(monkeypatch):
    # In-process, because a subprocess would spend seconds importing torch (zoo imports it):
    # matplotlib is hidden and blocked, and plots and files are imported afresh.
    import zoo.runtime
    import zoo.training

    fresh_modules = ("zoo.training.plots", "zoo.runtime.canvas", "zoo.runtime.files")
    for name in list(sys.modules):
        if name.split(".")[0] == "matplotlib" or name in fresh_modules:
            monkeypatch.delitem(sys.modules, name)
    # the fresh import rebinds them; teardown puts the originals back
    monkeypatch.setattr(zoo.training, "plots", zoo.training.plots)
    for attribute in ("canvas", "files"):
        monkeypatch.setattr(zoo.runtime, attribute, getattr(zoo.runtime, attribute))
    monkeypatch.setattr(sys, "meta_path", [BlockMatplotlib()] + sys.meta_path)
    fresh = importlib.import_module("zoo.training.plots")
    assert fresh is not plots and "matplotlib" not in sys.modules


def test_filter_mosaic_tiles_with_gaps():
    import numpy as np

    pictures = np.zeros((5, 4, 4, 3))
    mosaic = plots.filter_mosaic(pictures, rows=2, cols=3, gap=(1.0, 0.0, 0.0))
    assert mosaic.shape == (2 * 5 - 1, 3 * 5 - 1, 3)  # 4 pixels + 1 gap per filter, no outer gap
    assert (mosaic[4, :] == (1.0, 0.0, 0.0)).all() and (mosaic[:4, :4] == 0).all()
    assert (mosaic[5:, 10:] == (1.0, 0.0, 0.0)).all()  # the sixth cell is empty


# ---------------------------------------------------------------- console

def drive(console: TrainConsole) -> None:
    """One run's worth of console calls: a task bar, two epochs, the table."""
    console.line("vgg19 · last-layer · 3 classes")
    with console.task_bar("caching backbone features: train 40 · val 10", total=50) as bar:
        for _ in range(10):
            bar.advance(5)
    for epoch, (val_acc, best) in enumerate([(0.7412, True), (0.7001, False)], start=1):
        with console.epoch_bar(epoch, 2, batches=40) as bar:
            for step in range(40):
                bar.advance(loss=1.0 / (step + 1), acc=0.5, images_per_s=2470.0)
        console.epoch_row({"epoch": epoch, "train_loss": 1.1234, "train_acc": 0.6421, "val_loss": 0.9876,
                           "val_acc": val_acc, "val_topk": 0.95, "k": 5, "images_per_s": 2470.4,
                           "tflops": 61.3, "peak_fraction": 0.062, "lr": 1e-3, "seconds": 0.31, "best": best})
    console.epoch_table()


def test_quiet_console_prints_nothing(capsys):
    buffer = io.StringIO()
    console = TrainConsole(quiet=True, console=Console(file=buffer))
    drive(console)
    assert buffer.getvalue() == ""
    assert capsys.readouterr() == ("", "")
    assert [row["epoch"] for row in console.rows] == [1, 2]  # still recorded


def test_console_prints_lines_and_epoch_table_without_bar_spam():
    buffer = io.StringIO()
    drive(TrainConsole(console=Console(file=buffer, width=200)))  # a file: not a terminal
    output = buffer.getvalue()
    lines = output.splitlines()
    assert lines[0] == "vgg19 · last-layer · 3 classes"
    assert sum("caching backbone features" in line for line in lines) == 1  # the final state, once
    assert "100%" in lines[1]
    summary = [line for line in lines if line.startswith("epoch 1/2")]
    assert summary == ["epoch 1/2  loss 1.12  acc 0.64  val 0.74  top-5 0.95 ━━━━━━━━ 0.3 s"
                       " · 2,470 img/s · 61.3 TFLOP/s (6.2% of peak) *"]
    assert "loss 0.025" not in output and "" not in lines  # the transient epoch bar left no trace
    for text in ("val top-5", "TFLOP/s", "% of peak", "0.741", "0.700", "1.1234", "2,470", "6.2%", "0.001",
                 "0.3 s", "* best validation accuracy"):
        assert text in output, text


def test_console_on_a_terminal_draws_the_bars():
    buffer = io.StringIO()
    console = TrainConsole(console=Console(file=buffer, width=200, force_terminal=True))
    with console.epoch_bar(1, 3, batches=4) as bar:
        bar.advance(loss=0.5, acc=0.25, images_per_s=1234.0, batches=4)
    assert "epoch 1/3" in buffer.getvalue() and "loss 0.500  acc 0.250  1,234 img/s" in buffer.getvalue()


# ---------------------------------------------------------------- throughput and peaks

@pytest.mark.parametrize("device, dtype, tflops", [
    ("NVIDIA H100 80GB HBM3", "bf16", 989.4),
    ("NVIDIA H100 80GB HBM3", "torch.float32", 66.9),
    ("NVIDIA H100 PCIe", "fp16", 756.5),
    ("NVIDIA H100 NVL", "bfloat16", 835.5),
    ("NVIDIA H200", "bf16", 989.4),
    ("NVIDIA H200 NVL", "bf16", 835.5),
    ("NVIDIA A100-SXM4-80GB", "tf32", 156.0),
    ("NVIDIA A100 80GB PCIe", "bf16", 312.0),
    ("NVIDIA L40S", "bf16", 362.05),
    ("NVIDIA L40", "fp32", 90.5),
    ("nvidia l4", "BF16", 121.0),
    ("NVIDIA GeForce RTX 4090", "fp16", 165.2),
    ("Tesla V100-SXM2-16GB", "fp16", 125.0),
    ("Tesla V100-PCIE-32GB", "fp32", 14.0),
    ("Tesla T4", "half", 65.0),
    ("Tesla T4", "bf16", None),
    ("NVIDIA RTX A1000", "bf16", None),
    ("cpu", "fp32", None),
    ("Intel(R) Xeon(R) Platinum 8480+", "bf16", None),
])
def test_peak_flops_table(device, dtype, tflops):
    assert peak_flops_for(device, dtype) == (None if tflops is None else tflops * 1e12)


def test_peak_flops_rejects_unknown_dtype():
    with pytest.raises(ValueError, match="unknown dtype"):
        peak_flops_for("NVIDIA H100", "fp8")


def test_format_throughput():
    assert format_throughput(2470.4, 24_815_000_000, 400e12) == "2,470 img/s · 61.3 TFLOP/s (15.3% of peak)"
    assert format_throughput(2470.4, 24_815_000_000, None) == "2,470 img/s · 61.3 TFLOP/s"
    assert format_throughput(12.34, 0, None) == "12.3 img/s"
    assert format_throughput(50.0, 1_000_000_000, None) == "50.0 img/s · 0.05 TFLOP/s"


# ---------------------------------------------------------------- the prediction grid's sample (issue 12)

def folder_order_stream(counts: list, batch: int):
    """Images in folder order (all of class 0, then class 1, ...), each [1, 1, 1] holding its own
    index, so a kept image says which one it was; batches of ``batch``."""
    labels = [label for label, count in enumerate(counts) for _ in range(count)]
    for start in range(0, len(labels), batch):
        part = labels[start:start + batch]
        images = torch.arange(start, start + len(part), dtype=torch.float32).view(-1, 1, 1, 1)
        yield images, part, part  # predictions: right, it does not matter here


def grid(counts: list, seed: int, batch: int = 16, keep: int = 30) -> tuple:
    from zoo.training.sample import GridSample

    sample = GridSample(len(counts), keep, seed)
    for images, labels, preds in folder_order_stream(counts, batch):
        sample.add(images, labels, preds)
    images, true, _ = sample.result()
    return [int(v) for v in images.flatten()], true


def test_grid_sample_is_a_row_per_class_when_classes_fit():
    shown, true = grid([40] * 10, seed=0)
    assert true == [c for c in range(10) for _ in range(3)]  # row r of the 10 × 3 grid is class r
    assert len(set(shown)) == 30
    assert shown != [i for c in range(10) for i in range(40 * c, 40 * c + 3)]  # not the first of each class


@pytest.mark.parametrize("classes", [2, 3, 7, 10])
def test_grid_sample_covers_every_class_in_whole_rows(classes):
    _, true = grid([25] * classes, seed=3)
    assert len(true) == 30 and set(true) == set(range(classes))
    rows = [true[i:i + 3] for i in range(0, 30, 3)]
    assert all(len(set(row)) == 1 for row in rows)  # each row one class
    counts = [true.count(c) for c in range(classes)]
    assert max(counts) - min(counts) <= 3  # rows shared out evenly


def test_grid_sample_is_reproducible_for_a_seed_and_independent_of_batching():
    first, _ = grid([30, 12, 50, 8], seed=7, batch=5)
    again, _ = grid([30, 12, 50, 8], seed=7, batch=64)
    other, _ = grid([30, 12, 50, 8], seed=8, batch=5)
    assert first == again and first != other


def test_grid_sample_fills_a_short_class_cells_and_samples_many_classes():
    shown, true = grid([1] + [20] * 9, seed=0)
    assert len(shown) == 30 and set(true) == set(range(10)) and true.count(0) == 1
    shown, true = grid([3] * 100, seed=0)  # more classes than cells: 30 classes, one image each
    assert len(true) == len(set(true)) == 30


def test_evaluate_keeps_the_stratified_sample():
    """loop.evaluate (what train and `show predictions` draw from) keeps every class of a folder-ordered split."""
    from zoo.training.loop import Runtime, evaluate

    counts = [20] * 5
    batches = [(images, torch.tensor(labels), []) for images, labels, _ in folder_order_stream(counts, 8)]
    forward = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(1, 5))
    meter = ClassificationMeter(5)
    result = evaluate(forward, batches, Runtime(torch.device("cpu"), False, False), meter, keep=30, seed=1)
    images, true, pred = result["kept"]
    assert images.shape == (30, 1, 1, 1) and set(true) == set(range(5))
    assert true == [int(v) // 20 for v in images.flatten()]  # each label is its image's
    assert result["count"] == 100


# ---------------------------------------------------------------- the epoch table fits the terminal (issue 12)

def full_row(epoch: int) -> dict:
    return dict(epoch=epoch, train_loss=0.412345, train_acc=0.8123, val_loss=0.43219, val_acc=0.80125,
                val_topk=0.991, k=5, images_per_s=12345.6, tflops=61.234, peak_fraction=0.3123, lr=0.00123,
                seconds=12.34, best=epoch == 2)


@pytest.mark.parametrize("width", [200, 80, 60, 40])
def test_epoch_table_never_cuts_a_number(width, monkeypatch):
    monkeypatch.setenv("COLUMNS", str(width))  # rich takes the width of a non-terminal from COLUMNS
    console = TrainConsole(console=Console(file=io.StringIO()))
    for epoch in (1, 2, 3):
        console.epoch_row(full_row(epoch))
    console.console.file.seek(0)
    console.console.file.truncate()
    console.epoch_table()
    text = console.console.file.getvalue()
    lines = text.splitlines()
    assert "…" not in text and max(len(line) for line in lines) <= width, text
    body = [line for line in lines if line.startswith("│")]
    assert len(body) == 3  # one line per epoch: nothing folded
    for line in body:
        cells = [cell.strip() for cell in line.strip("│").split("│")]
        assert cells[0] in "123" and "0.801" in cells  # the epoch and validation accuracy always stay
    if width == 200:
        assert "0.4123" in body[0] and "0.00123" in body[0] and "left out" not in text
    else:
        words = " ".join(text.split())  # the caption wraps
        assert "left out to fit" in words and "(all in metrics.json)" in words
