"""`cnncost sweep`: every row equals the numeric engine; invalid rows are exactly the engine's refusals."""

import csv
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import cnncost
from cnncost.cli import app, main
from cnncost.conventions import totals
from cnncost.errors import CnncostError
from cnncost.sweep.run import sweep

runner = CliRunner()
QUANTITIES = ["params", "macs", "mults+adds", "keras"]


def _engine(config: dict):
    config = dict(config)
    if "hw" in config:
        config["h"] = config["w"] = config.pop("hw")
    try:
        return totals(cnncost.count("scratch5", **config))
    except CnncostError:
        return None


@settings(max_examples=8)
@given(st.fixed_dictionaries({
    "m": st.lists(st.sampled_from([1, 3, 16, 24, 32, 64, 200]), min_size=1, max_size=3, unique=True),
    "k": st.lists(st.integers(1, 6), min_size=1, max_size=2, unique=True),
    "n": st.lists(st.integers(1, 300), min_size=1, max_size=2, unique=True),
    "hw": st.lists(st.integers(20, 400), min_size=1, max_size=3, unique=True),
    "org": st.lists(st.sampled_from(["same", "double", "half"]), min_size=1, max_size=2, unique=True),
    "padding": st.lists(st.sampled_from(["valid", "same"]), min_size=1, max_size=2, unique=True),
    "bn": st.lists(st.booleans(), min_size=1, max_size=2, unique=True),
}))
def test_every_row_equals_the_engine(values):
    result = sweep("scratch5", values, QUANTITIES)
    cols = result.columns
    valid = len(cols["macs"])
    for i in range(valid):
        config = {k: (cols[k][i].item() if hasattr(cols[k][i], "item") else cols[k][i])
                  for k in cols if k not in QUANTITIES}
        expected = _engine(config)
        assert expected is not None
        assert all(int(cols[q][i]) == expected[q] for q in QUANTITIES)
    assert valid + result.invalid_count == result.total
    for config, reason in result.invalid:
        assert _engine(config) is None and reason


def test_huge_values_stay_exact():
    """Far beyond int64 (m = 10⁶): exact Python integers take over."""
    result = sweep("scratch5", {"m": [10**6], "hw": [4096], "padding": ["same"], "org": ["double"]}, ["macs"])
    assert int(result.columns["macs"][0]) == _engine({"m": 10**6, "hw": 4096, "padding": "same", "org": "double"})["macs"]


def test_cli_table_csv_and_json(tmp_path):
    out = tmp_path / "grid.csv"
    result = runner.invoke(app, ["sweep", "--m", "16:64:16", "--k", "3,5", "--hw", "100,224", "--csv", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 16 and sum(r["valid"] == "False" for r in rows) == 4
    assert all(r["reason"].startswith("conv5") for r in rows if r["valid"] == "False")
    doc = json.loads(runner.invoke(app, ["sweep", "--m", "64", "--hw", "100", "--json"]).output)
    assert doc["rows"][0]["params"] == 159_114 and doc["rows"][0]["macs"] == 116_801_536
    lines = runner.invoke(app, ["sweep", "--m", "16,64", "--sort", "macs", "--desc"]).output.splitlines()
    assert lines[1].split()[:2] == ["m", "params"]  # only m varies, then the quantities
    assert lines[2].split() == ["64", "159,114", "116,801,536"]  # largest first


@pytest.mark.parametrize("args, fragment", [
    (["sweep", "--m", "0"], "--m"),
    (["sweep", "--m", "5:1"], "start ≤ stop"),
    (["sweep", "--m", "a:b"], "not a range"),
    (["sweep", "--padding", "full"], "--padding"),
    (["sweep", "--sort", "watts"], "--sort"),
    (["sweep", "--quantity", "watts"], "--quantity"),
    (["sweep", "--csv", "out.txt"], "--csv"),
    (["sweep", "--csv", "/nonexistent-dir/x.csv"], "--csv"),
    (["sweep", "--m", "1:100000", "--n", "1:100000"], "configurations"),
    (["sweep", "resnet18", "--m", "3"], "--m"),
])
def test_bad_input_is_one_line(args, fragment, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and fragment in err
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_a_quantity_constant_over_the_grid_is_swept(capsys):
    """params do not depend on the input size of resnet18: one value per configuration anyway."""
    from cnncost.cli import main

    assert main(["sweep", "resnet18", "--hw", "64,224", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [row["params"] for row in rows] == [11_689_512, 11_689_512]


@pytest.mark.parametrize("columns", [60, 70, 200])
def test_the_table_fits_columns_without_cutting_a_number(columns, capsys, monkeypatch):
    """Quantity columns other than the sort column are left out (and named) to fit COLUMNS;
    every number shown is whole and equals the JSON row's."""
    monkeypatch.setenv("COLUMNS", str(columns))
    args = ["sweep", "scratch5", "--m", "16,32", "--k", "3", "--n", "64,128", "--hw", "100,224",
            "--quantity", "params,macs,flops,mults+adds,activations,ptflops", "--limit", "8"]
    assert main(args) == 0
    table = capsys.readouterr().out.splitlines()
    assert main(args + ["--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    head = table[1].split()
    body = table[2:2 + len(rows)]
    assert "…" not in "\n".join(body)
    shown = {tuple(line.split()) for line in body}
    expected = {tuple(f"{row[c]:,}" if isinstance(row[c], int) else str(row[c]) for c in head) for row in rows}
    assert shown == expected
    left_out = [c for c in ("params", "macs", "flops", "mults+adds", "activations", "ptflops") if c not in head]
    assert "params" in head and {"m", "n", "hw"} <= set(head)
    if left_out:
        note = next(line for line in table if line.startswith("(left out"))
        assert all(c in note for c in left_out)
    else:
        assert columns == 200
