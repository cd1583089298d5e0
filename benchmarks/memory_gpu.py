"""Predicted training memory against the CUDA allocator's peak (issue 15): ``python -m benchmarks.memory_gpu``.

For each network and batch (defaults: resnet50 and vgg19 at 224×224, bf16 autocast, channels_last, SGD with
momentum, every layer training): two untimed steps (so the optimizer state exists, as in every later step),
then one step — forward, cross-entropy, backward, optimizer step, ``zero_grad(set_to_none=True)`` — between
``torch.cuda.reset_peak_memory_stats()`` and ``torch.cuda.max_memory_allocated()``. Printed beside it:
cnncost's ``train-bytes`` and ``peak_lower_bound`` for the same step (``cnncost.trainstep``), and the gaps.
The peak includes what the prediction leaves out (the backward's transient gradients, cuDNN workspace,
the allocator's 512-byte rounding), so ``peak ≥ lower bound`` is the property; the gap is the figure to
record in docs/benchmarks.md. Needs a CUDA GPU; without one it says so and exits 2.
"""

from __future__ import annotations

import argparse
import sys

import torch
import torch.nn.functional as F

from cnncost import finetune
from cnncost.trainstep import analyze_step, parse_step
from zoo.runtime import model
from zoo.training import freeze

MIB = 2**20


def measure(arch: str, size: int, batch: int, dtype: str, channels_last: bool) -> dict:
    """One network at one batch: the allocator's peak over a steady-state step, and cnncost's figures."""
    prepared = model.prepare(arch, {}, size, 1000)
    plan = freeze.apply_strategy(prepared.model, prepared.network, prepared.table, finetune.Strategy("scratch"))
    net = prepared.model.cuda()
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    freeze.set_training_mode(net, plan)
    optimizer = torch.optim.SGD(freeze.trainable_parameters(net), lr=0.01, momentum=0.9)
    images = torch.randn(batch, 3, size, size, device="cuda")
    if channels_last:
        images = images.to(memory_format=torch.channels_last)
    labels = torch.randint(0, 1000, (batch,), device="cuda")
    autocast = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(dtype)

    def step() -> None:
        with torch.autocast("cuda", dtype=autocast, enabled=autocast is not None):
            loss = F.cross_entropy(net(images), labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    step(), step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    step()
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated()
    cost = analyze_step(prepared.table, parse_step("scratch", batch, "momentum", dtype, "cuda"))
    return {"arch": arch, "batch": batch, "peak": peak, "train_bytes": cost.train_bytes,
            "lower_bound": cost.peak_lower_bound(batch)}


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", default="resnet50,vgg19")
    parser.add_argument("--batches", default="32,64,128,256")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--dtype", default="bf16", choices=("fp32", "bf16", "fp16"))
    parser.add_argument("--no-channels-last", action="store_true")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("error: benchmarks.memory_gpu needs a CUDA GPU (the CPU figures are measured by the tests)",
              file=sys.stderr)
        return 2
    print(f"{torch.cuda.get_device_name()} · {args.size}×{args.size} · {args.dtype} · "
          f"{'NCHW' if args.no_channels_last else 'channels_last'} · SGD momentum, every layer training")
    print(f"{'network':<10} {'batch':>5} {'peak MiB':>10} {'train-bytes MiB':>16} {'lower bound MiB':>16} "
          f"{'peak / train-bytes':>19}")
    for arch in args.networks.split(","):
        for batch in (int(b) for b in args.batches.split(",")):
            r = measure(arch, args.size, batch, args.dtype, not args.no_channels_last)
            torch.cuda.empty_cache()  # the previous network's blocks back before the next is built
            flag = "" if r["peak"] >= r["lower_bound"] else "  ← below the lower bound: a cnncost bug"
            print(f"{arch:<10} {batch:>5} {r['peak'] / MIB:>10,.1f} {r['train_bytes'] / MIB:>16,.1f} "
                  f"{r['lower_bound'] / MIB:>16,.1f} {r['peak'] / r['train_bytes']:>19.3f}{flag}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
