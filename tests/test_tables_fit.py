"""Tables fit COLUMNS by leaving out whole columns (named in one line) or wrapping prose: never by
cutting a number or a name. Every number and name a table shows is checked against --json.

Before, rich cut cells to fit (``1,814,073,3…`` in ``cnncost zoo`` at 80 columns; ``verify`` cut
layer names even at 200) and the plain tables ignored COLUMNS altogether.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from cnncost.cli import main

LONG = str(Path(__file__).parent / "data" / "archfiles" / "long_names.toml")
WIDTHS = (80, 60, 200)


def run(capsys, monkeypatch, width: int, *args: str) -> str:
    """Output of a command with COLUMNS set (the test's stdout is no terminal)."""
    monkeypatch.setenv("COLUMNS", str(width))
    code = main(list(args))
    captured = capsys.readouterr()
    assert code == 0 and captured.err == "", captured.err
    assert "…" not in captured.out  # rich's mark of a cut cell
    return captured.out


def json_of(capsys, monkeypatch, *args: str):
    monkeypatch.delenv("COLUMNS", raising=False)
    assert main([*args, "--json"]) in (0, 1)
    return json.loads(capsys.readouterr().out)


def line_of(out: str, name: str) -> str:
    """The table line that starts with ``name`` as a whole word."""
    found = [line for line in out.splitlines() if re.match(re.escape(name) + r"(\s|$)", line)]
    assert found, f"{name!r} is not shown whole"
    return found[0]


def header_of(out: str, first: str) -> list:
    line = next(line for line in out.splitlines() if line.startswith(first + " "))
    return re.split(r"\s{2,}", line.strip())


def check_note(out: str, shown: list, every: list) -> None:
    """The columns not shown are exactly those the note under the table names."""
    missing = [title for title in every if title not in shown]
    note = " ".join(out.split("(left out to fit ", 1)[1].split(")")[0].split()) if "(left out" in out else ""
    for title in missing:
        assert title in note, (title, note)
    assert bool(missing) == bool(note)


@pytest.mark.parametrize("width", WIDTHS)
def test_count_shows_every_number_and_name_whole(capsys, monkeypatch, width):
    expected = json_of(capsys, monkeypatch, "count", LONG)
    out = run(capsys, monkeypatch, width, "count", LONG)
    shown = header_of(out, "layer")
    check_note(out, shown, ["layer", "type", "output", "params", "buffers", "MACs", "mults", "adds"])
    assert {"layer", "params", "MACs"} <= set(shown)
    for layer in expected["layers"]:
        if layer["type"] in ("Activation", "Flatten"):
            continue  # free layers are left out without --all-layers
        cells = re.split(r"\s{2,}", line_of(out, layer["name"]).strip())
        assert cells[0] == layer["name"]
        values = dict(zip(shown, cells))
        for title, key in (("params", "params"), ("buffers", "buffers"), ("MACs", "macs"), ("mults", "mults"),
                           ("adds", "adds")):
            if title in shown:
                assert values[title] == f"{layer[key]:,}", (title, cells)
    for name, value in expected["totals"].items():
        assert re.search(rf"^{re.escape(name)}\s+{re.escape(f'{value:,}')}(\s|$)", out, re.MULTILINE), name
    longest = max(len(layer["name"]) for layer in expected["layers"])
    widest = longest + 2 + len(f"{expected['totals']['params']:,}") + 2 + len(f"{expected['totals']['macs']:,}")
    assert max(len(line) for line in out.splitlines()) <= max(width, widest)  # long only for what cannot fit


@pytest.mark.parametrize("width", WIDTHS)
def test_zoo_shows_every_number_and_name_whole(capsys, monkeypatch, width):
    expected = json_of(capsys, monkeypatch, "zoo")
    out = run(capsys, monkeypatch, width, "zoo")
    shown = header_of(out, "name")
    check_note(out, shown, ["name", "input", "params", "MACs", "torchvision state_dict", "source"])
    for row in expected:
        cells = re.split(r"\s{2,}", line_of(out, row["name"]).strip())
        values = dict(zip(shown, cells))
        assert values["params"] == f"{row['params']:,}"
        if "MACs" in shown:
            assert values["MACs"] == f"{row['macs']:,}"
    # Long lines only where the name, its params and the longest word of a source cannot fit.
    widest = max(len(r["name"]) for r in expected) + max(len(f"{r['params']:,}") for r in expected) + 4 + max(
        len(word) for r in expected for word in r["source"].split())
    assert max(len(line.rstrip()) for line in out.splitlines()) <= max(width, widest)


@pytest.mark.parametrize("width", WIDTHS)
def test_summary_shows_every_number_and_name_whole(capsys, monkeypatch, width):
    expected = json_of(capsys, monkeypatch, "summary", LONG)
    out = run(capsys, monkeypatch, width, "summary", LONG)
    shown = header_of(out, "Layer")
    check_note(out, shown, ["Layer", "Type", "Output shape", "Param #", "MACs"])
    for layer in expected["layers"]:
        cells = re.split(r"\s{2,}", line_of(out, layer["name"]).strip())
        values = dict(zip(shown, cells))
        assert values["Param #"] == f"{layer['keras_params']:,}"
        if "MACs" in shown:
            assert values["MACs"] == f"{layer['macs']:,}"
    for label, key in (("Total params", "keras"), ("MACs", "macs"), ("FLOPs", "flops")):
        value = f"{expected['totals'][key]:,}"
        assert re.search(rf"^{label}:\s+{re.escape(value)}\s", out, re.MULTILINE), label


@pytest.mark.parametrize("width", (60, 200))
def test_verify_shows_every_layer_name_whole(capsys, monkeypatch, width):
    pytest.importorskip("torch")
    expected = json_of(capsys, monkeypatch, "verify", LONG)
    out = run(capsys, monkeypatch, width, "verify", LONG)
    shown = header_of(out, "layer")
    check_note(out, shown, ["layer", "type", "output", "params", "buffers", "MACs", "fvcore", "ptflops"])
    assert expected["ok"] and "all agree" in out
    for layer in expected["layers"]:
        cells = re.split(r"\s{2,}", line_of(out, layer["name"]).strip())
        values = dict(zip(shown, cells))
        for title in ("params", "MACs"):
            engine = layer["cells"][title]["engine"]
            assert values[title] == f"{engine:,} ✓", (title, cells)
    if width == 200:
        assert "(left out" not in out  # the table fits: nothing left out, nothing cut


def test_a_column_holding_a_mismatch_is_never_left_out():
    """At any width the ✗ stays on screen: only agreeing columns may be left out."""
    pytest.importorskip("rich")
    from rich.console import Console

    from cnncost.render.verify_view import verify_table
    from zoo.verify import Cell, LayerCheck, Verification

    def cells(ptflops_ok: bool) -> dict:
        values = {"output": "64×98×98", "params": 1792, "buffers": 0, "MACs": 16_595_712, "fvcore": 16_595_712}
        result = {key: Cell(value, value) for key, value in values.items()}
        result["ptflops"] = Cell(17_210_368, 17_210_368 if ptflops_ok else 17_210_369)
        return result

    verification = Verification("net", [LayerCheck("a_rather_long_layer_name_for_a_narrow_terminal", "Conv2d",
                                                   cells(False))], cells(True), [])
    table, needed, note = verify_table(verification, limit=60)
    console = Console(width=max(needed, 60), record=True, file=io.StringIO())
    console.print(table)
    text = console.export_text()
    assert "17,210,368 ✗ 17,210,369" in text and "a_rather_long_layer_name_for_a_narrow_terminal" in text
    assert "ptflops" not in note and "fvcore" in note
