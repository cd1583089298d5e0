"""A training run's event stream and its ``--log`` sinks (events.jsonl, epochs.csv, TensorBoard).

Independent reference: metrics.json, written by ``report.finish`` from the run's history as it always was.
Every file a sink writes is read back with a plain reader (``json.loads`` a line at a time, with NaN refused;
``csv.DictReader``; TensorBoard's own ``EventAccumulator``) and compared with it, epoch by epoch.
"""

import csv
import importlib.util
import json
import math
import shutil

import pytest
import torch

from cnncost.cli import main
from zoo.training import events, sinks
from zoo.runtime.config import TrainConfig
from zoo.training.run import train

pytestmark = pytest.mark.usefixtures("one_torch_thread")

HAS_TENSORBOARD = importlib.util.find_spec("tensorboard") is not None


def config(tmp_path, name="run", **overrides) -> TrainConfig:
    """A tiny smallcnn_res run on 16-pixel synthetic shapes (40 images: 3 steps of 10 an epoch)."""
    values = dict(arch="smallcnn_res", epochs=3, batch_size=10, img_size=16, out=str(tmp_path / name),
                  hyperparameters={"m": 4, "n": 8}, synthetic_size=40, device="cpu", plots=False, quiet=True,
                  log="console,jsonl,csv")
    values.update(overrides)
    return TrainConfig(**values)


def refuse_nan(name):
    raise AssertionError(f"events.jsonl holds {name}: not strict JSON")


def records(folder) -> list:
    """events.jsonl, one strict JSON object per line (every line ends with a newline)."""
    text = (folder / "events.jsonl").read_text(encoding="utf-8")
    assert text.endswith("\n")
    return [json.loads(line, parse_constant=refuse_nan) for line in text.splitlines()]


def epoch_records(folder) -> list:
    """The epoch_ended records without their "type" and "time" keys."""
    return [{k: v for k, v in record.items() if k not in ("type", "time")}
            for record in records(folder) if record["type"] == "epoch_ended"]


def metrics(folder) -> dict:
    return json.loads((folder / "metrics.json").read_text())


def csv_value(cell: str, reference):
    """An epochs.csv cell read back as the type metrics.json holds it (JSON null: an empty cell or nan)."""
    if reference is None:
        assert cell in ("", "nan", "inf", "-inf"), cell
        return None
    if isinstance(reference, bool):
        assert cell in ("true", "false"), cell
        return cell == "true"
    return type(reference)(cell)


def assert_csv_equals(folder, rows: list) -> None:
    with open(folder / "epochs.csv", newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames) == events.EPOCH_SCALARS
        read = list(reader)
    assert len(read) == len(rows)
    for cells, row in zip(read, rows):
        assert {name: csv_value(cells[name], row.get(name)) for name in events.EPOCH_SCALARS} == \
               {name: row.get(name) for name in events.EPOCH_SCALARS}


def test_jsonl_and_csv_hold_every_epoch_as_metrics_json_does(tmp_path):
    seen = []

    class Recorder:
        def handle(self, event):
            seen.append(event)

        def close(self):
            seen.append("closed")

    train(config(tmp_path), sinks=[Recorder()])
    folder, saved = tmp_path / "run", metrics(tmp_path / "run")
    assert epoch_records(folder) == saved["epochs"] and [row["epoch"] for row in saved["epochs"]] == [1, 2, 3]
    assert_csv_equals(folder, saved["epochs"])
    kinds = [record["type"] for record in records(folder) if record["type"] != "message"]
    assert kinds == ["run_started", "epoch_ended", "epoch_ended", "epoch_ended", "training_ended", "run_ended"]
    started, ended = records(folder)[0], records(folder)[-1]
    assert started["classes"] == saved["classes"] and started["trainable_params"] == saved["params"]["trainable"]
    assert started["resumed_from"] == 0 and started["epochs"] == 3
    for key in ("evaluated_on", "test_accuracy", "test_topk", "k", "test_loss", "per_class", "memory"):
        assert ended[key] == saved[key], key
    assert [r for r in records(folder) if r["type"] == "training_ended"][0]["best"] == saved["best"]
    # The caller's sink saw the same stream, typed, and was closed once at the end.
    typed = [event for event in seen if isinstance(event, events.EpochEnded)]
    assert [json.loads(json.dumps(event.to_dict())) for event in typed] == saved["epochs"]
    assert seen[-1] == "closed" and isinstance(seen[-2], events.RunEnded)
    # A row and its record are one another's inverse; a figure no record holds is refused, not dropped.
    assert [events.EpochEnded.from_row(row).to_dict() for row in saved["epochs"]] == saved["epochs"]
    with pytest.raises(ValueError, match="val_auc"):
        events.EpochEnded.from_row({**saved["epochs"][0], "val_auc": 0.5})


def test_resume_leaves_each_epoch_once_whatever_the_interruption_left(tmp_path):
    """Interrupted after epoch 2, with the checkpoint of epoch 1 put back (so the files hold an epoch the run
    trains again), events.jsonl's epoch 1 record lost and a torn last line: the resumed run's files hold epochs
    1, 2, 3 once each, equal to metrics.json's."""
    log = "console,jsonl,csv" + (",tensorboard" if HAS_TENSORBOARD else "")
    folder = tmp_path / "run"

    def stop(epoch, row):
        if epoch == 1:
            shutil.copy(folder / "checkpoint.pt", tmp_path / "epoch1.pt")
        if epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(config(tmp_path, log=log), on_epoch_end=stop)
    assert [row["epoch"] for row in epoch_records(folder)] == [1, 2]
    shutil.copy(tmp_path / "epoch1.pt", folder / "checkpoint.pt")
    kept = [line for line in (folder / "events.jsonl").read_text().splitlines(keepends=True)
            if '"epoch_ended"' not in line or '"epoch": 1,' not in line]
    (folder / "events.jsonl").write_text("".join(kept) + '{"type": "epoch_ended", "time": 1.0, "epo')
    train(config(tmp_path, log=log, resume=True))
    saved = metrics(folder)
    assert [row["epoch"] for row in saved["epochs"]] == [1, 2, 3]
    assert sorted(epoch_records(folder), key=lambda row: row["epoch"]) == saved["epochs"]
    restored = [r for r in records(folder) if r["type"] == "epoch_ended" and r["time"] is None]
    assert [r["epoch"] for r in restored] == [1]  # written again from the checkpoint's history
    assert [r["resumed_from"] for r in records(folder) if r["type"] == "run_started"] == [0, 1]
    assert_csv_equals(folder, saved["epochs"])
    if HAS_TENSORBOARD:
        assert_tensorboard_equals(folder / "tensorboard", saved)


def assert_tensorboard_equals(path, saved: dict) -> None:
    """TensorBoard's reader, purging as TensorBoard does, shows each epoch once with metrics.json's values
    (stored as float32), and the final evaluation at the last epoch."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    reader = EventAccumulator(str(path))
    reader.Reload()
    shown_tags = (set(sinks.TENSORBOARD_TAGS.values()) | set(sinks.TEST_TAGS.values())) - {
        sinks.TENSORBOARD_TAGS["peak_fraction"]}  # no peak is known for a CPU
    assert set(reader.Tags()["scalars"]) == shown_tags
    as_float32 = lambda value: torch.tensor(value, dtype=torch.float32).item()  # noqa: E731
    for name, tag in sinks.TENSORBOARD_TAGS.items():
        if name == "peak_fraction":
            continue
        shown = [(event.step, event.value) for event in reader.Scalars(tag)]
        assert shown == [(row["epoch"], as_float32(row[name])) for row in saved["epochs"]], tag
    for name, tag in sinks.TEST_TAGS.items():
        assert [(e.step, e.value) for e in reader.Scalars(tag)] == [(3, as_float32(saved[name]))], tag


def test_file_sinks_write_strict_json_and_nan_cells(tmp_path):
    """A diverged loss (NaN) is null in events.jsonl and nan in epochs.csv; nothing is written before the run
    folder holds a checkpoint."""
    scores = events.Scores(loss=math.nan, top1=0.5, precision=0.5, recall=0.5, f1=0.5,
                           per_class={"f1": [math.inf, 0.0]}, topk=1.0)
    ended = events.EpochEnded(epoch=1, train=scores, val=scores, k=2, lr=0.1, images_per_s=10.0, tflops=1e-9,
                              peak_fraction=None, seconds=0.5, cached=False, best=True)
    started = events.RunStarted(folder=str(tmp_path), network="n", strategy="scratch", classes=("a", "b"),
                                image_size=8, epochs=1, trainable_params=3, frozen_params=0, device="cpu",
                                bf16=False, channels_last=False)
    jsonl, table = sinks.JsonlSink(tmp_path), sinks.CsvSink(tmp_path)
    for sink in (jsonl, table):
        sink.handle(events.Message("a warning", "warning"))
        sink.handle(started)
    assert not (tmp_path / "events.jsonl").exists()  # no checkpoint yet: a run that saved nothing leaves nothing
    (tmp_path / "checkpoint.pt").write_bytes(b"")
    for sink in (jsonl, table):
        sink.handle(ended)
        sink.close()
    lines = records(tmp_path)
    assert [r["type"] for r in lines] == ["message", "run_started", "epoch_ended"]
    assert lines[0]["text"] == "a warning" and lines[0]["kind"] == "warning"
    assert lines[2]["train_loss"] is None and lines[2]["val_per_class"] == {"f1": [None, 0.0]}
    with open(tmp_path / "epochs.csv", newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["train_loss"] == "nan" and row["peak_fraction"] == "" and row["best"] == "true" and row["k"] == "2"


def test_a_run_that_saves_no_epoch_leaves_no_log_file(tmp_path):
    class StopAtStart:
        def handle(self, event):
            if isinstance(event, events.RunStarted):
                raise KeyboardInterrupt

        def close(self):
            pass

    with pytest.raises(KeyboardInterrupt):
        train(config(tmp_path), sinks=[StopAtStart()])
    assert not (tmp_path / "run").exists()  # the folder it made is gone again: no events.jsonl, no epochs.csv


# The two-process case (only rank 0 writes the files) runs on test_ddp.py's reference two-process run.


FAST = ["train", "smallcnn_res", "--img-size", "16", "--m", "4", "--n", "8", "--synthetic-size", "40",
        "--epochs", "1", "--batch-size", "20", "--device", "cpu", "--no-plots", "--quiet"]


@pytest.mark.parametrize("value, message", [
    ("console,jsonl,tensorbord", "--log: 'tensorbord' is not a sink (need a comma-separated list of console, "
                                 "jsonl, csv, tensorboard)"),
    ("", "--log: '' is out of range (need a comma-separated list of console, jsonl, csv, tensorboard)"),
    (",", "--log: '' is not a sink"),
])
def test_unknown_sinks_are_one_line_and_exit_2(tmp_path, capsys, value, message):
    capsys.readouterr()
    assert main([*FAST, "--log", value, "--out", str(tmp_path / "run")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and message in error and error.count("\n") == 1, error
    assert not (tmp_path / "run").exists()


def test_tensorboard_without_its_package_is_one_line_before_training(tmp_path, capsys, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else real(name, *a))
    capsys.readouterr()
    assert main([*FAST, "--log", "console,tensorboard", "--out", str(tmp_path / "run")]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and captured.err.startswith("error: --log: tensorboard needs")
    assert "pip install tensorboard" in captured.err and captured.out == ""
    assert not (tmp_path / "run").exists()


def test_the_cli_log_option_names_the_files_on_the_last_line(tmp_path, capsys):
    capsys.readouterr()
    words = [word for word in FAST if word != "--quiet"]
    assert main([*words, "--log", "csv,console", "--out", str(tmp_path / "run")]) == 0
    last = " ".join(capsys.readouterr().out.split()).rsplit("test accuracy", 1)[1]
    assert "(metrics.json, epochs.csv; plots skipped: --no-plots)" in last
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["best.pt", "checkpoint.pt", "epochs.csv",
                                                                    "metrics.json"]
    assert metrics(tmp_path / "run")["config"]["log"] == "csv,console"
