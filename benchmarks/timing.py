"""Small timing helpers: medians of repeated runs, whole processes or in-process calls."""

from __future__ import annotations

import resource
import shutil
import statistics
import subprocess
import sys
import time


def process_times(argv: list, runs: int = 30) -> dict:
    """Wall and CPU seconds of running ``argv`` as a fresh process: median and minimum.

    CPU time (user + sys of the child) is reported beside wall time because on a
    shared 2-core machine wall time swings by ±40% from run to run.
    """
    wall, cpu = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        wall.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return {"median": statistics.median(wall), "min": min(wall), "cpu": statistics.median(cpu)}


def median_call(function, runs: int = 200) -> float:
    """Median wall time in seconds of calling ``function()`` in this process."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cnncost_command() -> list:
    """The installed console script if there is one, else ``python -m cnncost``."""
    script = shutil.which("cnncost")
    return [script] if script else [sys.executable, "-m", "cnncost"]
