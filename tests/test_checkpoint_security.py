"""A run file is data: loading it never imports code (issue 12).

A checkpoint whose stored config names ``module:SPEC`` used to make ``cnncost evaluate``
and every ``cnncost show`` view import and run that file. The payload modules here
write a marker file when imported: the marker must never appear unless the user
names the same module again with ``--module``, and that positive control shows the
marker would catch an import.
"""

from __future__ import annotations

import pytest

import zoo.cli.show_command  # noqa: F401  (registers `cnncost show`)
import zoo.cli.train_command  # noqa: F401  (registers `cnncost evaluate`)
from cnncost.cli import main
from zoo.runtime import checkpoint

from .checkpoint_helpers import edited, save_run, shapes_folder

PAYLOAD = """\
import pathlib
pathlib.Path({marker!r}).write_text("imported")
import torch.nn as nn
def make():
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))
"""


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """(a genuine smallcnn_res best.pt, a data folder with its classes)."""
    root = tmp_path_factory.mktemp("security")
    return save_run(root / "run") / checkpoint.BEST, shapes_folder(root / "shapes")


def payload_run(tmp_path, base, dotted: bool = False):
    """(a run file whose config names a payload module, the spec it names, the marker path).

    Each test writes its own payload (its own path), so no earlier import in this process is
    cached: an import would really run the file and write the marker.
    """
    marker = tmp_path / "MARKER"
    if dotted:  # a package in the current directory: importing it (even finding net in it) runs __init__
        package = tmp_path / f"payload_{tmp_path.name.replace('-', '_')}"
        package.mkdir()
        (package / "__init__.py").write_text(PAYLOAD.format(marker=str(marker)))
        (package / "net.py").write_text("from . import make\n")
        spec = f"{package.name}.net:make"
    else:
        (tmp_path / "payload.py").write_text(PAYLOAD.format(marker=str(marker)))
        spec = f"{tmp_path}/payload.py:make"
    run = edited(base[0], tmp_path / "evil.pt", lambda state: state["config"].update(arch="module:" + spec,
                                                                                    hyperparameters={}))
    return run, spec, marker


VIEWS = [
    ["evaluate", "{run}", "--data", "{data}"],
    ["evaluate", "{run}", "--data", "{data}", "--json"],
    ["show", "filters", "{run}"],
    ["show", "activations", "{run}", "--image", "{image}"],
    ["show", "guided-backprop", "{run}", "--image", "{image}"],
    ["show", "maximize", "{run}", "--steps", "1"],
    ["show", "predictions", "{run}", "--data", "{data}"],
]


def run_cli(capsys, args, tmp_path, run, base):
    image = next((base[1] / "test").rglob("*.png"))
    values = {"run": run, "data": base[1], "image": image}
    args = [a.format(**values) for a in args]
    if args[0] == "show":
        args += ["--out", str(tmp_path / "x.png"), "--device", "cpu"]
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("dotted", [False, True], ids=["file", "dotted"])
@pytest.mark.parametrize("args", VIEWS, ids=lambda a: " ".join(a[:2]))
def test_a_run_file_naming_a_module_imports_nothing(args, dotted, base, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where a dotted module would be found
    run, spec, marker = payload_run(tmp_path, base, dotted)
    code, printed, err = run_cli(capsys, args, tmp_path, run, base)
    assert code == 2 and printed == "" and err.count("\n") == 1, err
    assert err == (f"error: {run}: this run trained module:{spec}; pass --module {spec} to load it "
                   "(it runs that file's code)\n")
    assert not marker.exists()
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("dotted", [False, True], ids=["file", "dotted"])
def test_another_module_named_is_refused_without_importing_either(dotted, base, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run, spec, marker = payload_run(tmp_path, base, dotted)
    (tmp_path / "other.py").write_text(PAYLOAD.format(marker=str(marker)))
    code, printed, err = run_cli(capsys, ["evaluate", "{run}", "--data", "{data}", "--module", "other.py:make"],
                                 tmp_path, run, base)
    assert code == 2 and printed == ""
    assert err == (f"error: --module: {run} is a run of module:{spec}, not of module:other.py:make; "
                   f"pass --module {spec} to load it (it runs that file's code)\n")
    assert not marker.exists()


def test_naming_the_module_again_is_consent_and_it_is_imported(base, tmp_path, capsys, monkeypatch):
    """The positive control: the same module, even spelled relative to the current directory,
    gets past the gate and is imported (the marker appears). Its network is not the one the
    weights were saved from, which is a one-line error naming the tensors."""
    monkeypatch.chdir(tmp_path)
    run, spec, marker = payload_run(tmp_path, base)
    code, printed, err = run_cli(capsys, ["evaluate", "{run}", "--data", "{data}", "--module", "payload.py:make"],
                                 tmp_path, run, base)
    assert marker.exists()
    assert code == 2 and printed == "" and err.count("\n") == 1, err
    assert err.startswith(f"error: {run}: its weights do not fit module:payload.py:make")


def test_module_is_refused_for_a_run_of_a_zoo_network(base, tmp_path, capsys):
    code, printed, err = run_cli(capsys, ["show", "filters", "{run}", "--module", "x.py:make"], tmp_path,
                                 base[0], base)
    assert code == 2 and printed == ""
    assert err == f"error: --module: {base[0]} is a run of smallcnn_res, not of a module; leave --module out\n"


def test_same_module_compares_files_without_importing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "net.py").write_text("raise SystemExit('imported')\n")
    assert checkpoint.same_module(f"{tmp_path}/net.py:make", "net.py:make")
    assert checkpoint.same_module("./net.py:make", "net.py:make")
    assert not checkpoint.same_module("net.py:make", "net.py:build")  # another factory
    assert not checkpoint.same_module("pkg.net:make", "pkg.other:make")
    assert not checkpoint.same_module("gone.py:make", "net.py:make")
