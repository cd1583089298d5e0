"""Training throughput: images/s and achieved TFLOP/s, and the last-layer feature cache's speed-up.

``python -m benchmarks.training`` (on a GPU: the defaults of issue 5 — resnet50
and vgg19 at 224×224, bf16 autocast, channels_last, synthetic tensors already
on the device, so the input pipeline is not measured). ``--quick`` runs a tiny
configuration that finishes on a CPU in seconds (it checks the benchmark, not
the hardware). The FLOPs per image are the engine's exact training step
(cnncost.trainstep; zoo/training/flops.py says what is counted); the peak is the datasheet's dense figure
for the device and precision (zoo/training/metrics.py).

Method: SGD with momentum (as NVIDIA's reference ResNet-50 recipe), ``warmup``
untimed steps (cuDNN autotuning, allocator growth), then ``steps`` timed steps
between two device synchronisations; the median of ``repeats`` such windows.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch

from cnncost import finetune
from zoo.runtime import model
from zoo.training import flops, freeze
from zoo.runtime.config import TrainConfig
from zoo.training.loop import Runtime, Step, train_epoch
from zoo.training.metrics import ClassificationMeter, format_throughput, peak_flops_for
from zoo.training.report import device_name, precision
from zoo.training.run import train
from zoo.training.setup import make_runtime
from zoo.training.synthetic import random_batch


def throughput(arch: str, size: int, batch: int, steps: int, warmup: int, repeats: int, runtime: Runtime) -> dict:
    """Full training (every layer trains) of ``arch`` on synthetic tensors: images/s and TFLOP/s."""
    torch.manual_seed(0)
    prepared = model.prepare(arch, {}, size, 1000)
    plan = freeze.apply_strategy(prepared.model, prepared.network, prepared.table, finetune.Strategy("scratch"))
    net = prepared.model.to(runtime.device)
    if runtime.channels_last:
        net = net.to(memory_format=torch.channels_last)
    freeze.set_training_mode(net, plan)
    parameters = freeze.trainable_parameters(net)
    optimizer = torch.optim.SGD(parameters, lr=0.01, momentum=0.9)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    step = Step(net, optimizer, schedule, torch.nn.CrossEntropyLoss(), None, parameters)
    generator = torch.Generator().manual_seed(0)
    images, labels = random_batch(batch, 3, size, 1000, generator)
    images, labels = runtime.inputs(images), labels.to(runtime.device)
    meter = ClassificationMeter(1000)

    def window(count: int) -> float:
        result = train_epoch(step, ((images, labels, []) for _ in range(count)), runtime, meter)
        return result["images"] / result["seconds"]

    window(warmup)
    rates = [window(steps) for _ in range(repeats)]
    per_image = flops.training_flops(prepared.table, plan, batch, "bf16" if runtime.amp else "fp32",
                                     runtime.device.type).train
    rate = statistics.median(rates)
    return {"arch": arch, "images_per_s": rate, "tflops": rate * per_image / 1e12,
            "train_flops_per_image": per_image, "rates": rates}


def cache_speedup(arch: str, size: int, batch: int, epochs: int, synthetic: int, device: str) -> dict:
    """Seconds per last-layer epoch with and without the feature cache (same data, same seed)."""
    with tempfile.TemporaryDirectory() as folder:
        torch.manual_seed(1)
        weights = f"{folder}/weights.pth"
        torch.save(model.prepare(arch, {}, size, 1000).model.state_dict(), weights)
        seconds = {}
        for cached in (False, True):
            config = TrainConfig(arch, strategy="last-layer", weights=weights, data="synthetic", epochs=epochs,
                                 batch_size=batch, img_size=size, out=f"{folder}/{cached}", cache=cached,
                                 synthetic_size=synthetic, device=device, quiet=True)
            start = time.perf_counter()
            metrics = train(config)
            total = time.perf_counter() - start
            seconds[cached] = (statistics.median(row["seconds"] for row in metrics["epochs"]), total)
    return {"arch": arch, "uncached_epoch_s": seconds[False][0], "cached_epoch_s": seconds[True][0],
            "epoch_speedup": seconds[False][0] / seconds[True][0],
            "run_speedup": seconds[False][1] / seconds[True][1], "epochs": epochs}


def main(argv: list | None = None) -> None:
    """Print the throughput table and the cache speed-up (Markdown)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check the benchmark on a CPU")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    runtime = make_runtime(TrainConfig("resnet50", device=args.device, amp=None, channels_last=None))
    quick = args.quick
    size, batch = (64, 8) if quick else (224, 256)
    steps, warmup, repeats = (3, 1, 3) if quick else (30, 15, 5)
    name, dtype = device_name(runtime), precision(runtime)
    peak = peak_flops_for(name, dtype)
    print(f"{name} · {dtype} · channels_last={runtime.channels_last} · torch {torch.__version__}\n")
    print("| network | input | batch | images/s | achieved | train FLOPs/image |\n|---|---|---|---|---|---|")
    for arch in ("resnet50", "vgg19"):
        row = throughput(arch, size, batch, steps, warmup, repeats, runtime)
        print(f"| {arch} | {size}×{size} | {batch} | {row['images_per_s']:,.0f} | "
              f"{format_throughput(row['images_per_s'], row['train_flops_per_image'], peak)} | "
              f"{row['train_flops_per_image'] / 1e9:.2f} G |")
    cache = cache_speedup("vgg19", 64 if quick else 224, 32 if quick else 128, 2 if quick else 3,
                          40 if quick else 4000, args.device)
    print(f"\nvgg19 last-layer, {cache['epochs']} epochs on synthetic images: uncached epoch "
          f"{cache['uncached_epoch_s']:.2f} s, cached epoch {cache['cached_epoch_s']:.4f} s "
          f"({cache['epoch_speedup']:,.0f}× per epoch; {cache['run_speedup']:.1f}× for the whole run, "
          "feature extraction included)")


if __name__ == "__main__":
    main()
