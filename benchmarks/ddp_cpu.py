"""Training images/s on CPU: one process against two data-parallel processes (gloo), the same global batch.

    python -m benchmarks.ddp_cpu [--epochs 4] [--repeats 2] [--device cpu]

Each setting trains the same tiny run (scratch5, m 16, n 64, 64×64 synthetic images, 1,200 of them,
global batch 64, Adam) through ``zoo.training.run.train`` (the two-process runs through its launcher,
torchrun's engine), and reads the epochs' ``images_per_s`` from the returned metrics: all processes'
training images over the slowest process's training seconds, the epoch's steps only (no validation,
no start-up). The first epoch is left out (warm-up); the median of the rest, over every repeat, is
printed with the load average before and after, since on a shared machine the other work matters.

With ``--device cuda`` it runs resnet50 at 224×224 in bf16 and channels_last on 1 and 2 GPUs (global
batch 128, 512 synthetic images) instead.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

CPU_RUN = dict(arch="scratch5", hyperparameters={"m": 16, "n": 64, "padding": "same"}, img_size=64,
               synthetic_size=1200, batch_size=64)
GPU_RUN = dict(arch="resnet50", hyperparameters={}, img_size=224, synthetic_size=640, batch_size=128, amp=True,
               channels_last=True)
# (label, processes, torch threads per process) on CPU: two processes of one thread against one process of
# one thread (the same work per core) and of two threads (the same cores).
CPU_SETTINGS = (("1 process × 1 thread", 1, 1), ("1 process × 2 threads", 1, 2), ("2 processes × 1 thread", 2, 1))
GPU_SETTINGS = (("1 process (1 GPU)", 1, None), ("2 processes (2 GPUs)", 2, None))


def images_per_s(run: dict, processes: int, threads: int | None, epochs: int, device: str) -> list:
    """The epochs' images/s (the first left out) of one run of ``run`` on ``processes`` processes."""
    import torch

    from zoo.runtime.config import TrainConfig
    from zoo.training.run import train

    if threads is not None:
        os.environ["OMP_NUM_THREADS"] = str(threads)  # the spawned processes read it when torch loads
        torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory(prefix="cnncost-ddp-bench-") as folder:
        config = TrainConfig(**run, epochs=epochs, device=device, out=str(Path(folder) / "run"), quiet=True,
                             plots=False, nproc_per_node=processes, lr=1e-3)
        metrics = train(config)
    return [row["images_per_s"] for row in metrics["epochs"][1:]]


def main() -> None:
    """Every setting, ``--repeats`` times; a Markdown table of medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    args = parser.parse_args()
    run, settings = (GPU_RUN, GPU_SETTINGS) if args.device == "cuda" else (CPU_RUN, CPU_SETTINGS)
    print(f"load average before: {os.getloadavg()[0]:.2f} · {os.cpu_count()} cores")
    print("| setting | images/s (median) | epochs measured |\n|---|---|---|")
    for label, processes, threads in settings:
        rates = []
        for _ in range(args.repeats):
            rates += images_per_s(run, processes, threads, args.epochs, args.device)
        print(f"| {label} | {statistics.median(rates):,.0f} | {len(rates)} |", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
