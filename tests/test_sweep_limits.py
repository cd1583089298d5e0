"""`cnncost sweep` at the edges: values beyond int64, hostile numbers, grids too large for memory.

References are independent of the sweep: `cnncost count --json` (the numeric
engine on Python integers) and exact evaluation of the same closed forms on
Python integers.
"""

import csv
import json
import math
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

import cnncost
from cnncost.cli import main
from cnncost.conventions import totals
from cnncost.errors import CnncostError
from cnncost.sweep import run, views
from cnncost.sweep.vectorised import compile_count

ROOT = Path(__file__).resolve().parents[1]
INCEPTION = str(ROOT / "examples" / "tiny_inception.toml")


def _cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _count_json(capsys, *args) -> dict:
    code, out, err = _cli(capsys, "count", *args, "--json")
    assert code == 0, err
    return json.loads(out)["totals"]


def _sweep_json(capsys, *args) -> dict:
    code, out, err = _cli(capsys, "sweep", *args, "--quantity", "params,macs,flops,activations", "--json")
    assert code == 0, err
    return json.loads(out)


@pytest.mark.parametrize("sweep_args, count_args", [
    (["scratch5", "--m", "3666666", "--hw", "100"], ["scratch5", "--m", "3666666", "--hw", "100"]),
    (["scratch5", "--m", "50000", "--hw", "8192"], ["scratch5", "--m", "50000", "--hw", "8192"]),
    ([INCEPTION, "--m", "50000", "--set", "r=50000", "--hw", "11400"],
     [INCEPTION, "--m", "50000", "--set", "r=50000", "--hw", "11400"]),
    (["scratch5", "--hw", "18446744073709551616"], ["scratch5", "--hw", "18446744073709551616"]),
])
def test_values_beyond_int64_match_count(capsys, sweep_args, count_args):
    """Each of these wrapped around int64 (or crashed); now every row is `count`'s number."""
    doc = _sweep_json(capsys, *sweep_args)
    expected = _count_json(capsys, *count_args)
    assert len(doc["rows"]) == 1
    assert {q: doc["rows"][0][q] for q in ("params", "macs", "flops", "activations")} == \
        {q: expected[q] for q in ("params", "macs", "flops", "activations")}


def test_a_grid_mixing_small_and_huge_values_is_exact_row_by_row(capsys):
    """Most rows fit int64; the large-m ones need Python integers: every row must equal count."""
    doc = _sweep_json(capsys, "--m", "1,64,3666666,50000", "--hw", "100,8192", "--n", "1,10000000")
    assert len(doc["rows"]) == 16
    for row in doc["rows"]:
        expected = totals(cnncost.count("scratch5", m=row["m"], n=row["n"], h=row["hw"], w=row["hw"]))
        assert row["macs"] == expected["macs"] and row["params"] == expected["params"], row


def _engine(arch: str, config: dict) -> dict:
    config = dict(config)
    if "hw" in config:
        config["h"] = config["w"] = config.pop("hw")
    return totals(cnncost.count(arch, **config))


def _rows(result, quantities):
    cols = result.columns
    for i in range(len(cols[quantities[0]])):
        yield {k: (v[i].item() if hasattr(v[i], "item") else v[i]) for k, v in cols.items()}


def _near_int64(hw: int, exponent: int, scale: float) -> int:
    """A width whose macs are about 2^exponent at this input size: where int64 wrapping starts."""
    return max(2, min(10**7, math.isqrt(int(2**exponent / (scale * hw * hw)))))


@settings(max_examples=12)
@given(st.sampled_from(["scratch5", "inception"]),
       st.lists(st.integers(1, 10**7), min_size=0, max_size=2, unique=True),
       st.lists(st.integers(32, 10**4), min_size=1, max_size=2, unique=True),
       st.lists(st.integers(1, 5 * 10**6), min_size=1, max_size=2, unique=True),
       st.sampled_from(["valid", "same"]), st.integers(56, 66))
def test_random_huge_grid_points_equal_the_engine(arch, ms, sizes, others, padding, exponent):
    """Values up to 10⁷ and sizes up to 10⁴, zoo options and an architecture file's own symbol.

    One width is drawn near the int64 frontier (macs about 2^56 to 2^66 at the first size):
    there an unguarded intermediate wraps while the result still looks plausible.
    """
    quantities = ["params", "macs", "mults+adds", "activations"]
    if arch == "scratch5":
        ms = list(dict.fromkeys(ms + [_near_int64(sizes[0], exponent, 3.0)]))
        values = {"m": ms, "hw": sizes, "n": others, "padding": [padding]}
        name = "scratch5"
    else:  # r must be even (the file divides it by 2); m too, for its halved branch
        near = _near_int64(sizes[0], exponent, 9.3) // 2
        values = {"m": list(dict.fromkeys([2 * m for m in ms + [near]])), "hw": sizes,
                  "r": list(dict.fromkeys([2 * r for r in others + [near]]))}
        name = INCEPTION
    result = run.sweep(name, values, quantities)
    seen = 0
    for row in _rows(result, quantities):
        expected = _engine(name, {k: v for k, v in row.items() if k not in quantities})
        assert all(row[q] == expected[q] for q in quantities), row
        seen += 1
    assert seen + result.invalid_count == result.total


@st.composite
def polynomials(draw, depth=3):
    """Integer polynomials in x, y with floors: the shapes closed forms take."""
    x, y = sympy.symbols("x y", integer=True, positive=True)
    if depth == 0:
        return draw(st.sampled_from([x, y, sympy.Integer(draw(st.integers(-(10**6), 10**6)))]))
    kind = draw(st.sampled_from(["add", "mul", "pow", "floor", "leaf"]))
    a = draw(polynomials(depth - 1))
    if kind == "leaf":
        return a
    if kind == "pow":
        return a ** draw(st.integers(1, 4))
    if kind == "floor":
        return sympy.floor(a / draw(st.integers(1, 1000)))
    b = draw(polynomials(depth - 1))
    return a + b if kind == "add" else a * b


@settings(max_examples=60)
@given(polynomials(), st.integers(1, 10**9), st.integers(1, 10**9), st.randoms(use_true_random=False))
def test_the_guard_never_lets_int64_wrap(expr, xmax, ymax, rnd):
    """Where the guard says int64 is safe, int64 evaluation equals exact evaluation at every point below."""
    x, y = sympy.symbols("x y", integer=True, positive=True)
    function = compile_count(expr, [x, y])
    xs = np.asarray([xmax] + [rnd.randint(1, xmax) for _ in range(7)], dtype=np.int64)
    ys = np.asarray([ymax] + [rnd.randint(1, ymax) for _ in range(7)], dtype=np.int64)
    exact = [int(v) for v in np.broadcast_to(np.asarray(function(xs.astype(object), ys.astype(object))), (8,))]
    assert exact == [int(expr.subs({x: int(a), y: int(b)})) for a, b in zip(xs, ys)]
    if function.fits([xmax, ymax]):
        with np.errstate(over="raise"):
            wide = np.broadcast_to(np.asarray(function(xs, ys)), (8,))
        assert [int(v) for v in wide] == exact


def test_the_guard_is_not_vacuous():
    """scratch5's macs at m = 3,666,666 really wrap in int64; at m = 64 int64 is allowed."""
    compiled = run._compile("scratch5", {}, ["macs"])
    macs = compiled["quantities"]["macs"]
    order = compiled["free"]
    at = {"h": 100, "w": 100, "m": 3666666, "k": 3, "n": 128}
    args = [np.asarray([at[n]], dtype=np.int64) for n in order]
    assert int(macs(*args)[0]) != 328_878_831_673_172_528  # the old silent wrong number
    assert not macs.fits([at[n] for n in order])
    assert macs.fits([{"m": 64}.get(n, at[n]) for n in order])


def test_the_cross_check_covers_exact_chunks(monkeypatch):
    """A difference from the engine on the Python-integer path is raised, not printed."""
    real = run.totals
    monkeypatch.setattr(run, "totals", lambda table: {**real(table), "macs": real(table)["macs"] + 1})
    with pytest.raises(RuntimeError, match="sweep bug"):
        run.sweep("scratch5", {"m": [3666666], "hw": [100]}, ["macs"])


@pytest.mark.parametrize("args, fragment", [
    (["sweep", "--m", "²"], "--m: '²' is not a whole number"),
    (["sweep", "--m", "1:²"], "--m: '1:²' is not a range"),
    (["sweep", "--hw", "1_000"], "--hw: '1_000' is not a whole number"),
    (["sweep", "--hw", "1" * 31], "at most 30 digits"),
    (["sweep", "--hw", "0"], "--hw: 0 is out of range"),
    (["sweep", "--set", "r=٣", INCEPTION], "--set r: '٣' is not a whole number"),
    (["sweep", "--quantity", ""], "--quantity: give at least one"),
    (["sweep", "--quantity", " , "], "--quantity: give at least one"),
    (["sweep", "--m", "1:100000000", "--n", "1:100000000"], "more than 1,000,000 values"),
    (["sweep", "--m", "1:100000", "--n", "1:10000"], "limit of 100,000,000"),
    (["sweep", "--classes", "1:1000"], "the limit is 256"),
])
def test_hostile_values_are_one_line(args, fragment, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = _cli(capsys, *args)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and fragment in err, err
    assert list(tmp_path.iterdir()) == []


def test_the_grid_streams_in_bounded_chunks(monkeypatch):
    """Chunks never exceed CHUNK rows, and together they are exactly the in-memory result."""
    monkeypatch.setattr(run, "CHUNK", 1000)
    values = {"m": list(range(1, 60)), "k": [3, 5], "hw": [64, 100, 160], "padding": ["valid", "same"]}
    stream = run.Stream(run.plan("scratch5", values, ["macs"]))
    chunks = list(stream.chunks())
    assert len(chunks) == 2 and all(len(c["macs"]) <= 1000 for c in chunks)  # one chunk per structure here
    monkeypatch.setattr(run, "CHUNK", 50)
    chunks = list(run.Stream(run.plan("scratch5", values, ["macs"])).chunks())
    assert len(chunks) > 10 and max(len(c["macs"]) for c in chunks) <= 50
    merged = run.concatenate(chunks)
    whole = run.sweep("scratch5", values, ["macs"])
    assert all((merged[c] == whole.columns[c]).all() for c in whole.columns)
    assert stream.valid + stream.invalid_count == stream.total == 59 * 2 * 3 * 2


def test_memory_stays_bounded_on_a_large_grid(monkeypatch):
    """1.2 M configurations, streamed: the peak is a few chunks, far below the grid's own size."""
    monkeypatch.setattr(run, "CHUNK", 1 << 14)
    grid = run.plan("scratch5", {"m": list(range(1, 301)), "n": list(range(1, 101)), "k": [3, 5],
                                 "hw": list(range(100, 120))}, ["params", "macs"])
    top = views.Top("macs", True, 5)
    list(run.Stream(run.plan("scratch5", {"m": [1]}, ["params", "macs"])).chunks())  # warm sympy's caches
    tracemalloc.start()
    stream = run.Stream(grid)
    for columns in stream.chunks():
        top.add(columns)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert stream.total == 1_200_000
    in_memory = stream.total * 8 * 6  # bytes of six int64 columns held at once
    assert peak < in_memory / 4, f"peak {peak:,} bytes"


@pytest.mark.parametrize("descending", [False, True])
def test_the_bounded_top_rows_are_the_full_sort(monkeypatch, descending):
    """Top-N over chunks (ties included: params repeat) equals sorting the whole grid."""
    monkeypatch.setattr(run, "CHUNK", 37)
    values = {"m": [8, 16, 24], "n": [1, 2, 3, 4, 5, 6], "hw": [100, 110, 120, 130, 140, 150], "k": [3, 5]}
    whole = run.sweep("scratch5", values, ["params", "macs"])
    for sort in ("params", "macs", "m"):
        top = views.Top(sort, descending, 7)
        for columns in run.Stream(run.plan("scratch5", values, ["params", "macs"])).chunks():
            top.add(columns)
        expected = views.order(whole.columns, sort, descending)[:7]
        shown = top.ordered()
        for c in whole.columns:
            assert shown[c].tolist() == whole.columns[c][expected].tolist(), (sort, c)


def test_beyond_the_sort_limit_csv_and_json_come_in_grid_order(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(views, "MEMORY_LIMIT", 10)
    monkeypatch.setattr(run, "CHUNK", 7)
    out = tmp_path / "grid.csv"
    args = ["sweep", "--m", "16,32,64", "--k", "3,5", "--hw", "100,224", "--csv", str(out)]
    code, text, err = _cli(capsys, *args)
    assert code == 0 and "grid order" in text, err
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    valid = [(int(r["m"]), int(r["k"]), int(r["hw"])) for r in rows if r["valid"] == "True"]
    grid = [(m, k, hw) for m in (16, 32, 64) for k in (3, 5) for hw in (100, 224) if not (k == 5 and hw == 100)]
    assert valid == grid
    for r in rows[:len(valid)]:
        assert int(r["macs"]) == _engine("scratch5", {"m": int(r["m"]), "k": int(r["k"]), "hw": int(r["hw"])})["macs"]
    code, text, err = _cli(capsys, *args[:-2], "--json")
    doc = json.loads(text)
    assert doc["order"] == "grid" and [(r["m"], r["k"], r["hw"]) for r in doc["rows"]] == grid
    assert doc["valid"] == 9 and doc["invalid_count"] == 3 == len(doc["invalid"])
    code, text, err = _cli(capsys, *args, "--sort", "macs")
    assert code == 2 and "--sort" in err and "10" in err and len(err.strip().splitlines()) == 1


def test_sorted_json_below_the_limit(capsys):
    doc = _sweep_json(capsys, "--m", "64,16,32", "--hw", "100")
    assert doc["order"] == "params ascending" and [r["m"] for r in doc["rows"]] == [16, 32, 64]


def test_an_interrupted_csv_leaves_nothing(capsys, tmp_path, monkeypatch):
    """Ctrl-C (or any error) between chunks: neither the CSV nor its temporary file is left."""
    monkeypatch.setattr(run, "CHUNK", 5)
    calls = {"n": 0}
    real = views.CsvFile.add

    def interrupted(self, columns):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        real(self, columns)

    monkeypatch.setattr(views, "MEMORY_LIMIT", 1)
    monkeypatch.setattr(views.CsvFile, "add", interrupted)
    assert main(["sweep", "--m", "1:40", "--csv", str(tmp_path / "grid.csv")]) != 0  # click: "aborted"
    assert calls["n"] == 3 and list(tmp_path.iterdir()) == []


def test_library_sweep_refuses_more_than_it_holds():
    with pytest.raises(CnncostError, match="held in memory"):
        run.sweep("scratch5", {"m": list(range(1, 2001)), "n": list(range(1, 1001)), "k": [3, 5]}, ["macs"])
