"""What a tune trial costs beyond its training: the study's bookkeeping and the engine's count.

    python -m benchmarks.tune_overhead [--trials 12] [--epochs 2] [--postgres]

A grid of tiny scratch5 runs (synthetic data, 32×32, CPU, one torch thread) is tuned in process with
the counting and training functions wrapped in timers. Per trial:

* count: ``zoo.tune.costs.count`` (describe the network, analyse it, the exact training step);
* train: ``zoo.training.run.train`` (the whole run: data, model, epochs, checkpoints, metrics.json);
* bookkeeping: the trial's wall time minus both — taking it from the queue, heartbeats, its attributes and
  the final ``tell`` in the storage (SQLite in the study folder; PostgreSQL with ``--postgres``, on a
  throwaway local server from tests/postgres_cluster.py).

A second grid of the same size prunes every trial on a budget, so it shows the cost of a trial that
never trains: count plus bookkeeping only. Medians are printed.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import torch
import yaml


def main() -> None:
    """Run both grids and print the per-trial medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--postgres", action="store_true", help="use a throwaway PostgreSQL server")
    args = parser.parse_args()
    torch.set_num_threads(1)
    server = _postgres() if args.postgres else nullcontext(None)
    with server as url:
        for label, budget in (("trains", None), ("pruned on a budget", 1)):
            timings = _run(args.trials, args.epochs, budget, url)
            print(_line(label, timings, "postgres" if url else "sqlite"))


def _postgres():
    from tests.postgres_cluster import postgres_server

    return postgres_server()


def _run(trials: int, epochs: int, budget: int | None, url: str | None) -> dict:
    """Tune one grid of ``trials`` points; return the lists of per-trial seconds by phase."""
    import optuna

    from zoo.training import run
    from zoo.tune import costs, launch, study as studies

    timings = {"count": [], "train": []}
    real_count, real_train = costs.count, run.train

    def timed(phase, function):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                timings[phase].append(time.perf_counter() - start)
        return wrapper

    costs.count, run.train = timed("count", real_count), timed("train", real_train)
    try:
        with tempfile.TemporaryDirectory() as folder:
            name = f"overhead-{budget}-{time.time_ns()}"
            config = _config(Path(folder), name, trials, epochs, budget)
            launch.tune(config, folder + "/out", storage=url, quiet=True)
            storage = url or studies.storage_url(Path(folder) / "out", None)
            done = optuna.load_study(study_name=name, storage=storage).trials
    finally:
        costs.count, run.train = real_count, real_train
    totals = [(t.datetime_complete - t.datetime_start).total_seconds() for t in done]
    trained = timings["train"] + [0.0] * (len(totals) - len(timings["train"]))
    timings["bookkeeping"] = [total - c - t for total, c, t in zip(totals, timings["count"], trained)]
    timings["total"] = totals
    return timings


def _config(folder: Path, name: str, trials: int, epochs: int, budget: int | None) -> str:
    body = {"name": name, "method": "grid", "metric": {"name": "val_acc"}, "network": "scratch5", "epochs": epochs,
            "train": {"img_size": 32, "synthetic_size": 200, "batch_size": 16, "device": "cpu", "plots": False},
            "parameters": {"padding": {"value": "same"},
                           "lr": {"values": [round(0.001 * (i + 1), 6) for i in range(trials)]}}}
    if budget is not None:
        body["max_params"] = budget
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(body, sort_keys=False))
    return str(path)


def _line(label: str, timings: dict, storage: str) -> str:
    median = {phase: statistics.median(values) * 1000 if values else 0.0 for phase, values in timings.items()}
    return (f"{storage:8s} {label:20s} trials {len(timings['total']):3d} · per trial (median): total "
            f"{median['total']:8.1f} ms · train {median['train']:8.1f} ms · count {median['count']:6.1f} ms · "
            f"bookkeeping {median['bookkeeping']:6.1f} ms")


if __name__ == "__main__":
    main()
