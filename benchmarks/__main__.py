"""Run every benchmark and print a Markdown table (method in docs/benchmarks.md).

``python -m benchmarks --tools`` also times cnncost against fvcore, ptflops and
FlopCounterMode on every zoo network (``benchmarks.tools``; needs torch).
"""

from __future__ import annotations

import platform
import sys

from .timing import cnncost_command, median_call, process_times

COMMANDS = [  # (label, arguments, budget in seconds)
    ("cnncost count --m 64 --k 3 --hw 100", ["count", "--m", "64", "--k", "3", "--hw", "100"], 0.25),
    ("cnncost count resnet152 --hw 224", ["count", "resnet152", "--hw", "224"], 0.25),
    ("cnncost formula scratch5 --symbolic", ["formula", "scratch5", "--symbolic"], 1.0),
    ("cnncost formula scratch5 --symbolic --quantity all",
     ["formula", "scratch5", "--symbolic", "--quantity", "all"], 1.0),
    ("cnncost formula scratch5 --symbolic --no-cache (cold: derive every time)",
     ["formula", "scratch5", "--symbolic", "--no-cache"], 1.0),
    ("cnncost formula scratch5 --symbolic --quantity all --no-cache",
     ["formula", "scratch5", "--symbolic", "--quantity", "all", "--no-cache"], 1.0),
    ("cnncost formula scratch5 --padding same --divisible 32 --no-cache",
     ["formula", "scratch5", "--padding", "same", "--divisible", "32", "--no-cache"], 1.0),
]


def main() -> None:
    """Measure whole-process commands and in-process engine calls."""
    import os
    import tempfile

    import cnncost

    # A private formula cache: the first run of each command fills it, the rest hit it.
    os.environ["CNNCOST_CACHE_DIR"] = tempfile.mkdtemp(prefix="cnncost-bench-")
    print(f"python {platform.python_version()} · {platform.machine()} · {sys.executable}\n")
    print("| whole process (30 runs) | median wall | min wall | median CPU | budget |\n|---|---|---|---|---|")
    base = cnncost_command()
    rows = [(label, base + args, budget) for label, args, budget in COMMANDS]
    rows.append(("python -c pass (interpreter start)", [sys.executable, "-c", "pass"], None))
    for label, argv, budget in rows:
        t = process_times(argv)
        limit = f"{budget * 1000:.0f} ms" if budget else ""
        print(f"| `{label}` | {t['median'] * 1000:.0f} ms | {t['min'] * 1000:.0f} ms | "
              f"{t['cpu'] * 1000:.0f} ms | {limit} |")
    print("\n| in process | median |\n|---|---|")
    seconds = median_call(lambda: cnncost.count("scratch5", m=64, k=3, h=100, w=100).total("macs"))
    print(f"| `cnncost.count('scratch5', m=64, k=3, h=100, w=100)` (200 calls) | {seconds * 1e6:.0f} µs |")
    zoo_counts()
    sweep_rate()
    import sympy  # noqa: F401  (imported outside the timed region)
    from cnncost import symbolic

    seconds = median_call(lambda: symbolic.derive("scratch5"), runs=5)
    print(f"| `symbolic.derive('scratch5')`, sympy loaded and warm (5 calls) | {seconds * 1000:.1f} ms |")
    zoo_formulas(base)


def sweep_rate() -> None:
    """Configurations per second of `cnncost sweep` on a 1,000,000-configuration scratch5 grid."""
    from cnncost.sweep.run import sweep

    grid = {"m": list(range(1, 101)), "k": list(range(1, 6)), "n": list(range(1, 41)), "hw": list(range(160, 210))}
    for quantities in (["macs"], ["params", "macs"]):
        sweep("scratch5", grid, quantities)  # derive and compile once (cached by sympy) before timing
        result = sweep("scratch5", grid, quantities)
        print(f"| sweep scratch5, 1,000,000 configurations, {'+'.join(quantities)} (evaluation only) | "
              f"{result.total / result.seconds / 1e6:.2f} M configurations/s |")


def zoo_counts() -> None:
    """In-process count of every zoo network at sizes it has not seen (description built each time)."""
    from cnncost import archs, engine

    for name in archs.names():
        spec = archs.get(name)
        default = spec.param("h").default
        sizes = iter(range(default, default + 10_000))

        def count_once():
            size = next(sizes)
            engine.analyze(spec.build(**archs.resolve(spec, {"h": size, "w": size}))).total("macs")

        print(f"| count {name} at a new size (build + walk, 50 calls) | {median_call(count_once, 50) * 1000:.2f} ms |")


def zoo_formulas(base: list) -> None:
    """Cold derivation of every convention for every zoo network, as a whole process."""
    print("\n| `cnncost formula NAME --quantity all --no-cache` (3 runs) | median wall | median CPU | budget |")
    print("|---|---|---|---|")
    from cnncost import archs

    for name in archs.names():
        t = process_times(base + ["formula", name, "--quantity", "all", "--no-cache"], runs=3)
        print(f"| {name} | {t['median']:.2f} s | {t['cpu']:.2f} s | 3 s |")


if __name__ == "__main__":
    main()
    if "--tools" in sys.argv[1:]:
        from . import tools

        tools.main([])
