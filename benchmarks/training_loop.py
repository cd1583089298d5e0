"""``cnncost train`` against a minimal hand-written PyTorch loop: same network, data and batch size.

``python -m benchmarks.training_loop`` (``--quick``: a tiny run that checks the script in seconds).

Both sides train the same zoo network (built by ``zoo.runtime.model.prepare``,
seeded alike) with Adam at the same learning rate on the same synthetic images
(the dataset ``cnncost train`` itself builds: ``load_data`` + ``make_dataset``,
so the pixels are identical) in batches of the same size.

* The minimal loop renders the training and validation images once into two
  tensors, then per epoch draws a ``randperm``, runs forward / loss /
  ``zero_grad`` / backward / ``step`` per batch, and evaluates validation once.
  Nothing else: no metrics beyond the loss, no checkpoints, no plots.
* ``cnncost train`` runs through its Python API (``zoo.training.run.train``,
  the function the CLI calls), quiet, into a temporary run folder.

Two figures each:

* **in process**: training images/s over the training steps only (the figure
  ``cnncost train`` prints per epoch), the median over epochs;
* **whole process**: a child process per side (``python -m
  benchmarks.training_loop --child`` and ``python -m cnncost train``), wall
  time from start to exit; images/s = epochs × training images / wall time,
  so rendering, validation, the test pass, checkpoints, plots and ``import
  torch`` all count.

The sides are interleaved (minimal, cnncost, minimal, ...) ``--repeats`` times
and medians are reported, because the machine may be shared; the load average
before and after is printed with the figures. Every side runs on ``--threads``
torch threads (default 1: on a busy 2-core machine two threads make small
convolutions swing by up to 20×, one thread by far less).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

DEFAULTS = {"arch": "scratch5", "m": 4, "k": 3, "n": 16, "img_size": 96, "batch_size": 32,
            "synthetic_size": 600, "epochs": 3, "lr": 1e-3, "seed": 0}
QUICK = {**DEFAULTS, "m": 4, "n": 8, "img_size": 94, "synthetic_size": 60, "epochs": 2}


def _data(spec: dict):
    """(model Prepared, train dataset, val dataset) exactly as ``cnncost train`` builds them."""
    import torch

    from zoo.runtime import model
    from zoo.training import setup
    from zoo.training.data import load_data
    from zoo.training.loaders import make_dataset

    data = load_data("synthetic", seed=spec["seed"], synthetic_size=spec["synthetic_size"])
    torch.manual_seed(spec["seed"])
    prepared = model.prepare(spec["arch"], _hyper(spec), spec["img_size"], len(data.classes), "none")
    channels, size = prepared.network.input_shape[0], prepared.config["h"]
    mean, std = setup.model_mean_std(channels)
    common = dict(size=size, seed=spec["seed"], mean=mean, std=std, channels=channels)
    return prepared, make_dataset(data, "train", **common), make_dataset(data, "val", **common)


def _hyper(spec: dict) -> dict:
    return {key: spec[key] for key in ("m", "k", "n")}


def minimal(spec: dict) -> dict:
    """The hand-written loop: pre-rendered tensors, Adam, plain batches. Training images/s per epoch."""
    import torch
    from torch import nn

    prepared, train_set, val_set = _data(spec)
    net = prepared.model
    # Render once: the whole split as one tensor (what a hand-written loop on a small dataset does).
    train_x, train_y = _rendered(train_set)
    val_x, val_y = _rendered(val_set)
    optimizer = torch.optim.Adam(net.parameters(), lr=spec["lr"])
    criterion = nn.CrossEntropyLoss()
    batch, rates = spec["batch_size"], []
    for epoch in range(spec["epochs"]):
        net.train()
        order = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(epoch))
        start = time.perf_counter()
        for first in range(0, len(order), batch):
            chosen = order[first:first + batch]
            loss = criterion(net(train_x[chosen]), train_y[chosen])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        rates.append(len(order) / (time.perf_counter() - start))
        net.eval()
        with torch.no_grad():
            correct = sum(int((net(val_x[i:i + batch]).argmax(1) == val_y[i:i + batch]).sum())
                          for i in range(0, len(val_x), batch))
        del correct  # validated, as any loop would; the figure is not compared
    return {"rates": rates, "images": len(train_x)}


def _rendered(dataset) -> tuple:
    """(images [N, C, S, S], labels [N]) of every sample, each rendered once."""
    import torch

    items = [dataset[i] for i in range(len(dataset))]
    return torch.stack([image for image, _ in items]), torch.tensor([label for _, label in items])


def through_cnncost(spec: dict, out: str, plots: bool = True) -> dict:
    """``cnncost train`` through its Python API: the per-epoch training images/s it reports."""
    from zoo.training.run import train

    metrics = train(_config(spec, out, plots))
    return {"rates": [row["images_per_s"] for row in metrics["epochs"]], "images": metrics["data"]["train"]}


def _config(spec: dict, out: str, plots: bool):
    from zoo.runtime.config import TrainConfig

    extra = {} if plots else {"plots": False}  # only when off: the script also times code without the option
    return TrainConfig(spec["arch"], data="synthetic", epochs=spec["epochs"], batch_size=spec["batch_size"],
                       lr=spec["lr"], img_size=spec["img_size"], out=out, device="cpu", seed=spec["seed"],
                       hyperparameters=_hyper(spec), synthetic_size=spec["synthetic_size"], quiet=True, **extra)


def cli_words(spec: dict, out: str, plots: bool = True) -> list:
    """The ``cnncost train`` command line of ``spec``."""
    words = ["train", spec["arch"], "--m", str(spec["m"]), "--k", str(spec["k"]), "--n", str(spec["n"]),
             "--img-size", str(spec["img_size"]), "--batch-size", str(spec["batch_size"]),
             "--synthetic-size", str(spec["synthetic_size"]), "--epochs", str(spec["epochs"]),
             "--lr", str(spec["lr"]), "--seed", str(spec["seed"]), "--device", "cpu", "--quiet", "--out", out]
    return words + ([] if plots else ["--no-plots"])


def _wall(argv: list, threads: int) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env={**os.environ, "OMP_NUM_THREADS": str(threads)})
    return time.perf_counter() - start


def _cnncost_script() -> list:
    """``python -m cnncost``: the checkout the benchmark runs in, not whatever is installed."""
    return [sys.executable, "-m", "cnncost"]


SIDES = ("minimal", "cnncost", "cnncost --no-plots")


def measure(spec: dict, repeats: int, whole: bool, sides=SIDES, threads: int = 1) -> dict:
    """Interleaved runs of the sides; medians of in-process and whole-process images/s.

    Every side runs on ``threads`` torch threads (children: OMP_NUM_THREADS).
    """
    import torch

    torch.set_num_threads(threads)
    inproc = {side: [] for side in sides}
    walls = {side: [] for side in sides}
    images = 0
    minimal({**spec, "epochs": 1})  # untimed: thread pools, allocator and kernels warm up for both sides
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as folder:
            for side in sides:
                out = os.path.join(folder, side.replace(" ", ""))
                result = (minimal(spec) if side == "minimal"
                          else through_cnncost(spec, out + "-api", plots="--no-plots" not in side))
                inproc[side].append(statistics.median(result["rates"]))
                images = result["images"]
                if whole:
                    walls[side].append(_wall(
                        [sys.executable, "-m", "benchmarks.training_loop", "--child", "--threads", str(threads)]
                        + _spec_words(spec)
                        if side == "minimal"
                        else _cnncost_script() + cli_words(spec, out + "-cli", plots="--no-plots" not in side),
                        threads))
    trained = images * spec["epochs"]
    return {"in_process": {side: statistics.median(rates) for side, rates in inproc.items()},
            "whole_process": {side: trained / statistics.median(w) for side, w in walls.items() if w},
            "walls": {side: statistics.median(w) for side, w in walls.items() if w}, "images": images}


def _spec_words(spec: dict) -> list:
    return [word for key in DEFAULTS for word in (f"--{key.replace('_', '-')}", str(spec[key]))]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for key, value in DEFAULTS.items():
        parser.add_argument(f"--{key.replace('_', '-')}", type=type(value), default=None)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check the script in seconds")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads for every side (1: steadiest on a shared machine)")
    parser.add_argument("--no-whole", action="store_true", help="skip the whole-process runs")
    parser.add_argument("--sides", default=",".join(SIDES),
                        help="comma-separated, from: " + ", ".join(SIDES) + " (all by default)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)  # one minimal run, then exit
    return parser


def main(argv: list | None = None) -> None:
    """Print both sides' images/s, their ratio, and the machine's load (Markdown)."""
    args = _parser().parse_args(argv)
    spec = dict(QUICK if args.quick else DEFAULTS)
    spec.update({key: getattr(args, key) for key in DEFAULTS if getattr(args, key) is not None})
    if args.child:
        import torch

        torch.set_num_threads(args.threads)
        minimal(spec)
        return
    import torch

    load_before = os.getloadavg()
    sides = tuple(side.strip() for side in args.sides.split(","))
    unknown = [side for side in sides if side not in SIDES]
    if unknown or "minimal" not in sides:
        raise SystemExit(f"--sides: {', '.join(unknown) or 'minimal missing'} (need minimal and any of {SIDES})")
    result = measure(spec, args.repeats, not args.no_whole, sides, args.threads)
    load_after = os.getloadavg()
    print(f"{spec['arch']} m={spec['m']} k={spec['k']} n={spec['n']} · {spec['img_size']}×{spec['img_size']} · "
          f"batch {spec['batch_size']} · {result['images']} training images × {spec['epochs']} epochs · "
          f"torch {torch.__version__}, {args.threads} thread(s), {os.cpu_count()} CPUs · "
          f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after · median of {args.repeats}\n")
    print("| loop | in process (img/s) | ratio | whole process (img/s) | wall | ratio |\n|---|---|---|---|---|---|")
    base_in, base_whole = result["in_process"]["minimal"], result["whole_process"].get("minimal")
    for side, rate in result["in_process"].items():
        whole = result["whole_process"].get(side)
        print(f"| {side} | {rate:,.1f} | {rate / base_in:.2f}× | "
              + (f"{whole:,.1f} | {result['walls'][side]:.1f} s | {whole / base_whole:.2f}× |" if whole
                 else "— | — | — |"))


if __name__ == "__main__":
    main()
