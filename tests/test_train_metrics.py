"""Per-epoch metrics on torchmetrics: the meter against hand counts, and what a run writes.

Independent references: a confusion written out by hand with its precision, recall and F1 worked
out on paper (a never-predicted class, a predicted class with no samples, a class with neither);
Python's own sort for the tie rule; the same samples in one batch (batch splits, chunks, two
processes all-reducing); the saved model evaluated again and counted in plain Python; and the
files of the image folder for the class counts.
"""

from __future__ import annotations

import datetime
import io
import json
import random
import sys
import threading

import pytest
import torch
from rich.console import Console

from cnncost.cli import main
from zoo.training import metrics as metrics_module
from zoo.training import runfolder
from zoo.training.console import TrainConsole
from zoo.training.distributed import World
from zoo.training.metrics import ClassificationMeter, tie_free_scores

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# (true, predicted, samples) of a 5-class confusion:
#   class 2 has samples but is never predicted; class 3 is predicted once but has no samples;
#   class 4 has neither (macro means leave it out, as torchmetrics' average="macro" does).
PAIRS = ((0, 0, 3), (0, 1, 1), (1, 1, 2), (1, 0, 1), (1, 3, 1), (2, 0, 1), (2, 1, 1))
CONFUSION = [[3, 1, 0, 0, 0], [1, 2, 0, 1, 0], [1, 1, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]]
# By hand: precision = hits / predicted, recall = hits / support, F1 = 2PR / (P + R); 0 where 0/0.
PRECISION = [3 / 5, 2 / 4, 0.0, 0 / 1, 0.0]
RECALL = [3 / 4, 2 / 4, 0 / 2, 0.0, 0.0]
F1 = [2 * 0.6 * 0.75 / (0.6 + 0.75), 0.5, 0.0, 0.0, 0.0]  # 2/3, 1/2
MACRO = {"precision": (0.6 + 0.5) / 4, "recall": (0.75 + 0.5) / 4, "f1": (2 / 3 + 0.5) / 4}  # classes 0-3
# Top-2 with the predicted class at 2 and every other class tied at 1: the runner-up is the lowest other
# index, so a sample is a top-2 hit when its true class is its prediction or that runner-up. The misses:
# (1, 3) ranks 3 then 0; (2, 0) ranks 0 then 1; (2, 1) ranks 1 then 0.
TOP2_HITS = 3 + 1 + 2 + 1


def fixed_batch() -> tuple[torch.Tensor, torch.Tensor]:
    """The PAIRS as logits (2 for the predicted class, 1 elsewhere: ties everywhere else) and labels."""
    rows, labels = [], []
    for true, predicted, samples in PAIRS:
        for _ in range(samples):
            rows.append([2.0 if c == predicted else 1.0 for c in range(5)])
            labels.append(true)
    return torch.tensor(rows), torch.tensor(labels)


def test_meter_equals_the_hand_count_of_a_fixed_confusion():
    logits, labels = fixed_batch()
    meter = ClassificationMeter(5, topk=2)
    meter.update(logits, labels, 5.0)
    result = meter.result()
    assert meter.confusion() == result["confusion"] == CONFUSION
    assert (result["count"], result["correct"], result["top1"]) == (10, 5, 0.5)
    assert (result["correct_topk"], result["topk"], result["loss"]) == (TOP2_HITS, 0.7, 0.5)
    rows = meter.per_class(["a", "b", "c", "d", "e"])
    assert [row["support"] for row in rows] == [4, 4, 2, 0, 0]
    assert [row["predicted"] for row in rows] == [5, 4, 0, 1, 0]
    assert [row["name"] for row in rows] == ["a", "b", "c", "d", "e"]
    for name, expected in (("precision", PRECISION), ("recall", RECALL), ("f1", F1)):
        assert [row[name] for row in rows] == pytest.approx(expected, rel=1e-6), name
        assert result["per_class"][name] == [row[name] for row in rows]
        assert result[name] == pytest.approx(MACRO[name], rel=1e-6), name
    assert rows[0]["precision"] == 0.6 and rows[0]["f1"] == 0.6666667  # float32's digits, not 0.6000000238…


def test_an_empty_meter_reports_nan_ratios_and_zero_scores():
    result = ClassificationMeter(3).result()
    assert result["count"] == 0 and all(result[key] != result[key] for key in ("loss", "top1", "precision", "f1"))
    assert result["per_class"]["f1"] == [0.0] * 3 and result["confusion"] == [[0] * 3] * 3
    with pytest.raises(ValueError, match="≥ 2"):
        ClassificationMeter(1)


def test_a_missing_torchmetrics_is_one_line_naming_the_extra(monkeypatch):
    from cnncost.errors import CnncostError

    monkeypatch.setitem(sys.modules, "torchmetrics.functional", None)  # importing it now raises ImportError
    with pytest.raises(CnncostError, match=r"^training metrics need torchmetrics: pip install 'cnncost\[train\]'$"):
        ClassificationMeter(3)


def test_tie_free_scores_rank_as_pythons_sort_and_top1_hits_are_topk_hits():
    rng = random.Random(3)
    values = [0.0, -0.0, 1.0, -1.0, 1e-40, -1e-40, 3e38, -3e38, float("inf"), -float("inf"), 0.5, -0.5]
    logits = torch.tensor([[rng.choice(values) for _ in range(7)] for _ in range(300)])
    scores = tie_free_scores(logits)
    for row, ranked in zip(logits.tolist(), scores.tolist()):
        by_rule = sorted(range(7), key=lambda c: (-row[c], c))  # larger first, then the lower index
        assert sorted(range(7), key=lambda c: -ranked[c]) == by_rule and len(set(ranked)) == 7
    labels = torch.tensor([rng.randrange(7) for _ in range(300)])
    for k in (1, 2, 3, 7):
        meter = ClassificationMeter(7, topk=k)
        meter.update(logits, labels, 0.0)
        result = meter.result()
        ranks = [sorted(range(7), key=lambda c: (-row[c], c)).index(int(true))
                 for row, true in zip(logits.tolist(), labels)]
        assert result["correct_topk"] == sum(rank < k for rank in ranks)
        assert result["correct"] == sum(rank == 0 for rank in ranks) <= result["correct_topk"]


def random_stream(rng: random.Random, classes: int, samples: int) -> tuple[torch.Tensor, torch.Tensor]:
    logits = torch.tensor([[float(rng.randint(0, 3)) for _ in range(classes)] for _ in range(samples)])
    return logits, torch.tensor([rng.randrange(classes) for _ in range(samples)])


def split_feed(meter: ClassificationMeter, logits, labels, cuts: list) -> dict:
    for start, stop in zip([0] + cuts, cuts + [len(labels)]):
        meter.update(logits[start:stop], labels[start:stop], float(stop - start))
    return meter.result()


def test_batch_splits_and_chunks_do_not_change_any_figure(monkeypatch):
    rng = random.Random(11)
    logits, labels = random_stream(rng, 6, 97)
    whole = split_feed(ClassificationMeter(6, topk=3), logits, labels, [])
    cuts = sorted(rng.sample(range(1, 97), 12)) + [97]  # the last batch is empty
    assert split_feed(ClassificationMeter(6, topk=3), logits, labels, cuts) == whole
    monkeypatch.setattr(metrics_module, "CHUNK_LOGITS", 20)  # torchmetrics gets many small chunks
    assert split_feed(ClassificationMeter(6, topk=3), logits, labels, cuts) == whole
    meter = ClassificationMeter(6, topk=3)
    split_feed(meter, logits, labels, cuts)
    with pytest.raises(ValueError, match="labels must lie"):
        meter.update(logits[:2], torch.tensor([0, 6]), 1.0)
    assert meter.result() == whole  # a rejected batch leaves no trace


def test_two_processes_all_reduce_to_the_one_meter_of_every_sample():
    """World.reduce_meter over a real gloo group (two threads here, as two ranks), against one meter."""
    logits, labels = random_stream(random.Random(5), 4, 41)
    whole = split_feed(ClassificationMeter(4, topk=2), logits, labels, [])
    store, results, errors = torch.distributed.HashStore(), {}, []

    def rank(number: int) -> None:
        try:
            group = torch.distributed.ProcessGroupGloo(store, number, 2, datetime.timedelta(seconds=60))
            meter = ClassificationMeter(4, topk=2)
            half = slice(0, 17) if number == 0 else slice(17, 41)
            split_feed(meter, logits[half], labels[half], [5])
            meter.result()  # computed before the all-reduce: nothing stale may remain after it
            World(number, 2, 0, group).reduce_meter(meter)
            results[number] = meter.result()
        except Exception as error:  # noqa: BLE001 - reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=rank, args=(number,)) for number in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors and results[0] == results[1] == whole


def shapes_folder(root, train: dict, test: dict):
    """An image folder root/{train,test}/<shape>/ of 16-pixel synthetic shapes: ``{shape index: images}``."""
    from zoo.training.synthetic import SHAPES, render

    for split, counts in (("train", train), ("test", test)):
        for shape, count in counts.items():
            folder = root / split / SHAPES[shape]
            folder.mkdir(parents=True)
            for number in range(count):  # image i draws shape i % 10
                render(0, shape + 10 * (number + (100 if split == "test" else 0)), 16).save(folder / f"{number}.png")
    return root


def recount(rows: list) -> dict:
    """Per-class precision, recall, F1, support and predicted from (true, predicted) pairs, in plain Python."""
    classes = 1 + max(max(pair) for pair in rows)
    hits = [sum(t == p == c for t, p in rows) for c in range(classes)]
    support = [sum(t == c for t, _ in rows) for c in range(classes)]
    predicted = [sum(p == c for _, p in rows) for c in range(classes)]
    return {"precision": [h / n if n else 0.0 for h, n in zip(hits, predicted)],
            "recall": [h / n if n else 0.0 for h, n in zip(hits, support)],
            "f1": [2 * h / (s + p) if s + p else 0.0 for h, s, p in zip(hits, support, predicted)],
            "support": support, "predicted": predicted}


def validation_pairs(run_file, data) -> list:
    """(true, predicted) of every validation image, by the network saved in ``run_file`` (rebuilt as
    ``cnncost evaluate`` does) on the run's own validation split."""
    from zoo.training.data import load_data
    from zoo.training.evaluate import load_run
    from zoo.training.loaders import make_dataset

    run = load_run(str(run_file), device="cpu")
    source = load_data(str(data), val_fraction=run.config.val_fraction, seed=run.config.seed)
    mean, std = run.normalisation
    resize = {"resize": run.config.resize} if hasattr(run.config, "resize") else {}  # --resize, where it exists
    dataset = make_dataset(source, "val", size=run.size, mean=mean, std=std, channels=3, **resize)
    with torch.no_grad():
        images = torch.stack([dataset[i][0] for i in range(len(dataset))])
        predicted = run.model(images).argmax(1).tolist()
    return [(sample.label, p) for sample, p in zip(source.val, predicted)]


@pytest.mark.usefixtures("one_torch_thread")
def test_a_run_writes_per_epoch_class_figures_that_its_saved_model_reproduces(tmp_path, capsys):
    data = shapes_folder(tmp_path / "data", train={0: 6, 1: 4, 2: 8}, test={0: 2, 1: 3, 2: 1})
    out = tmp_path / "run"
    assert main(["train", "smallcnn_res", "--m", "4", "--n", "8", "--img-size", "16", "--epochs", "2",
                 "--batch-size", "8", "--lr", "0.01", "--data", str(data), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    saved = json.loads((out / "metrics.json").read_text())
    assert len(saved["epochs"]) == 2
    # checkpoint.pt holds the weights the last epoch validated, best.pt those of the best epoch:
    # evaluate each again and count by hand.
    for run_file, epoch in ((out / "checkpoint.pt", 2), (out / "best.pt", saved["best"]["epoch"])):
        row, pairs = saved["epochs"][epoch - 1], validation_pairs(run_file, data)
        expected = recount(pairs)
        for name in ("precision", "recall", "f1"):
            assert row["val_per_class"][name] == pytest.approx(expected[name], rel=1e-6), (epoch, name)
            present = [v for v, s, p in zip(expected[name], expected["support"], expected["predicted"]) if s or p]
            assert row[f"val_{name}"] == pytest.approx(sum(present) / len(present), rel=1e-6)
        assert [row["val_per_class"][key] for key in ("support", "predicted")] == [expected["support"],
                                                                                expected["predicted"]]
        assert row["val_confusion"] == [[pairs.count((t, p)) for p in range(3)] for t in range(3)]
    # The class counts are the folder's files: train + val from train/, test from test/.
    counts = saved["data"]["class_counts"]
    files = {split: [len(list((data / split / name).iterdir())) for name in saved["classes"]]
             for split in ("train", "test")}
    assert [a + b for a, b in zip(counts["train"], counts["val"])] == files["train"] == [6, 4, 8]
    assert counts["test"] == files["test"] == [2, 3, 1]
    for row in saved["epochs"]:  # every training image is counted once an epoch, in its class
        assert row["train_per_class"]["support"] == counts["train"] and row["val_per_class"]["support"] == counts["val"]
        assert 0 <= row["train_f1"] <= 1 and len(row["train_per_class"]["f1"]) == 3
    from matplotlib.image import imread

    for name in ("class_scores.png", "class_distribution.png"):
        assert (out / name).read_bytes()[:8] == PNG_SIGNATURE and imread(out / name).shape[2] in (3, 4), name
        assert name in " ".join(printed.split())  # the last line names it


def test_a_folder_holding_only_the_start_chart_is_empty_and_a_failed_start_leaves_none(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "class_distribution.png").write_bytes(PNG_SIGNATURE)  # a run killed before its first epoch
    with runfolder.claim(folder, resume=False):
        assert not (folder / "class_distribution.png").exists()
        (folder / "class_distribution.png").write_bytes(PNG_SIGNATURE)  # this run's chart; no epoch follows
    assert list(folder.iterdir()) == []  # it saved nothing, so it leaves nothing (the folder was given: it stays)
    with runfolder.claim(tmp_path / "new", resume=False):
        (tmp_path / "new" / "class_distribution.png").write_bytes(PNG_SIGNATURE)
    assert not (tmp_path / "new").exists()  # nor the folder it made


def test_epoch_table_shows_macro_scores_with_one_line_headers(monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    console = TrainConsole(console=Console(file=io.StringIO()))
    for epoch in (1, 2):
        console.epoch_row(dict(epoch=epoch, train_loss=2.29, train_acc=0.14, val_loss=2.21, val_acc=0.2,
                               val_topk=0.675, k=5, images_per_s=301.2, tflops=0.0149, lr=0.00186, seconds=1.6,
                               best=epoch == 1, val_precision=0.125, val_recall=0.25, val_f1=0.0625 * epoch))
    console.console.file.seek(0)
    console.console.file.truncate()
    console.epoch_table()
    lines = console.console.file.getvalue().splitlines()
    header = [line for line in lines if line.startswith("┃")]
    assert len(header) == 1 and all(name in header[0] for name in ("val P", "val R", "val F1", "val top-5"))
    body = [[cell.strip() for cell in line.strip("│").split("│")] for line in lines if line.startswith("│")]
    assert [row[6:9] for row in body] == [["0.125", "0.250", "0.062"], ["0.125", "0.250", "0.125"]]
    assert "macro means over classes" in " ".join(" ".join(lines).split())
