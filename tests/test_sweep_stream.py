"""`cnncost sweep` output formatted a chunk at a time: byte for byte the row-by-row writer's, bounded memory.

The reference here is independent of the sweep's evaluation and formatting:
every configuration is counted by the numeric engine (`cnncost.count`), and
the rows are written one by one with `csv.writer` and `json.dumps`, exactly as
the previous implementation wrote them. Only the grid's definition (column
order, structure order) is taken from `run.plan`.
"""

import csv
import io
import itertools
import json
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cnncost
from cnncost.cli import main
from cnncost.conventions import CONVENTIONS, totals
from cnncost.errors import CnncostError
from cnncost.sweep import encode, run, views

ROOT = Path(__file__).resolve().parents[1]
INCEPTION = str(ROOT / "examples" / "tiny_inception.toml")


_CACHE = {}


def _reference(arch: str, values: dict, quantities: list, sort: str | None, descending: bool, whole: bool):
    """(grid, valid rows as dicts in output order, [(config, reason)] of the first REASONS invalid ones)."""
    key = (arch, repr(values), tuple(quantities))
    if key not in _CACHE:
        _CACHE[key] = _counted(arch, values, quantities)
    grid, valid, invalid = _CACHE[key]
    if whole:
        key = sort or quantities[0]
        valid = sorted(valid, key=lambda row: row[key])  # stable: ties keep grid order
        if descending:
            valid.reverse()  # the sweep reverses the stable ascending order
    return grid, valid, invalid


def _counted(arch: str, values: dict, quantities: list):
    """Every configuration counted by the engine, in grid order (structure-major, last axis fastest)."""
    grid = run.plan(arch, values, quantities)
    names = list(grid.axes)
    valid, invalid = [], []
    for structure in grid.structures:
        for point in itertools.product(*(grid.axes[n].tolist() for n in names)):
            config = {**structure, **dict(zip(names, point))}
            call = dict(config)
            if "hw" in call:
                call["h"] = call["w"] = call.pop("hw")
            try:
                counted = totals(cnncost.count(arch, **call))
            except CnncostError as error:
                if len(invalid) < run.REASONS:
                    invalid.append((config, str(error)))
                continue
            valid.append({**dict(zip(names, point)), **structure, **{q: counted[q] for q in quantities}})
    return grid, valid, invalid


def _reference_csv(grid, valid: list, invalid: list) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(grid.columns + ["valid", "reason"])
    writer.writerows([[row[c] for c in grid.columns] + [True, ""] for row in valid])
    writer.writerows([[config.get(c, "") for c in grid.columns] + [False, reason] for config, reason in invalid])
    return buffer.getvalue().encode("utf-8")


def _reference_json(grid, valid: list, invalid: list, label: str) -> str:
    head = (f'{{"arch": {json.dumps(grid.arch.name)}, "configurations": {grid.total}, '
            f'"order": {json.dumps(label)}, "rows": [')
    rows = [json.dumps({c: row[c] for c in grid.columns}) for row in valid]
    body = ("\n" + ",\n".join(rows)) if rows else ""
    tail = {"valid": len(valid), "invalid_count": grid.total - len(valid),
            "invalid": [{"config": c, "reason": r} for c, r in invalid],
            "conventions": {q: CONVENTIONS[q].meaning for q in grid.quantities}}
    return head + body + "],\n" + json.dumps(tail)[1:] + "\n"


GRIDS = [  # (arch, CLI options, library values, quantities, sort, descending)
    ("scratch5", ["--m", "16:64:16", "--k", "3,5", "--hw", "100,224"],
     {"m": [16, 32, 48, 64], "k": [3, 5], "hw": [100, 224]}, ["params", "macs"], None, False),
    ("scratch5", ["--m", "1:6", "--k", "3,5", "--n", "1,9", "--hw", "100,160,200", "--padding", "valid,same",
                  "--bn", "true,false", "--activation", "relu,tanh"],
     {"m": list(range(1, 7)), "k": [3, 5], "n": [1, 9], "hw": [100, 160, 200], "padding": ["valid", "same"],
      "bn": [True, False], "activation": ["relu", "tanh"]}, ["params", "macs", "flops"], "macs", True),
    ("scratch5", ["--m", "1,64,3666666,50000", "--hw", "100,8192", "--n", "1,10000000"],  # beyond int64
     {"m": [1, 64, 3666666, 50000], "hw": [100, 8192], "n": [1, 10000000]}, ["params", "macs", "activations"],
     None, False),
    ("scratch5", ["--m", "1:4", "--k", "5,7,9", "--n", "1:2", "--hw", "30:200:20", "--org", "same,double,half"],
     {"m": list(range(1, 5)), "k": [5, 7, 9], "n": [1, 2], "hw": list(range(30, 201, 20)),
      "org": ["same", "double", "half"]}, ["params", "macs"], "m", False),  # mostly invalid: > REASONS
    (INCEPTION, ["--m", "2:12:2", "--set", "r=2,4", "--hw", "32,64,11400"],
     {"m": [2, 4, 6, 8, 10, 12], "r": [2, 4], "hw": [32, 64, 11400]}, ["params", "macs", "ptflops"], None, False),
    ("resnet18", ["--hw", "32:224:64", "--classes", "10,1000"], {"hw": [32, 96, 160, 224], "classes": [10, 1000]},
     ["params", "macs", "keras"], "macs", False),
]


@pytest.mark.parametrize("whole", [True, False], ids=["sorted", "grid-order"])
@pytest.mark.parametrize("arch, options, values, quantities, sort, descending", GRIDS)
def test_csv_and_json_are_the_row_by_row_writers_bytes(capsys, tmp_path, monkeypatch, arch, options, values,
                                                       quantities, sort, descending, whole):
    """Sorted (whole grid in memory) and grid order (streamed in many small boxes), CSV and JSON."""
    if not whole:
        monkeypatch.setattr(views, "MEMORY_LIMIT", 1)
        monkeypatch.setattr(run, "CHUNK", 7)  # many boxes, sliced on different axes
        sort = None  # beyond the limit only grid order is allowed
    grid, valid, invalid = _reference(arch, values, quantities, sort, descending, whole)
    assert len(valid) > 0 and grid.total > 0
    args = ["sweep", arch, *options, "--quantity", ",".join(quantities)]
    args += (["--sort", sort] if sort else []) + (["--desc"] if descending else [])
    out = tmp_path / "grid.csv"
    assert main(args + ["--csv", str(out)]) == 0, capsys.readouterr().err
    capsys.readouterr()
    assert out.read_bytes() == _reference_csv(grid, valid, invalid)
    assert main(args + ["--json"]) == 0
    label = f"{sort or quantities[0]} {'descending' if descending else 'ascending'}" if whole else "grid"
    assert capsys.readouterr().out == _reference_json(grid, valid, invalid, label)


def test_a_mostly_invalid_grid_keeps_positions_not_rows(monkeypatch):
    """~98% invalid: only the first REASONS invalid rows are ever decoded and explained by the engine."""
    calls = []
    real = run._reason
    monkeypatch.setattr(run, "_reason", lambda arch, config: calls.append(config) or real(arch, config))
    monkeypatch.setattr(run, "CHUNK", 1 << 12)
    values = {"m": list(range(1, 201)), "k": [5, 7, 9], "n": list(range(1, 21)), "hw": list(range(30, 170, 2))}
    stream = run.Stream(run.plan("scratch5", values, ["macs"]))
    valid = sum(len(c["macs"]) for c in stream.chunks())
    assert stream.total == 840_000 and stream.invalid_count == stream.total - valid > 800_000
    assert len(calls) == len(stream.invalid) == run.REASONS
    assert all(isinstance(p, np.ndarray) for _, p in stream._unexplained)
    # the explained rows are the first invalid ones in grid order, and the engine refuses each
    first = [c for c in ({"m": m, "k": k, "n": n, "hw": hw} for m in values["m"] for k in values["k"]
                         for n in values["n"] for hw in values["hw"]) if c["k"] * 31 + 1 > c["hw"]][:run.REASONS]
    assert [c for c, _ in stream.invalid] == first
    for config, reason in stream.invalid[:5]:
        with pytest.raises(CnncostError, match="too small"):
            cnncost.count("scratch5", m=config["m"], k=config["k"], n=config["n"], h=config["hw"], w=config["hw"])
        assert "too small" in reason


def test_quantity_all_rows_equal_count_json(capsys):
    """`--quantity all` (refused before) means every convention, as for `formula`; each row is `count`'s."""
    assert main(["sweep", "scratch5", "--m", "16,32", "--k", "3,5", "--hw", "100,224", "--bn", "true,false",
                 "--quantity", "all", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert list(doc["conventions"]) == list(CONVENTIONS)
    assert len(doc["rows"]) == 12 and doc["invalid_count"] == 4
    for row in doc["rows"]:
        assert main(["count", "scratch5", "--m", str(row["m"]), "--k", str(row["k"]), "--hw", str(row["hw"]),
                     "--bn" if row["bn"] else "--no-bn", "--json"]) == 0
        expected = json.loads(capsys.readouterr().out)["totals"]
        assert {q: row[q] for q in CONVENTIONS} == {q: expected[q] for q in CONVENTIONS}, row
    assert main(["sweep", "scratch5", "--m", "16", "--hw", "100", "--quantity", "all"]) == 0
    table = capsys.readouterr().out
    assert all(f"{q}: {CONVENTIONS[q].meaning}" in table for q in CONVENTIONS)


def test_quantity_all_in_csv(capsys, tmp_path):
    out = tmp_path / "all.csv"
    assert main(["sweep", "--m", "8,16", "--hw", "100", "--quantity", "all", "--csv", str(out)]) == 0
    header = out.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert header == ["m", "k", "n", "hw"] + list(CONVENTIONS) + ["valid", "reason"]


@pytest.mark.parametrize("text", ["all,params", "params,all"])
def test_all_is_only_alone(capsys, text):
    assert main(["sweep", "--quantity", text]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--quantity" in err and "all" in err


def test_csv_writing_of_a_million_rows_stays_bounded(tmp_path):
    """About 1.05 M rows through the CSV view: the peak is a few chunks, not the rows as Python objects.

    The row-by-row writer built a list of tuples per chunk (a 78 MB peak here)."""
    grid = run.plan("scratch5", {"m": list(range(1, 211)), "n": list(range(1, 1001)), "hw": list(range(100, 105))},
                    ["params", "macs"])
    list(run.Stream(run.plan("scratch5", {"m": [1]}, ["params", "macs"])).chunks())  # warm sympy's caches
    stream = run.Stream(grid)
    sink = views.CsvFile(str(tmp_path / "big.csv"), grid.columns)
    tracemalloc.start()
    for columns in stream.chunks():
        sink.add(columns)
    sink.finish(stream.invalid)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert stream.total == sink.rows == 1_050_000
    lines = (tmp_path / "big.csv").read_bytes().split(b"\r\n")
    assert lines[1] == b"1,3,1,100,90,283781,True," and len(lines) == 1_050_002
    assert peak < 48 * 2**20, f"peak {peak:,} bytes"  # row by row: 78 MB; chunked: about 33 MB


# -- the encoder itself, against csv.writer and json.dumps -------------------------------------------------

def _csv_rows(rows: list) -> bytes:
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode("utf-8")


TEXTS = st.text(alphabet=st.sampled_from(list('ab ,"\r\n;é×\t\'') + ["\u2603"]), max_size=6)


@settings(max_examples=40)
@given(st.lists(st.tuples(st.integers(0, 2**63 - 1), st.integers(-(2**63) + 1, 2**63 - 1), TEXTS, st.booleans(),
                          st.integers(-(10**30), 10**30)), min_size=1, max_size=40),
       st.sampled_from([1, 3, 1 << 16]))
def test_encode_equals_csv_writer_and_json_dumps(rows, batch):
    """Non-negative and negative int64, quoted texts, booleans and exact Python integers."""
    encode.BATCH, saved = batch, encode.BATCH
    try:
        columns = [np.asarray([r[0] for r in rows], dtype=np.int64), np.asarray([r[1] for r in rows], dtype=np.int64),
                   np.asarray([r[2] for r in rows]), np.asarray([r[3] for r in rows])]
        exact = np.empty(len(rows), dtype=object)
        exact[:] = [r[4] for r in rows]
        columns.append(exact)
        separators = [b""] + [b","] * 4 + [b",True,\r\n"]
        assert encode.encode(columns, separators, views._csv_cell) == \
            _csv_rows([list(r) + [True, ""] for r in rows])
        keys = [f'"c{i}"' for i in range(5)]
        json_separators = [f",\n{{{keys[0]}: ".encode()] + [f", {k}: ".encode() for k in keys[1:]] + [b"}"]
        expected = "".join(",\n" + json.dumps({f"c{i}": v for i, v in enumerate(r)}) for r in rows)
        assert encode.encode(columns, json_separators, views._json_cell).decode("ascii") == expected
    finally:
        encode.BATCH = saved


def test_a_zero_byte_falls_back_to_the_row_writer(tmp_path):
    """A NUL cannot be told from padding: that chunk is written row by row, still csv.writer's bytes."""
    column = np.asarray(["a\x00b", "c"])
    with pytest.raises(encode.Unencodable):
        encode.encode([column], [b"", b"\n"], views._csv_cell)
    sink = views.CsvFile(str(tmp_path / "z.csv"), ["x", "y"])
    sink.add({"x": column, "y": np.asarray([1, 2])})
    sink.finish([])
    assert (tmp_path / "z.csv").read_bytes() == _csv_rows([["x", "y", "valid", "reason"],
                                                            ["a\x00b", 1, True, ""], ["c", 2, True, ""]])
