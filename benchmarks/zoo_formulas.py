"""Whole-process time of ``cnncost formula NAME --no-cache`` and ``cnncost count NAME`` for the deepest
network of every zoo family file (the issue's budget: a closed form in at most 2 s).

``python -m benchmarks.zoo_formulas [--runs N]`` prints a Markdown table; method in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os

from cnncost import archs, engine
from cnncost.archs.registry import family

from .timing import cnncost_command, process_times


def deepest_per_family() -> list:
    """(family module, name) of the network with the most layers in each family file."""
    best: dict = {}
    for name in archs.names():
        spec = archs.get(name)
        rows = len(engine.analyze(spec.build(**archs.resolve(spec, {}))).layers)
        key = family(spec).rsplit(".", 1)[-1]
        if key not in best or rows > best[key][0]:
            best[key] = (rows, name)
    return sorted((key, name, rows) for key, (rows, name) in best.items())


def main() -> None:
    """Time both commands for each family's deepest network and print the table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    command = cnncost_command()
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    print("| family file | network | layers | formula --no-cache wall (median, min) | CPU | count wall | CPU |")
    print("|---|---|---|---|---|---|---|")
    for key, name, rows in deepest_per_family():
        formula = process_times(command + ["formula", name, "--no-cache"], runs)
        count = process_times(command + ["count", name], runs)
        print(f"| {key} | `{name}` | {rows} | {formula['median']:.2f} s, {formula['min']:.2f} s | "
              f"{formula['cpu']:.2f} s | {count['median']:.2f} s | {count['cpu']:.2f} s |")
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
