"""How count and formula scale with depth (issue 19): ``python -m benchmarks.scaling``.

Three generated architecture files per depth (10 → 1,000 conv layers):
  plain     3×3 convs with padding 1 and ReLU: the size never changes;
  residual  tiny_resnet-style basic blocks (conv, bn, relu, conv, bn; + x; relu);
  valid     3×3 convs without padding: every layer makes a new size (H1, H2, ...).
For each, ``cnncost.count`` and ``cnncost.formula`` + the text view in this process
(median of a few calls, sympy's cache cleared before each formula call), then
``cnncost count FILE`` and ``cnncost formula FILE --no-cache`` as whole processes
(median wall and CPU time of 3 runs, and the child's peak resident memory). Prints a
Markdown table and, per series, the exponent b of time ≈ a·depthᵇ fitted by least
squares on log time against log depth (1: linear, 2: quadratic).
"""

from __future__ import annotations

import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .timing import cnncost_command, median_call

DEPTHS = (10, 30, 100, 300, 1000)
HEADER = """[network]
name = "{kind}{depth}"
description = "generated {kind} stack of depth {depth}"
input = [3, {size}, {size}]

[symbols]
m = {{ default = 16, meaning = "channels" }}

[[layers]]
type = "conv"
out = "m"
kernel = 3
padding = 1

[[layers]]
type = "repeat"
times = {times}
flat = true
layers = [{body}]
"""
BODIES = {  # kind -> (conv layers per copy, layers of one copy)
    "plain": (1, '{ type = "conv", out = "m", kernel = 3, padding = 1 }, { type = "relu" }'),
    "residual": (2, '{ type = "residual", after = [{ type = "relu" }], body = ['
                    '{ type = "conv", out = "m", kernel = 3, padding = 1, bias = false }, { type = "batchnorm" }, '
                    '{ type = "relu" }, { type = "conv", out = "m", kernel = 3, padding = 1, bias = false }, '
                    '{ type = "batchnorm" }] }'),
    "valid": (1, '{ type = "conv", out = "m", kernel = 3 }, { type = "relu" }'),
}


def write_stack(directory: Path, kind: str, depth: int) -> str:
    """An architecture file with ``depth`` conv layers (after the stem) of the given kind."""
    per_copy, body = BODIES[kind]
    text = HEADER.format(kind=kind, depth=depth, size=2 * depth + 32, times=depth // per_copy, body=body)
    path = directory / f"{kind}{depth}.toml"
    path.write_text(text)
    return str(path)


def whole_process(argv: list, runs: int = 3) -> tuple:
    """(median wall seconds, median CPU seconds, peak resident MiB of the child) of running ``argv``.

    CPU time (user + sys) is reported beside wall time: on a shared machine other work
    stretches wall time from run to run, not the child's own CPU time."""
    walls, cpus, peaks = [], [], []
    for _ in range(runs):
        start = time.perf_counter()
        child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)
        walls.append(time.perf_counter() - start)
        if status != 0:
            raise SystemExit(f"error: {' '.join(argv)} exited with status {status}")
        cpus.append(usage.ru_utime + usage.ru_stime)
        peaks.append(usage.ru_maxrss / 1024)  # KiB on Linux
    return statistics.median(walls), statistics.median(cpus), max(peaks)


def exponent(depths: list, seconds: list) -> float:
    """Least-squares slope of log(seconds) against log(depth)."""
    xs, ys = [math.log(d) for d in depths], [math.log(s) for s in seconds]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def formula_once(path: str) -> None:
    """Derive and render the text view, as ``cnncost formula FILE`` does, from a cold sympy cache."""
    import sympy

    from cnncost import symbolic
    from cnncost.archs import registry
    from cnncost.render import formula_view

    sympy.core.cache.clear_cache()
    derivation = symbolic.derive(path)
    formula_view.text_view(derivation, registry.get(path), ["params", "macs"], {symbolic.symbol("m")})


def main() -> None:
    """Measure every kind at every depth and print the table and fitted exponents."""
    import cnncost

    base = cnncost_command()
    series: dict = {}
    print(f"load average at start: {', '.join(f'{x:.2f}' for x in os.getloadavg())} "
          f"({os.cpu_count()} CPUs)\n")
    print("| stack | depth | count (in process) | formula (in process) | `cnncost count` | "
          "`cnncost formula --no-cache` (wall, CPU) | formula peak memory |\n|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="cnncost-scaling-") as directory:
        for kind in BODIES:
            for depth in DEPTHS:
                path = write_stack(Path(directory), kind, depth)
                count = median_call(lambda: cnncost.count(path).total("macs"), 20)
                formula = median_call(lambda: formula_once(path), 3 if depth <= 300 else 1)
                count_wall, _, _ = whole_process(base + ["count", path])
                formula_wall, formula_cpu, formula_mib = whole_process(base + ["formula", path, "--no-cache"])
                for name, value in (("count", count), ("formula", formula), ("count process", count_wall),
                                    ("formula process", formula_wall)):
                    series.setdefault((kind, name), []).append(value)
                print(f"| {kind} | {depth} | {count * 1000:.1f} ms | {formula * 1000:.0f} ms | "
                      f"{count_wall * 1000:.0f} ms | {formula_wall * 1000:.0f} ms ({formula_cpu * 1000:.0f} ms CPU) | "
                      f"{formula_mib:.0f} MiB |",
                      flush=True)
    print("\n| stack | fitted exponent: count | formula | `cnncost count` | `cnncost formula` | "
          "formula 1,000 / 100 (whole process) |\n|---|---|---|---|---|---|")
    for kind in BODIES:
        fits = [exponent(list(DEPTHS), series[(kind, name)])
                for name in ("count", "formula", "count process", "formula process")]
        walls = series[(kind, "formula process")]
        ratio = walls[DEPTHS.index(1000)] / walls[DEPTHS.index(100)]
        print(f"| {kind} | " + " | ".join(f"{b:.2f}" for b in fits) + f" | {ratio:.1f}× |")
    print(f"\nload average at end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    sys.exit(main())
