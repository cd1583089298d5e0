"""Time to a MAC count: cnncost against fvcore, ptflops and torch's FlopCounterMode (issue 6).

For every zoo network at its default input size, times what a user runs to get
its count, and prints each tool's number beside the cnncost convention that
reproduces it. Run ``python -m benchmarks.tools`` (or ``python -m benchmarks
--tools``) with cnncost installed and torch, fvcore and ptflops importable;
method and results in docs/benchmarks.md.

  cnncost, in process     ``cnncost.count(name).total("macs")`` (description built each call)
  cnncost, whole process  ``cnncost count NAME --json`` (installed console script)
  fvcore                  ``zoo.build(name)`` + ``FlopCountAnalysis(model, x).total()``
  ptflops                 ``zoo.build(name)`` + ``get_model_complexity_info(...)``, pytorch backend
  FlopCounterMode         ``zoo.build(name)`` + one forward pass under ``FlopCounterMode``
"""

from __future__ import annotations

import argparse
import atexit
import fnmatch
import functools
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .timing import cnncost_command, median_call

ROOT = Path(__file__).resolve().parents[1]  # the checkout: benchmarks/ and zoo/ live here
CNNCOST_RUNS = 50  # in-process cnncost calls per network
TOOL_RUNS = 5  # in-process tool runs per network (model build included)
BIG_RUNS = 3  # tool runs for networks with more than BIG_PARAMS weights (VGG: slow to build)
BIG_PARAMS = 100_000_000
PROCESS_RUNS = 5  # whole-process runs
TARGET_NETWORK = "resnet50"
IN_PROCESS_TARGET = 100  # cnncost in process ≥ 100× faster than fvcore (build + analysis)
PROCESS_TARGET = 5  # whole-process cnncost count ≥ 5× faster than a whole-process fvcore count

# Whole-process one-liners: what a user types to get one number out of each tool.
FVCORE_SCRIPT = ("import zoo; from zoo.oracles import fvcore_analysis; "
                 "print(int(fvcore_analysis(zoo.build({name!r}), {shape!r}).total()))")
PTFLOPS_SCRIPT = ("import zoo; from zoo.oracles import ptflops_macs; "
                  "print(ptflops_macs(zoo.build({name!r}), {shape!r}))")
FLOP_COUNTER_SCRIPT = ("import torch, zoo; from torch.utils.flop_counter import FlopCounterMode; "
                       "m = zoo.build({name!r}).eval(); c = FlopCounterMode(display=False)\n"
                       "with c, torch.no_grad(): m(torch.zeros(1, *{shape!r}))\n"
                       "print(c.get_total_flops())")


def input_shape(name: str) -> tuple:
    """(C, H, W) of a zoo network at its default hyperparameters."""
    from cnncost import archs

    spec = archs.get(name)
    return tuple(spec.build(**archs.resolve(spec, {})).input_shape)


# --- what each tool's user runs (model build included) ------------------------------------------

def cnncost_macs(name: str, _shape: tuple) -> int:
    """cnncost's MAC count, description built each call."""
    import cnncost

    return cnncost.count(name).total("macs")


def fvcore_total(name: str, shape: tuple) -> int:
    """fvcore's total after building the model."""
    import zoo
    from zoo.oracles import fvcore_analysis

    return int(fvcore_analysis(zoo.build(name), shape).total())


def ptflops_macs(name: str, shape: tuple) -> int:
    """ptflops' MACs after building the model."""
    import zoo
    from zoo.oracles import ptflops_macs as macs

    return macs(zoo.build(name), shape)


def flop_counter_flops(name: str, shape: tuple) -> int:
    """FlopCounterMode's FLOPs of one forward pass after building the model."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    import zoo

    model = zoo.build(name).eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.zeros(1, *shape))
    return int(counter.get_total_flops())


TOOLS = (  # (label, function, cnncost convention that reproduces its number)
    ("fvcore", fvcore_total, "fvcore"),
    ("ptflops", ptflops_macs, "ptflops"),
    ("FlopCounterMode", flop_counter_flops, "flops"),
)


# --- timing --------------------------------------------------------------------------------------

def timed(function, runs: int) -> tuple:
    """Median wall seconds of ``function()`` over ``runs`` calls, and the set of values it returned."""
    times, values = [], set()
    for _ in range(runs):
        start = time.perf_counter()
        values.add(function())
        times.append(time.perf_counter() - start)
    return statistics.median(times), values


def process(argv: list, runs: int = PROCESS_RUNS) -> dict:
    """Median wall and CPU seconds of ``argv`` as a fresh process, and its last stdout."""
    wall, cpu, out = [], [], ""
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(argv, cwd=_workdir(), capture_output=True, text=True, check=True)
        wall.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        out = done.stdout
    return {"median": statistics.median(wall), "cpu": statistics.median(cpu), "stdout": out}


@functools.cache
def _workdir() -> str:
    """Where whole processes run: an empty directory if the installed zoo imports from there.

    From an empty directory ``python -c "import zoo"`` gets the installed, byte-compiled
    copy, as the console script does. An editable install does not import from there
    (zoo comes back as an empty namespace package), so fall back to the checkout's root.
    """
    neutral = tempfile.mkdtemp(prefix="cnncost-tools-")
    atexit.register(os.rmdir, neutral)
    probe = subprocess.run([sys.executable, "-c", "import zoo; zoo.build"], cwd=neutral, capture_output=True)
    return neutral if probe.returncode == 0 else str(ROOT)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms" if seconds < 0.01 else f"{seconds * 1000:.0f} ms"


def _n(value) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def _one(values: set):
    """The single value a tool returned on every run, or all of them if they differ."""
    return next(iter(values)) if len(values) == 1 else sorted(values)


def _note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the benchmark -------------------------------------------------------------------------------

def measure(name: str, base: list) -> dict:
    """Every timing and count for one network."""
    import cnncost
    from cnncost import conventions

    shape = input_shape(name)
    table = cnncost.count(name)
    totals = conventions.totals(table)
    runs = BIG_RUNS if totals["params"] > BIG_PARAMS else TOOL_RUNS
    row = {"name": name, "shape": shape, "totals": totals, "runs": runs, "time": {}, "value": {}}
    row["time"]["cnncost"] = median_call(lambda: cnncost_macs(name, shape), CNNCOST_RUNS)
    row["value"]["cnncost"] = cnncost_macs(name, shape)
    t = process(base + ["count", name, "--json"])
    row["time"]["process"], row["cpu_process"] = t["median"], t["cpu"]
    row["value"]["process"] = json.loads(t["stdout"])["totals"]["macs"]
    for label, function, _convention in TOOLS:
        row["time"][label], values = timed(lambda: function(name, shape), runs)
        row["value"][label] = _one(values)
    return row


def print_times(rows: list) -> None:
    """The timing table."""
    print("| network | input | cnncost in process | `cnncost count` process | fvcore | ptflops "
          "| FlopCounterMode | tool runs | fvcore ÷ cnncost in process |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        t = r["time"]
        print(f"| {r['name']} | {'×'.join(map(str, r['shape']))} | {_ms(t['cnncost'])} | {_ms(t['process'])} "
              f"| {_ms(t['fvcore'])} | {_ms(t['ptflops'])} | {_ms(t['FlopCounterMode'])} | {r['runs']} "
              f"| {t['fvcore'] / t['cnncost']:,.0f}× |")


def print_counts(rows: list) -> list:
    """Each tool's number beside the cnncost convention that reproduces it; returns disagreements."""
    print("\n| network | cnncost macs | FlopCounterMode | cnncost flops (2 × macs) | fvcore total() "
          "| cnncost fvcore | ptflops | cnncost ptflops | agree |")
    print("|---|---|---|---|---|---|---|---|---|")
    bad = []
    for r in rows:
        v, c = r["value"], r["totals"]
        if v["process"] != c["macs"] or v["cnncost"] != c["macs"]:
            bad.append(f"{r['name']}: cnncost count --json macs {v['process']} != in-process {c['macs']}")
        for label, _function, convention in TOOLS:
            if v[label] != c[convention]:
                bad.append(f"{r['name']}: {label} {_n(v[label])} != cnncost {convention} {_n(c[convention])} "
                           f"(difference {v[label] - c[convention] if isinstance(v[label], int) else '?'})")
        ok = "yes" if not any(b.startswith(r["name"] + ":") for b in bad) else "**NO**"
        print(f"| {r['name']} | {_n(c['macs'])} | {_n(v['FlopCounterMode'])} | {_n(c['flops'])} "
              f"| {_n(v['fvcore'])} | {_n(c['fvcore'])} | {_n(v['ptflops'])} | {_n(c['ptflops'])} | {ok} |")
    return bad


def whole_process(base: list, rows: list) -> dict:
    """Whole-process timings of the target network, imports shown separately."""
    name = TARGET_NETWORK
    shape = input_shape(name)
    py = [sys.executable, "-c"]
    lines = [
        ("python -c pass (interpreter start)", py + ["pass"], None),
        ("python -c 'import cnncost.cli' (what the console script imports)", py + ["import cnncost.cli"], None),
        (f"cnncost count {name} --json", base + ["count", name, "--json"], "macs"),
        ("python -c 'import torch'", py + ["import torch"], None),
        ("python -c 'import zoo, fvcore.nn' (torch + fvcore)", py + ["import zoo, fvcore.nn"], None),
        ("python -c 'import zoo, ptflops' (torch + ptflops)", py + ["import zoo, ptflops"], None),
        (f"fvcore count of {name}: import, zoo.build, FlopCountAnalysis.total()",
         py + [FVCORE_SCRIPT.format(name=name, shape=shape)], "fvcore"),
        (f"ptflops count of {name}: import, zoo.build, get_model_complexity_info",
         py + [PTFLOPS_SCRIPT.format(name=name, shape=shape)], "ptflops"),
        (f"FlopCounterMode count of {name}: import, zoo.build, one forward",
         py + [FLOP_COUNTER_SCRIPT.format(name=name, shape=shape)], "flops"),
    ]
    totals = _totals(name)
    print(f"\n| whole process, {name} ({PROCESS_RUNS} runs) | median wall | median CPU | printed | cnncost "
          "convention |\n|---|---|---|---|---|")
    results = {}
    for label, argv, convention in lines:
        t = process(argv)
        results[label] = t
        printed = ""
        if convention:
            out = t["stdout"]
            value = json.loads(out)["totals"]["macs"] if out.lstrip().startswith("{") else int(out.split()[-1])
            same = "=" if value == totals[convention] else "**≠**"
            printed = f"{value:,}"
            convention = f"{same} {convention} {totals[convention]:,}"
        print(f"| `{label}` | {_ms(t['median'])} | {_ms(t['cpu'])} | {printed} | {convention or ''} |")
    results["cnncost"] = results[f"cnncost count {name} --json"]
    results["fvcore"] = next(t for label, t in results.items() if label.startswith("fvcore count"))
    return results


def _totals(name: str) -> dict:
    import cnncost
    from cnncost import conventions

    return conventions.totals(cnncost.count(name))


def print_targets(rows: list, processes: dict) -> None:
    """The issue's speed-up targets, measured."""
    name = TARGET_NETWORK
    print(f"\n| target ({name}) | cnncost | fvcore | ratio | met |\n|---|---|---|---|---|")
    row = next((r for r in rows if r["name"] == name), None)
    if row is not None:
        ratio = row["time"]["fvcore"] / row["time"]["cnncost"]
        print(f"| in process: cnncost.count ≥ {IN_PROCESS_TARGET}× faster than zoo.build + fvcore "
              f"| {_ms(row['time']['cnncost'])} | {_ms(row['time']['fvcore'])} | {ratio:,.0f}× "
              f"| {'yes' if ratio >= IN_PROCESS_TARGET else '**no**'} |")
    a, b = processes["cnncost"]["median"], processes["fvcore"]["median"]
    print(f"| whole process: `cnncost count` ≥ {PROCESS_TARGET}× faster than a python -c fvcore count "
          f"| {_ms(a)} | {_ms(b)} | {b / a:.1f}× | {'yes' if b / a >= PROCESS_TARGET else '**no**'} |")


def warm_up() -> None:
    """Import every tool and run each once on a small network, outside the timed region."""
    import cnncost  # noqa: F401
    import fvcore.nn  # noqa: F401
    import ptflops  # noqa: F401
    import torch  # noqa: F401

    import zoo  # noqa: F401

    shape = input_shape("smallcnn")
    for _label, function, _convention in TOOLS:
        function("smallcnn", shape)
    cnncost_macs("smallcnn", shape)


def main(argv: list | None = None) -> None:
    """Run the tool comparison."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tools", description=__doc__.splitlines()[0])
    parser.add_argument("--networks", default="*", help="shell pattern of zoo networks (default: all)")
    args = parser.parse_args(argv)

    import torch

    from cnncost import archs

    started = time.perf_counter()
    names = [n for n in archs.names() if fnmatch.fnmatch(n, args.networks)]
    base = cnncost_command()
    print(f"\npython {platform.python_version()} · torch {torch.__version__} · {torch.get_num_threads()} "
          f"torch threads · {sys.executable} · {' '.join(base)} · whole processes run in {_workdir()}\n")
    warm_up()
    rows = []
    for name in names:
        _note(f"tools: {name}")
        rows.append(measure(name, base))
    print_times(rows)
    bad = print_counts(rows)
    _note("tools: whole process")
    processes = whole_process(base, rows)
    print_targets(rows, processes)
    for line in bad:
        print(f"\nDISAGREEMENT {line}")
    print(f"\n(benchmark wall time: {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
