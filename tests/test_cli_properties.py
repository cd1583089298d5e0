"""Every command survives every input: CLI-level property tests through the in-process entry point.

Each test draws command lines (valid and hostile option values, every zoo network, hostile
files) and runs ``cnncost.cli.app.main(argv)`` in this process, under a timer, with stdout and
stderr captured. The invariants every run must keep:

- the exit code is 0 or 2 (1 only where documented: check's NOT EQUAL, verify's mismatch);
- nothing escapes ``main`` (no exception, no ``SystemExit``) and no "Traceback" is printed;
- on exit 2, stderr is exactly one line starting with ``error: `` (and a ``--json`` stdout is empty);
- a ``--json`` answer always parses; no raw Python warning reaches the user;
- no command hangs (a run past its timer fails the test instead of stalling CI).

and the numeric ones, against independent references: a fully bound ``formula`` equals
``count`` at those values; every ``sweep`` row equals ``count`` (huge values included, where
int64 would wrap); ``check`` of the engine's own formula, rearranged by sympy, is EQUAL while a
perturbation of it (+1, +⌊n/4⌋, +(m−1)(m−2)(m−3), +⌊H/1000⌋) is not.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import random
import re
import signal
import subprocess
import sys
import warnings
from pathlib import Path
from typing import NamedTuple

import pytest
import sympy
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from .zoo_helpers import one_per_family
from .cli_strategies import (EXAMPLE_FILES, HOSTILE_NUMBERS, bound_everything, declared, option_args, step_args,
                            words_for, zoo_names)
from cnncost.cli.app import main
from .hostile_files import HOSTILE_KINDS, code_running_pickle, make_hostile, marker_module

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = [str(ROOT / name) for name in EXAMPLE_FILES]
QUANTITIES = ("params", "keras", "buffers", "macs", "flops", "mults", "adds", "mults+adds",
              "activations", "fvcore", "ptflops")
# Function-scoped fixtures (tmp_path, the private formula cache) are shared by a test's
# examples on purpose: every example makes fresh names inside them.
FIXTURES_OK = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


class CommandHung(Exception):
    """A command ran past its timer: a hang is a failure, never a stalled CI job."""


class Outcome(NamedTuple):
    """What one in-process run of the command line did."""

    argv: list
    code: object  # main's return value; None when something escaped
    out: str
    err: str
    escaped: str | None  # repr of the exception (SystemExit included) that left main
    warned: list  # warnings the user would see (not deprecations, not the project's filters)


def _raise_hung(signum, frame):
    raise CommandHung()


def run_cli(argv, timeout: float = 30, columns: int = 100) -> Outcome:
    """Run ``cnncost ARGV`` in-process: exit code, stdout, stderr, what escaped, what warned."""
    argv = [str(a) for a in argv]
    out, err = io.StringIO(), io.StringIO()
    previous = signal.signal(signal.SIGALRM, _raise_hung)
    saved_columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(columns)
    code, escaped = None, None
    try:
        with warnings.catch_warnings(record=True) as caught, \
                contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            signal.setitimer(signal.ITIMER_REAL, timeout)
            try:
                code = main(argv)
            except CommandHung:
                raise
            except BaseException as error:  # noqa: BLE001 — SystemExit escaping main is a bug too
                escaped = f"{type(error).__name__}: {error}"
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
    except CommandHung:
        pytest.fail(f"cnncost {' '.join(argv)} hung (> {timeout} s)")
    finally:
        signal.signal(signal.SIGALRM, previous)
        if saved_columns is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = saved_columns
    warned = [f"{w.category.__name__}: {w.message}" for w in caught
              if not issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning))]
    return Outcome(argv, code, out.getvalue(), err.getvalue(), escaped, warned)


def show(outcome: Outcome) -> str:
    """The run, for a failure message: the command, its code and both streams."""
    return (f"\n$ cnncost {' '.join(repr(a) if not a or ' ' in a else a for a in outcome.argv)}\n"
            f"exit {outcome.code} escaped={outcome.escaped}\nstdout: {outcome.out[-1500:]!r}\n"
            f"stderr: {outcome.err[-1500:]!r}\nwarnings: {outcome.warned}")


def well_behaved(outcome: Outcome, codes=(0, 2)) -> Outcome:
    """Assert the invariants every run keeps (see the module docstring); return the outcome."""
    context = show(outcome)
    assert outcome.escaped is None, "an exception escaped main" + context
    assert "Traceback" not in outcome.out + outcome.err, "a traceback was printed" + context
    assert outcome.code in codes, f"exit code not in {codes}" + context
    assert not outcome.warned, "a raw Python warning reached the user" + context
    if outcome.code == 2:
        lines = outcome.err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), "not exactly one error line" + context
        if "--json" in outcome.argv:
            assert outcome.out.strip() == "", "half-written JSON before an error" + context
    elif "--json" in outcome.argv and outcome.code in (0, 1):
        try:
            json.loads(outcome.out)
        except ValueError:
            pytest.fail("--json output does not parse" + context)
    return outcome


def cli(*argv, codes=(0, 2), timeout: float = 30, columns: int = 100) -> Outcome:
    """Run and assert the invariants."""
    return well_behaved(run_cli(argv, timeout=timeout, columns=columns), codes)


def as_json(outcome: Outcome):
    """The parsed stdout of a --json run that answered."""
    return json.loads(outcome.out)


NETWORKS = zoo_names()
# The derivations are the cost of a formula test: every family file once (its smallest network), the
# seed reports' networks and the examples.
FORMULA_NETWORKS = sorted(set(one_per_family()) | {"scratch5", "mlp3", "smallcnn", "smallcnn_res",
                                                    "smallcnn_inception", "resnet50", "mobilenet_v2"})


def test_zoo_lists_every_registered_network_and_never_cuts_a_number():
    doc = as_json(cli("zoo", "--json"))
    assert [entry["name"] for entry in doc] == NETWORKS
    for columns in (80, 120):
        table = cli("zoo", columns=columns).out
        for entry in doc:  # every count appears whole, digit groups and all
            assert f"{entry['params']:,}" in table, f"{entry['name']} params cut at {columns} columns:\n{table}"
        assert "…" not in table, f"a cell is cut at {columns} columns:\n{table}"


# ---------------------------------------------------------------- count and formula, every network

@pytest.mark.parametrize("arch", NETWORKS + EXAMPLES)
@settings(max_examples=8)
@given(data=st.data())
def test_count_any_options(arch, data):
    words, _ = data.draw(option_args(arch))
    extra = data.draw(st.lists(st.sampled_from([["--json"], ["--all-layers"], ["--convention", "macs"],
                                                ["--convention", "gflops"], ["--convention", ""],
                                                ["--convention", "fvcore"]]), max_size=2))
    steps = data.draw(st.one_of(st.just([]), step_args()))
    outcome = cli("count", arch, *words, *sum(extra, []), *steps)
    if outcome.code == 0 and "--json" in outcome.argv:
        document = as_json(outcome)
        assert all(isinstance(v, int) and v >= 0 for v in document["totals"].values()), show(outcome)
        assert ("step" in document) == bool(steps), show(outcome)
        if steps:
            assert all(isinstance(v, int) and v >= 0 for v in document["step"]["totals"].values()), show(outcome)


@pytest.mark.parametrize("arch", NETWORKS + EXAMPLES)
@settings(max_examples=4)
@given(data=st.data())
def test_memory_any_options(arch, data):
    words, _ = data.draw(option_args(arch))
    steps = data.draw(step_args(memory=True))
    form = data.draw(st.sampled_from([[], ["--json"]]))
    outcome = cli("memory", arch, *words, *steps, *form)
    if outcome.code == 0 and form:
        document = as_json(outcome)
        assert all(isinstance(v, int) and v >= 0 for v in document["bytes"].values()), show(outcome)
        assert document["bytes"]["train-bytes"] >= document["bytes"]["saved-bytes"], show(outcome)
        if "memory" in document:
            assert isinstance(document["largest_batch"], int) and document["largest_batch"] >= 0, show(outcome)


@pytest.mark.parametrize("arch", FORMULA_NETWORKS + EXAMPLES)
@settings(max_examples=3)
@given(data=st.data())
def test_formula_any_options(arch, data):
    words, _ = data.draw(option_args(arch, size_cap=300))
    form = data.draw(st.sampled_from([[], ["--json"], ["--latex"], ["--json", "--latex"]]))
    quantity = data.draw(st.sampled_from([[], ["--quantity", "all"], ["--quantity", "params,macs"],
                                          ["--quantity", ""], ["--quantity", "watts"],
                                          ["--divisible", "32"], ["--divisible", "0"],
                                          ["--divisible", "18446744073709551616"],
                                          ["--strategy", "last-layer"], ["--strategy", "partial:99"],
                                          ["--quantity", "train-flops,saved-bytes", "--batch", "2"],
                                          ["--quantity", "train-bytes", "--optimizer", "adam", "--dtype", "bf16"],
                                          ["--quantity", "saved-bytes", "--batch", "0"]]))
    outcome = cli("formula", arch, *words, *form, *quantity)
    if outcome.code == 0:
        assert "True" not in outcome.out, "a condition printed as True" + show(outcome)
        lines = outcome.out.splitlines()
        repeated = [a for a, b in zip(lines, lines[1:]) if a == b and a.strip().startswith("=")]
        assert not repeated, "the same = line twice" + show(outcome)
        if "--json" in form:
            for condition in as_json(outcome).get("conditions", []):
                assert condition not in ("True", "False"), show(outcome)


def _formula_values(doc: dict) -> dict:
    """The formulas of a fully bound ``formula --json`` answer, as exact integers."""
    values = {}
    for quantity, text in doc["formulas"].items():
        value = sympy.sympify(text)  # the engine's own output, not user text
        assert value.is_Integer, f"{quantity} is not a number with every size bound: {text}"
        values[quantity] = int(value)
    return values


@pytest.mark.parametrize("arch", FORMULA_NETWORKS + EXAMPLES)
@settings(max_examples=2)
@given(data=st.data())
def test_bound_formula_equals_count(arch, data):
    values = bound_everything(data.draw, arch)
    words = words_for(values)
    counted = cli("count", arch, *words, "--json")
    formula = cli("formula", arch, *words, "--json", "--quantity", "all")
    assert counted.code == formula.code, "count and formula disagree on validity" + show(counted) + show(formula)
    if counted.code == 0:
        totals = as_json(counted)["totals"]
        formulas = _formula_values(as_json(formula))
        assert {q: formulas[q] for q in formulas} == {q: totals[q] for q in formulas}, show(formula)


@pytest.mark.parametrize("arch, sizes", [("scratch5", ["--padding", "same", "--hw", "256"]),
                                         ("scratch5", ["--hw", "100"]), ("vgg16", ["--hw", "64"]),
                                         ("alexnet", ["--hw", "224"]), ("googlenet", ["--hw", "224"]),
                                         ("inception_v3", ["--hw", "299"]),
                                         ("inception_v3", ["--hw", "224", "--no-aux-logits"]), ("vgg11", ["--hw", "224"]),
                                         ("smallcnn_res", ["--hw", "32"]), (EXAMPLES[1], ["--hw", "32"])])
@pytest.mark.parametrize("form", [[], ["--json"], ["--latex"]])
def test_formula_with_bound_sizes_states_each_condition_once(arch, sizes, form):
    """Binding a size can make a validity condition true (the issue's crashes): never print True,
    never a condition twice."""
    outcome = cli("formula", arch, *sizes, *form)
    assert outcome.code == 0, show(outcome)
    assert "True" not in outcome.out, show(outcome)
    if "--json" in form:
        conditions = as_json(outcome)["conditions"]
        assert len(conditions) == len(set(conditions)), show(outcome)
    else:
        valid = [line for line in outcome.out.splitlines() if "valid when" in line]
        for line in valid:
            clauses = line.split("valid when", 1)[1].split("(e.g.")[0].split(" and ")
            clauses = [c.strip() for c in clauses]
            assert len(clauses) == len(set(clauses)), "a condition stated twice" + show(outcome)


# ---------------------------------------------------------------- check: proofs, not samples

def _claim_forms(expression: sympy.Expr, rng: random.Random) -> dict:
    """The engine's formula rearranged three ways a person might write it."""
    terms = list(sympy.Add.make_args(sympy.expand(expression)))
    rng.shuffle(terms)
    return {"expanded": str(sympy.expand(expression)),
            "permuted": " + ".join(f"({t})" for t in terms),
            "factored-out": str(sympy.factor_terms(expression))}


def _perturbations(symbols: set) -> list:
    """Additions that are non-zero somewhere in every scratch5-like valid domain."""
    added = ["1"]
    if "n" in symbols:
        added.append("floor(n/4)")
    if "m" in symbols:
        added.append("(m-1)*(m-2)*(m-3)")
    if "H" in symbols:
        added.append("floor(H/1000)")
    return added


CHECKED = ["scratch5", "smallcnn", "smallcnn_res", "mlp3", "resnet18", "vgg11", EXAMPLES[1]]


CHECK_STRUCTURE = {"padding", "org", "bn", "aux_logits"}  # the structure options `check` takes


@settings(max_examples=6, suppress_health_check=FIXTURES_OK)
@given(arch=st.sampled_from(CHECKED), quantity=st.sampled_from(["params", "macs", "flops", "activations", "keras"]),
       choices=st.data(), form=st.sampled_from(["expanded", "permuted", "factored-out"]),
       seed=st.integers(0, 1000))
def test_check_own_formula_is_equal_and_a_perturbation_is_not(arch, quantity, choices, form, seed):
    # Structure options only: every design variable stays free, so each perturbation is
    # non-zero somewhere in the valid domain (org=half only allows m a multiple of 16, where
    # (m−1)(m−2)(m−3) is still non-zero).
    structure = {p.name: choices.draw(st.sampled_from(p.choices) if p.choices else st.booleans())
                 for p in declared(arch) if p.name in CHECK_STRUCTURE}
    words = words_for(structure)
    derived = cli("formula", arch, *words, "--json", "--quantity", quantity)
    assert derived.code == 0, show(derived)
    doc = as_json(derived)
    true = sympy.sympify(doc["formulas"][quantity])
    claim = _claim_forms(true, random.Random(seed))[form]
    same = cli("check", claim, arch, *words, "--quantity", quantity, "--json", codes=(0, 1, 2), timeout=60)
    assert same.code == 0 and as_json(same)["equal"] is True, "own formula not EQUAL" + show(same)
    symbols = {str(s) for s in true.free_symbols} | set(doc.get("symbols", {}))
    added = choices.draw(st.sampled_from(_perturbations(symbols)))
    wrong = cli("check", f"{claim} + {added}", arch, *words, "--quantity", quantity, "--json",
                codes=(0, 1, 2), timeout=60)
    assert wrong.code == 1 and as_json(wrong)["equal"] is not True, f"+{added} judged EQUAL" + show(wrong)


@pytest.mark.parametrize("argv", [
    ["36m^2+160m+1418+(m-1)(m-2)(m-3)", "--k", "3", "--n", "128", "--hw", "100"],
    ["4k²m² + 3k²m + mn·⌊(H − 31k + 31)/32⌋·⌊(W − 31k + 31)/32⌋ + 5m + 11n + 10 + ⌊n/4⌋"],
    ["4k²m² + 3k²m + mn·⌊(H − 31k + 31)/32⌋·⌊(W − 31k + 31)/32⌋ + 5m + 11n + 10 + ⌊H/1000⌋"],
])
def test_check_issue_false_claims_are_not_equal(argv):
    outcome = cli("check", *argv, "--json", codes=(0, 1, 2), timeout=60)
    assert outcome.code == 1 and as_json(outcome)["equal"] is not True, show(outcome)


CLAIM_ATOMS = ["m", "k", "n", "H", "W", "h", "x", "e", "1", "0", "2", "31", "1418", "1.8e9", "1.8G",
               "4.1 GMACs", "9223372036854775808", "10**400", "nan", "inf", "²", "³", "√", "π", "_", "'", "\\",
               "__import__('os')", "floor(", "⌊", "⌋", ")", "(", "", " ", "·", "×", "−", "^", "**", "/", "÷",
               "⌊n/4⌋", "floor(H/32)", "ceil(W/7)", "k²", "mn", "2mk^2", "159,114", "233,603,072"]


@settings(max_examples=25, suppress_health_check=FIXTURES_OK)
@given(parts=st.lists(st.sampled_from(CLAIM_ATOMS), min_size=0, max_size=7),
       glue=st.lists(st.sampled_from([" + ", "*", " ", "-", "/", "^", ""]), min_size=6, max_size=6),
       bind=st.lists(st.sampled_from([["--k", "3"], ["--m", "64"], ["--hw", "100"], ["--n", "128"],
                                      ["--padding", "same"], ["--bn"], ["--org", "half"]]), max_size=3),
       extra=st.sampled_from([[], ["--json"], ["--tolerance", "nan"], ["--tolerance", "0.05"],
                              ["--tolerance", "2"], ["--quantity", "macs"], ["--quantity", ""],
                              ["--layer", "conv1"], ["--layer", "nope"]]))
@example(parts=["36m^2+160m+1418"], glue=[""] * 6, bind=[["--k", "3"], ["--n", "128"], ["--hw", "100"]],
         extra=["--json"])
@example(parts=["k"], glue=[""] * 6, bind=[["--k", "3"]], extra=["--json"])
@example(parts=["1.8e9"], glue=[""] * 6, bind=[], extra=["--json"])
@example(parts=["1"], glue=[""] * 6, bind=[], extra=["--tolerance", "nan"])
def test_check_any_claim(parts, glue, bind, extra):
    claim = "".join(part + glue[i % len(glue)] for i, part in enumerate(parts)).strip()
    cli("check", claim, "scratch5", *sum(bind, []), *extra, codes=(0, 1, 2), timeout=15)


# ---------------------------------------------------------------- sweep rows are count rows

GRID_VALUES = {"m": [1, 3, 16, 64, 50000, 3666666, 2 ** 31 + 7], "k": [1, 3, 5],
               "n": [1, 128, 50000, 10 ** 7], "hw": [94, 100, 256, 8192, 65536]}


def _count_words(row: dict) -> list:
    words = []
    for name, value in row.items():
        if isinstance(value, bool):
            words.append("--bn" if value else "--no-bn")
        else:
            words += ["--" + name.replace("_", "-"), str(value)]
    return words


@settings(max_examples=10, suppress_health_check=FIXTURES_OK)
@given(grid=st.fixed_dictionaries({name: st.lists(st.sampled_from(values), min_size=1, max_size=2, unique=True)
                                   for name, values in GRID_VALUES.items()}),
       structure=st.fixed_dictionaries({"padding": st.sampled_from(["valid", "same"]),
                                        "org": st.sampled_from(["same", "double"]),
                                        "bn": st.sampled_from(["true", "false", "true,false"])}))
@example(grid={"m": [3666666], "k": [3], "n": [128], "hw": [100]},
         structure={"padding": "valid", "org": "same", "bn": "false"})
@example(grid={"m": [50000], "k": [3], "n": [128], "hw": [8192]},
         structure={"padding": "valid", "org": "same", "bn": "false"})
def test_sweep_rows_equal_count(grid, structure, tmp_path):
    quantities = "params,macs,flops,activations,ptflops"
    words = [w for name, values in grid.items() for w in ("--" + name, ",".join(map(str, values)))]
    words += [w for name, value in structure.items() for w in ("--" + name, value)]
    swept = cli("sweep", "scratch5", *words, "--quantity", quantities, "--json", timeout=60)
    if swept.code == 2:
        pytest.fail("a grid of valid axis values refused" + show(swept))
    doc = as_json(swept)
    names = quantities.split(",")
    for row in doc["rows"]:
        config = {key: value for key, value in row.items() if key not in names}
        counted = cli("count", "scratch5", *_count_words(config), "--json")
        assert counted.code == 0, show(counted)
        totals = as_json(counted)["totals"]
        assert {q: row[q] for q in names} == {q: totals[q] for q in names}, f"row {config}" + show(swept)
    for bad in doc["invalid"]:
        counted = cli("count", "scratch5", *_count_words(bad["config"]), "--json")
        assert counted.code == 2, f"sweep calls {bad['config']} invalid, count answers" + show(counted)
    table = tmp_path / f"sweep-{len(os.listdir(tmp_path))}.csv"
    written = cli("sweep", "scratch5", *words, "--quantity", quantities, "--csv", table, timeout=60)
    assert written.code == 0, show(written)
    with open(table, newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["valid"] == "True"]
    as_csv = sorted(tuple(int(row[q]) for q in names) for row in rows)
    assert as_csv == sorted(tuple(row[q] for q in names) for row in doc["rows"]), "CSV rows are not the JSON rows"


SWEEP_HOSTILE = [["--m", v] for v in HOSTILE_NUMBERS] + [
    ["--m", "5:1"], ["--m", "1:10:0"], ["--m", "1:10:-1"], ["--m", "1:"], ["--m", ":"], ["--m", ",,"],
    ["--m", "1:100000000", "--n", "1:100000000"], ["--hw", "1:1000000000000000000000"],
    ["--quantity", ""], ["--quantity", "params,,macs"], ["--sort", "nope"], ["--limit", "0"],
    ["--padding", "valid,full"], ["--bn", "maybe"], ["--org", "half", "--m", "24"],
    ["--set", "m=3"], ["--set", "=3"], ["--set", "zz=1"], ["--k", "1:3", "--json"],
]


@pytest.mark.parametrize("words", SWEEP_HOSTILE, ids=lambda w: " ".join(w) or "empty")
def test_sweep_hostile_values(words):
    cli("sweep", "scratch5", *words, timeout=20)


@pytest.mark.parametrize("kind", ["directory", "fifo", "under_a_file", "dev_full", "empty_name"])
def test_sweep_csv_to_hostile_paths(kind, tmp_path):
    target = {"directory": tmp_path, "fifo": tmp_path / "pipe.csv", "under_a_file": tmp_path / "file" / "x.csv",
              "dev_full": "/dev/full", "empty_name": ""}[kind]
    if kind == "fifo":
        os.mkfifo(target)
    if kind == "under_a_file":
        (tmp_path / "file").write_text("x")
    cli("sweep", "scratch5", "--m", "3,4", "--csv", target, timeout=10)


# ---------------------------------------------------------------- hostile files as ARCH and --claims

@pytest.mark.parametrize("kind", sorted(HOSTILE_KINDS))
@pytest.mark.parametrize("command", [["count"], ["formula"], ["sweep"], ["check", "1"]])
def test_hostile_architecture_file(command, kind, tmp_path):
    path = make_hostile(kind, tmp_path, ".toml")
    outcome = cli(*command, path, timeout=10)
    assert outcome.code == 2, show(outcome)


HOSTILE_ARCH_TEXTS = {
    "nested empty repeats": '[network]\nname="x"\ninput=[3,8,8]\n[[layers]]\ntype="repeat"\ntimes=1000000\n'
                            'layers=[{type="repeat", times=1000000, layers=[]}]\n',
    "repeat bomb": '[network]\nname="x"\ninput=[3,8,8]\n[[layers]]\ntype="repeat"\ntimes=1000000000\n'
                   'layers=[{type="relu"}]\n',
    "huge channels": '[network]\nname="x"\ninput=[3,8,8]\n[[layers]]\ntype="conv"\nout=9223372036854775808\nkernel=1\n',
    "symbol 2^63": '[network]\nname="x"\ninput=[3,8,8]\n[symbols]\nm={default=9223372036854775808}\n'
                   '[[layers]]\ntype="conv"\nout="m"\nkernel=1\n',
    "no layers": '[network]\nname="x"\ninput=[3,8,8]\n',
    "wrong types": '[network]\nname=1\ninput="big"\n[[layers]]\ntype=3\n',
    "deep expression": '[network]\nname="x"\ninput=[3,8,8]\n[[layers]]\ntype="conv"\nout="' + "(" * 500 + "1"
                       + ")" * 500 + '"\nkernel=1\n',
    "not toml": "this is = = not toml [[",
}


@pytest.mark.parametrize("name", sorted(HOSTILE_ARCH_TEXTS))
@pytest.mark.parametrize("command", [["count"], ["formula"], ["sweep"]])
def test_hostile_architecture_content(command, name, tmp_path):
    path = tmp_path / "net.toml"
    path.write_text(HOSTILE_ARCH_TEXTS[name])
    cli(*command, path, timeout=10)


@pytest.mark.parametrize("kind", sorted(HOSTILE_KINDS))
def test_hostile_claims_file(kind, tmp_path):
    path = make_hostile(kind, tmp_path, ".toml")
    outcome = cli("check", "--claims", path, timeout=10)
    assert outcome.code == 2, show(outcome)


CLAIM_FIELD_VALUES = st.one_of(st.integers(-3, 2 ** 64), st.text(max_size=12), st.booleans(),
                               st.floats(allow_nan=False), st.lists(st.integers(0, 3), max_size=3),
                               st.sampled_from(["scratch5", "params", "macs", "159114", "36m^2", "conv1",
                                                "nope", "0.05", "abc"]))


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a TOML basic string
    if isinstance(value, float):
        return repr(value) if value == value and abs(value) != float("inf") else "nan"
    if isinstance(value, list):
        return "[" + ", ".join(map(_toml_value, value)) + "]"
    return str(value)


@settings(max_examples=25, suppress_health_check=FIXTURES_OK)
@given(claims=st.lists(st.dictionaries(st.sampled_from(["name", "source", "arch", "quantity", "claim", "layer",
                                                         "tolerance", "note", "options", "bogus"]),
                                       CLAIM_FIELD_VALUES | st.just({"hw": 100}) | st.just({"m": "x"}),
                                       max_size=6), min_size=0, max_size=3),
       header=st.dictionaries(st.sampled_from(["title", "intro", "claim"]), CLAIM_FIELD_VALUES, max_size=2),
       flags=st.sampled_from([[], ["--json"], ["--markdown"], ["--markdown", "--json"]]))
@example(claims=[{"name": 1, "claim": "1", "quantity": "params"}], header={}, flags=[])
@example(claims=[{"claim": "1", "quantity": "params", "tolerance": "abc"}], header={}, flags=[])
@example(claims=[{"claim": "1", "quantity": "params", "arch": 1}], header={}, flags=[])
@example(claims=[{"claim": "1", "quantity": "params", "options": "x"}], header={}, flags=[])
@example(claims=[], header={"claim": [1, 2]}, flags=[])
@example(claims=[{"claim": "1", "quantity": "params"}], header={"intro": 3}, flags=["--markdown"])
def test_claims_file_of_any_shape(claims, header, flags, tmp_path):
    lines = []
    for key, value in header.items():
        lines.append(f"{key} = {_toml_value(value)}")
    for claim in claims:
        lines.append("[[claim]]")
        for key, value in claim.items():
            if isinstance(value, dict):
                value_text = "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
            else:
                value_text = _toml_value(value)
            lines.append(f"{key} = {value_text}")
    path = tmp_path / f"claims-{len(os.listdir(tmp_path))}.toml"
    path.write_text("\n".join(lines) + "\n")
    cli("check", "--claims", path, *flags, codes=(0, 1, 2), timeout=30)


def test_claims_file_never_imports_a_module(tmp_path):
    marker = tmp_path / "imported"
    payload = marker_module(tmp_path / "payload.py", marker)
    path = tmp_path / "claims.toml"
    path.write_text(f'[[claim]]\nname = "x"\narch = "module:{payload}:make"\nquantity = "params"\nclaim = "1"\n')
    outcome = cli("check", "--claims", path, codes=(0, 1, 2), timeout=30)
    assert not marker.exists(), "a claims file imported and ran code" + show(outcome)
    assert outcome.code == 2, show(outcome)


# ---------------------------------------------------------------- formula cache: entries are verified

def _damage(entry: Path, damage: str, good: bytes) -> None:
    entry.unlink()
    if damage == "truncate":
        entry.write_bytes(good[: len(good) // 2])
    elif damage == "edit":  # same length, one digit changed: only a checksum can tell
        entry.write_bytes(good.replace(b"1418", b"1419").replace(b"160", b"161"))
    elif damage == "fifo":
        os.mkfifo(entry)
    elif damage == "dev_zero":
        entry.symlink_to("/dev/zero")
    elif damage == "swap":  # another formula's (valid) entry under this key
        entry.symlink_to(entry.with_name("other-entry"))
        entry.with_name("other-entry").write_bytes(good.replace(b"1418", b"1419"))
    else:
        entry.write_bytes(b"")


@pytest.mark.parametrize("damage", ["truncate", "edit", "fifo", "dev_zero", "swap", "empty"])
def test_formula_cache_entry_damaged_is_never_printed(damage, tmp_path, monkeypatch):
    monkeypatch.setenv("CNNCOST_CACHE_DIR", str(tmp_path / "cache"))
    argv = ["formula", "scratch5", "--json", "--quantity", "params"]
    first = cli(*argv)
    entries = [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert entries, "no cache entry written"
    for entry in entries:
        _damage(entry, damage, entry.read_bytes())
    again = cli(*argv, timeout=10)
    assert again.code == 0 and as_json(again)["formulas"] == as_json(first)["formulas"], \
        f"a damaged cache entry ({damage}) changed the answer" + show(again)


# ---------------------------------------------------------------- torch commands: few examples each

TORCH_NETS = ["scratch5", "smallcnn_res", "mlp3", "smallcnn_inception", EXAMPLES[2]]


@settings(max_examples=6, suppress_health_check=FIXTURES_OK)
@given(arch=st.sampled_from(TORCH_NETS), data=st.data())
def test_verify_any_options(arch, data):
    words, _ = data.draw(option_args(arch, size_cap=96))
    words = [w if w not in ("--m", "--n") else w for w in words]
    json_flag = data.draw(st.sampled_from([[], ["--json"]]))
    cli("verify", arch, *words, *json_flag, codes=(0, 2), timeout=60)  # a mismatch (exit 1) is a bug here


@settings(max_examples=6, suppress_health_check=FIXTURES_OK)
@given(arch=st.sampled_from(TORCH_NETS + ["vgg11", "resnet18"]), data=st.data())
def test_summary_any_options(arch, data):
    words, _ = data.draw(option_args(arch, size_cap=96))
    extra = data.draw(st.sampled_from([[], ["--json"], ["--all-layers"], ["--strategy", "partial:2"],
                                       ["--strategy", "partial:0"], ["--strategy", "partial:x"],
                                       ["--strategy", "partial:99"], ["--strategy", "last-layer", "--json"],
                                       ["--strategy", ""]]))
    outcome = cli("summary", arch, *words, *extra, timeout=60)
    if outcome.code == 0 and "--strategy" in extra and "--json" not in extra:
        numbers = {key: int(value.replace(",", "")) for key, value in
                   re.findall(r"(Trainable params|Non-trainable params|Total params): ([\d,]+)", outcome.out)}
        if len(numbers) == 3:
            assert numbers["Trainable params"] + numbers["Non-trainable params"] == numbers["Total params"]


MODULE_BODIES = {
    "exit at import": ("import sys\nsys.exit()\n", "make"),
    "exit 0 in factory": ("import sys\ndef make():\n    sys.exit(0)\n", "make"),
    "raises": ("def make():\n    raise ValueError('boom')\n", "make"),
    "not a module": ("def make():\n    return 42\n", "make"),
    "no factory": ("x = 1\n", "make"),
    "syntax error": ("def make(:\n", "make"),
}


@pytest.mark.parametrize("name", sorted(MODULE_BODIES))
@pytest.mark.parametrize("command", ["count", "summary"])
def test_module_files_that_misbehave(command, name, tmp_path):
    body, factory = MODULE_BODIES[name]
    path = tmp_path / "user_net.py"
    path.write_text(body)
    outcome = cli(command, "--module", f"{path}:{factory}", timeout=60)
    assert outcome.code == 2, show(outcome)


@pytest.mark.parametrize("kind", sorted(HOSTILE_KINDS))
def test_hostile_module_file(kind, tmp_path):
    path = make_hostile(kind, tmp_path, ".py")
    outcome = cli("count", "--module", f"{path}:make", timeout=20)
    assert outcome.code == 2, show(outcome)


# ---------------------------------------------------------------- plot

@settings(max_examples=6, suppress_health_check=FIXTURES_OK)
@given(vary=st.sampled_from(["hw", "m", "k", "n", "x", ""]),
       start=st.sampled_from(["1", "94", "-1", "0", "²", "9223372036854775808"]),
       stop=st.sampled_from(["120", "94", "1", "1e5"]), step=st.sampled_from(["1", "7", "0", "-1"]),
       out=st.sampled_from(["c.png", "c.svg", "c.txt", "", "dir", "no/such/c.png"]),
       quantity=st.sampled_from(["macs", "params", "watts"]))
def test_plot_any_options(vary, start, stop, step, out, quantity, tmp_path):
    (tmp_path / "dir").mkdir(exist_ok=True)
    target = tmp_path / out if out else ""
    cli("plot", "scratch5", "--vary", vary, "--from", start, "--to", stop, "--step", step,
        "--out", target, "--quantity", quantity, timeout=60)


# ---------------------------------------------------------------- train, evaluate, show

TINY = ["smallcnn_res", "--img-size", "32", "--m", "4", "--n", "8", "--synthetic-size", "40", "--epochs", "1",
        "--batch-size", "20", "--quiet", "--device", "cpu", "--workers", "0"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A one-epoch run of a tiny network on synthetic shapes: its folder."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("tiny") / "run"
    outcome = cli("train", *TINY, "--out", folder, timeout=120)
    assert outcome.code == 0, show(outcome)
    yield folder
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    """An image folder of the synthetic shapes (the tiny run's classes): train/ and test/<shape>/*.png."""
    from zoo.training import synthetic

    root = tmp_path_factory.mktemp("shapes")
    for split, offset in (("train", 0), ("test", 100)):
        for label, name in enumerate(synthetic.SHAPES):
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(2):
                synthetic.render(1, label + len(synthetic.SHAPES) * (offset + i), 40).save(folder / f"{i}.png")
    return root


TRAIN_HOSTILE = [
    ["--seed", str(2 ** 70)], ["--momentum", "-1", "--optimizer", "sgd"], ["--lr", "inf"], ["--lr", "nan"],
    ["--lr", "-1"], ["--weight-decay", "inf"], ["--momentum", "nan", "--optimizer", "sgd"],
    ["--synthetic-size", "1e20"], ["--epochs", "0"], ["--epochs", "-1"], ["--batch-size", "0"],
    ["--label-smoothing", "1"], ["--val-fraction", "1.5"], ["--device", "tpu"], ["--strategy", "partial:99"],
    ["--strategy", "nope"], ["--optimizer", "lbfgs"], ["--schedule", "nope"], ["--topk", "0"],
    ["--clip-grad", "nan"], ["--warmup-epochs", "-1"], ["--gamma", "nan", "--schedule", "step"],
    ["--data", "/dev/zero"], ["--data", "/nonexistent"], ["--weights", "/dev/zero", "--strategy", "full"],
    ["--img-size", "0"], ["--img-size", "²"], ["--workers", "-1"],
    ["--no-plots", "--epochs", "0"], ["--plots", "no"],
]


@pytest.mark.parametrize("words", TRAIN_HOSTILE, ids=lambda w: " ".join(w))
def test_train_hostile_options(words, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a run that ignores --out must not litter the repository
    options = dict(zip(TINY[1::2], TINY[2::2]))
    base = [TINY[0]] + [w for k, v in options.items() if k not in words for w in (k, v) if k != "--quiet"]
    base = [w for w in base if w != "--quiet"] + ["--quiet"]
    outcome = cli("train", *base, *words, "--out", tmp_path / "run", timeout=60)
    assert outcome.code == 2, "a hostile training option was accepted" + show(outcome)


@pytest.mark.parametrize("kind", ["a file", "under a file", "proc", "empty", "existing run"])
def test_train_hostile_out(kind, tmp_path, monkeypatch, tiny_run):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "file").write_text("x")
    target = {"a file": tmp_path / "file", "under a file": tmp_path / "file" / "run", "proc": "/proc/cnncost-run",
              "empty": "", "existing run": tiny_run}[kind]
    before = {p.name: p.stat().st_mtime_ns for p in Path(tiny_run).iterdir()}
    outcome = cli("train", *TINY, "--out", target, timeout=60)
    assert outcome.code == 2, show(outcome)
    assert sorted(os.listdir(tmp_path)) == ["file"], "train wrote into the current directory"
    assert {p.name: p.stat().st_mtime_ns for p in Path(tiny_run).iterdir()} == before, "run overwritten"


@pytest.mark.parametrize("content", [b"", b"not an image", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64])
def test_train_on_a_folder_of_bad_images_is_refused(content, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for split in ("train", "test"):
        for name in ("cats", "dogs"):
            folder = tmp_path / "data" / split / name
            folder.mkdir(parents=True)
            for i in range(3):
                (folder / f"{i}.png").write_bytes(content)
    options = [w for w in TINY if w not in ("--synthetic-size", "40")]
    outcome = cli("train", *options, "--data", tmp_path / "data", "--out", tmp_path / "run", timeout=60)
    assert outcome.code == 2, "trained on a folder with no readable image" + show(outcome)


MEMORY_BOMBS = [
    ["train", *TINY[:3], "--img-size", "100000", "--synthetic-size", "40", "--epochs", "1", "--quiet",
     "--device", "cpu"],
    ["train", TINY[0], "--img-size", "32", "--synthetic-size", str(10 ** 12), "--epochs", "1", "--quiet",
     "--device", "cpu"],
    ["sweep", "scratch5", "--m", "1:100000000", "--n", "1:100000000"],
]


@pytest.mark.parametrize("argv", MEMORY_BOMBS, ids=lambda a: " ".join(a[:6]))
def test_memory_bombs_are_refused_before_allocating(argv, tmp_path):
    """Run in a child with its address space capped, so a product that does allocate fails
    here (one error line expected) instead of exhausting the shared machine."""
    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30)); "
            "from cnncost.cli.app import main; sys.exit(main(sys.argv[1:]))")
    done = subprocess.run([sys.executable, "-c", code, *argv, "--out" if argv[0] == "train" else "--limit",
                           str(tmp_path / "run") if argv[0] == "train" else "5"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    outcome = Outcome(argv, done.returncode, done.stdout, done.stderr, None, [])
    well_behaved(outcome)
    assert done.returncode == 2, show(outcome)


CHECKPOINT_KINDS = sorted(HOSTILE_KINDS) + ["code pickle", "other network", "no config"]


def _checkpoint(kind: str, tmp_path: Path, tiny_run: Path) -> tuple:
    """(path, marker folder that must never appear) for one hostile checkpoint."""
    marker = tmp_path / "code-ran"
    if kind in HOSTILE_KINDS:
        return make_hostile(kind, tmp_path / "ckpt", ".pt"), marker
    import torch

    if kind == "code pickle":
        return code_running_pickle(tmp_path / "evil.pt", marker), marker
    saved = torch.load(Path(tiny_run) / "best.pt", weights_only=True, map_location="cpu")
    if kind == "no config":
        saved = {key: value for key, value in saved.items() if key != "config"}
    else:  # the same file claiming another network: shapes no longer fit
        saved = dict(saved, config=dict(saved["config"], arch="scratch5"))
    path = tmp_path / f"{kind.replace(' ', '-')}.pt"
    torch.save(saved, path)
    return path, marker


@pytest.mark.parametrize("kind", CHECKPOINT_KINDS)
@pytest.mark.parametrize("command", ["evaluate", "show filters", "show predictions"])
def test_hostile_checkpoint(command, kind, tmp_path, tiny_run, shapes):
    path, marker = _checkpoint(kind, tmp_path, tiny_run)
    data = ["--data", shapes] if command != "show filters" else []
    outcome = cli(*command.split(), path, *data, "--out" if command.startswith("show") else "--json",
                  *([tmp_path / "x.png"] if command.startswith("show") else []), timeout=60)
    assert outcome.code == 2, show(outcome)
    assert not marker.exists(), "loading a checkpoint ran code"


def test_checkpoint_config_naming_a_module_is_never_imported(tmp_path, tiny_run, shapes):
    import torch

    marker = tmp_path / "imported"
    payload = marker_module(tmp_path / "payload.py", marker,
                            "def make(**kw):\n    import torch\n    return torch.nn.Linear(1, 1)\n")
    saved = torch.load(Path(tiny_run) / "best.pt", weights_only=True, map_location="cpu")
    saved["config"] = dict(saved["config"], arch=f"module:{payload}:make")
    path = tmp_path / "best.pt"
    torch.save(saved, path)
    for argv in (["evaluate", path, "--data", shapes], ["show", "filters", path, "--out", tmp_path / "f.png"]):
        outcome = run_cli(argv, timeout=60)
        assert not marker.exists(), "a checkpoint's config imported a module" + show(outcome)
        well_behaved(outcome)


@settings(max_examples=5, suppress_health_check=FIXTURES_OK)
@given(view=st.sampled_from(["filters", "activations", "guided-backprop", "maximize", "predictions"]),
       extra=st.sampled_from([[], ["--layer", "nope"], ["--layer", ""], ["--device", "tpu"],
                              ["--neurons", "0"], ["--neurons", "9223372036854775808"], ["--filters", "0-99"],
                              ["--filters", "²"], ["--seed", str(2 ** 70)], ["--img-size", "0"],
                              ["--layers", "conv1,conv1"], ["--steps", "0"], ["--data", "/dev/zero"]]))
def test_show_any_options(view, extra, tiny_run, shapes, tmp_path):
    needs = {"activations": ["--image", None], "guided-backprop": ["--image", None], "maximize": ["--steps", "2"],
             "predictions": ["--data", shapes]}.get(view, [])
    if needs[:1] == ["--image"]:
        from zoo.training import synthetic

        picture = tmp_path / "image.png"
        synthetic.render(0, 0, 40).save(picture)
        needs = ["--image", picture]
    if needs and needs[0] in extra:
        needs = []
    target = tmp_path / f"{view}-{len(os.listdir(tmp_path))}.png"
    outcome = cli("show", view, tiny_run, *needs, *extra, "--out", target, timeout=60)
    if outcome.code == 2:
        assert not target.exists(), "a refused view wrote its file" + show(outcome)


def test_show_guided_backprop_default_neurons_fit_a_small_layer(tiny_run, tmp_path):
    """The tiny run's layers have 4 and 8 channels: the default --neurons must not exceed them."""
    from zoo.training import synthetic

    picture = tmp_path / "image.png"
    synthetic.render(0, 0, 40).save(picture)
    outcome = cli("show", "guided-backprop", tiny_run, "--image", picture, "--out", tmp_path / "g.png", timeout=60)
    assert outcome.code == 0, show(outcome)


def test_evaluate_json_on_a_run(tiny_run, shapes):
    outcome = cli("evaluate", Path(tiny_run) / "best.pt", "--data", shapes, "--json", timeout=60)
    assert outcome.code == 0, show(outcome)
    doc = as_json(outcome)
    assert doc["count"] == 2 * len(os.listdir(Path(shapes) / "test")) and 0.0 <= doc["top1"] <= 1.0, show(outcome)


@pytest.mark.parametrize("extra", [["--device", "tpu"], ["--batch-size", "0"], ["--batch-size", "-1"],
                                   ["--data", "/dev/zero"], ["--data", "/nonexistent"], ["--json", "--data", ""]])
def test_evaluate_hostile_options(extra, tiny_run, shapes):
    words = ["--data", shapes] + extra if "--data" not in extra else extra
    outcome = cli("evaluate", Path(tiny_run) / "best.pt", *words, timeout=60)
    assert outcome.code == 2, show(outcome)


def test_cnncost_version():
    outcome = cli("--version")
    assert outcome.code == 0 and re.search(r"\d+\.\d+", outcome.out), show(outcome)
