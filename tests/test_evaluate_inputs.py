"""``cnncost evaluate`` and ``cnncost show`` on run files and inputs that are not what they should be
(issue 12): each is one ``error:`` line on stderr, exit 2, nothing on stdout, never a traceback
or a hang; ``--json`` output always parses as strict JSON.
"""

from __future__ import annotations

import json
import os

import pytest
import torch

import zoo.cli.show_command  # noqa: F401  (registers `cnncost show`)
import zoo.cli.train_command  # noqa: F401  (registers `cnncost evaluate`)
from cnncost.cli import main
from zoo.runtime import checkpoint

from .checkpoint_helpers import CLASSES, edited, save_run, shapes_folder


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """(root, a genuine smallcnn_res run folder, a data folder with its classes)."""
    root = tmp_path_factory.mktemp("evaluate-inputs")
    return root, save_run(root / "run"), shapes_folder(root / "shapes")


def cli(capsys, *args) -> tuple:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_error_line(code, printed, err, message):
    assert code == 2 and printed == "", (code, printed, err)
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err, err


class Reduce:
    """A pickle that would run a shell command when unpickled without weights_only."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _drop(key):
    return lambda state: state.pop(key)


def _config(**values):
    return lambda state: state["config"].update(values)


BROKEN = {  # name -> (edit of a genuine best.pt, what the error line says)
    "no config": (_drop("config"), "not a cnncost checkpoint (its run configuration is missing)"),
    "config not a table": (lambda s: s.update(config=5), "its run configuration is not a table"),
    "config without arch": (lambda s: s["config"].pop("arch"), "its run configuration is malformed"),
    "arch not a name": (_config(arch=7), "its run configuration's arch is 7"),
    "img_size a word": (_config(img_size="big"), "its run configuration's img_size is 'big'"),
    "hyperparameters a list": (_config(hyperparameters=[1]), "its run configuration's hyperparameters"),
    "unknown arch": (_config(arch="nonet"), "cannot rebuild the run's network nonet (unknown architecture"),
    "no classes": (_drop("classes"), "its class names are missing"),
    "weights not tensors": (lambda s: s.update(model={"conv1.weight": 1}), "not a state_dict of tensors"),
    "another format": (lambda s: s.update(format="x"), "not a cnncost checkpoint (it was not written by"),
    "another network": (_config(hyperparameters={"m": 16, "n": 32}),
                        "its weights do not fit smallcnn_res with 10 classes as its config describes: "
                        "15 wrong-shaped (bn2.bias [16] vs [32]"),
    "another class count": (lambda s: s.update(classes=CLASSES[:5]),
                            "its weights do not fit smallcnn_res with 5 classes as its config describes: "
                            "2 wrong-shaped (fc2.bias [10] vs [5], fc2.weight [10, 32] vs [5, 32])"),
}


@pytest.mark.parametrize("name", BROKEN)
@pytest.mark.parametrize("command", ["evaluate", "show"])
def test_a_broken_run_file_is_one_line(name, command, base, tmp_path, capsys):
    edit, message = BROKEN[name]
    run = edited(base[1] / checkpoint.BEST, tmp_path / "best.pt", edit)
    args = ["evaluate", run, "--data", base[2]] if command == "evaluate" else \
        ["show", "filters", run, "--out", tmp_path / "x.png"]
    code, printed, err = cli(capsys, *args)
    one_error_line(code, printed, err, message)
    assert err.startswith(f"error: {run}: ")
    assert not (tmp_path / "x.png").exists()


def test_a_malicious_pickle_is_one_line_and_never_runs(tmp_path, capsys):
    marker = tmp_path / "PICKLED"
    path = tmp_path / "evil.pt"
    torch.save({"format": checkpoint.FORMAT, "config": Reduce(marker)}, path)
    for args in (["evaluate", path, "--data", tmp_path], ["show", "filters", path, "--out", tmp_path / "x.png"]):
        one_error_line(*cli(capsys, *args), f"error: {path}: not a cnncost checkpoint (torch refused to "
                                            "unpickle it: Trying to load unsupported GLOBAL ")
    assert not marker.exists()


def test_garbage_and_truncated_files_are_one_line(base, tmp_path, capsys):
    whole = (base[1] / checkpoint.BEST).read_bytes()
    for name, data in (("garbage.pt", b"hello"), ("truncated.pt", whole[: len(whole) // 2]), ("empty.pt", b"")):
        (tmp_path / name).write_bytes(data)
        one_error_line(*cli(capsys, "evaluate", tmp_path / name, "--data", base[2]),
                       f"error: {tmp_path / name}: not a cnncost checkpoint (torch cannot read it: ")


def test_a_fifo_device_or_folder_is_refused_without_waiting(base, tmp_path, capsys):
    fifo = tmp_path / "best.pt"
    os.mkfifo(fifo)  # opening it for reading would wait for a writer forever
    one_error_line(*cli(capsys, "evaluate", fifo, "--data", base[2]), f"{fifo}: cannot read the run file "
                                                                     "(not a regular file: a FIFO)")
    one_error_line(*cli(capsys, "show", "filters", fifo, "--out", tmp_path / "x.png"), "(not a regular file: a FIFO)")
    one_error_line(*cli(capsys, "evaluate", tmp_path, "--data", base[2]), "(not a regular file: a FIFO)")
    one_error_line(*cli(capsys, "evaluate", "/dev/zero", "--data", base[2]), "(not a regular file: a device)")
    empty = tmp_path / "empty"
    empty.mkdir()
    one_error_line(*cli(capsys, "evaluate", empty, "--data", base[2]), f"{empty}: not a run folder (it has no best.pt")


def test_device_must_be_auto_cpu_or_cuda(base, tmp_path, capsys):
    for args in (["evaluate", base[1], "--data", base[2]], ["show", "filters", base[1], "--out", tmp_path / "x.png"],
                 ["show", "predictions", base[1], "--data", base[2], "--out", tmp_path / "x.png"]):
        one_error_line(*cli(capsys, *args, "--device", "tpu"), "error: --device: 'tpu' is not one of auto, cpu, cuda")


def strict_json(text: str):
    """``json.loads`` that refuses NaN and Infinity, which are not JSON."""
    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_json_parses_when_some_test_images_are_unreadable(base, tmp_path, capsys):
    data = shapes_folder(tmp_path / "shapes")
    broken = sorted((data / "test").rglob("*.png"))[::2]
    for path in broken:
        path.write_bytes(b"not an image")
    code, printed, err = cli(capsys, "evaluate", base[1], "--data", data, "--json")
    assert code == 0, err
    result = strict_json(printed)  # the notes on skipped images went to stderr
    assert result["count"] == 10 - len(broken)
    assert sorted(err.splitlines()) == sorted(f"skipped unreadable image: {p}" for p in broken)


def test_no_readable_test_image_is_one_line_even_with_json(base, tmp_path, capsys):
    data = shapes_folder(tmp_path / "shapes")
    for path in (data / "test").rglob("*.png"):
        path.write_bytes(b"junk")
    for extra in ([], ["--json"]):
        one_error_line(*cli(capsys, "evaluate", base[1], "--data", data, *extra),
                       f"error: --data: none of the 10 test images in {data} is a readable image (first: ")


def test_json_of_a_diverged_run_is_strict_json(base, tmp_path, capsys):
    """A run with NaN weights has a NaN loss: ``--json`` writes null there (``json.dumps`` would write NaN)."""
    run = edited(base[1] / checkpoint.BEST, tmp_path / "best.pt",
                 lambda state: state["model"]["fc2.bias"].fill_(float("nan")))
    code, printed, err = cli(capsys, "evaluate", run, "--data", base[2], "--json")
    assert code == 0, err
    assert strict_json(printed)["loss"] is None


def test_weights_that_are_a_fifo_are_refused_without_waiting(tmp_path, capsys):
    fifo = tmp_path / "weights.pth"
    os.mkfifo(fifo)
    one_error_line(*cli(capsys, "show", "filters", "zoo.smallcnn_res", "--weights", fifo, "--out", tmp_path / "x.png"),
                   f"error: --weights: {fifo}: cannot read the weights file (not a regular file: a FIFO)")


@pytest.mark.parametrize("protocol", [2, 4])
def test_a_raw_malicious_pickle_warns_nothing_and_never_runs(protocol, tmp_path, capsys):
    """torch warns (a Python warning, two raw lines on stderr) about protocol-4 pickles before
    refusing them: the user must see only the one error line, for run files and --weights alike."""
    import pickle
    import warnings

    marker = tmp_path / "PICKLED"
    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps(Reduce(marker), protocol=protocol))
    commands = (["evaluate", path, "--data", tmp_path], ["show", "filters", path, "--out", tmp_path / "x.png"],
                ["show", "filters", "smallcnn", "--weights", path, "--out", tmp_path / "x.png"])
    for args in commands:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            code, printed, err = cli(capsys, *args)
        assert code == 2 and printed == "" and err.count("\n") == 1, (args, err)
        assert f"{path}" in err and "readable" in err or "not a cnncost checkpoint" in err, err
        assert caught == [], [str(w.message) for w in caught]
    assert not marker.exists()
