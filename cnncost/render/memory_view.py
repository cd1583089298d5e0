"""Views of a training step's memory (``cnncost memory``): a table per component, the largest batch, JSON."""

from __future__ import annotations

from . import plain_table
from ..conventions import STEP_QUANTITIES

MIB, GIB = 2**20, 2**30
COMPONENTS = (("parameters", "param-bytes"), ("buffers", "buffer-bytes"), ("gradients", "grad-bytes"),
              ("optimizer state", "optimizer-bytes"), ("saved tensors", "saved-bytes"))


def human(size: int) -> str:
    """Bytes in binary units: KiB below a MiB, MiB below a GiB, GiB above."""
    if size < MIB:
        return f"{size / 1024:,.1f} KiB"
    if size < GIB:
        return f"{size / MIB:,.1f} MiB"
    return f"{size / GIB:,.2f} GiB"


def step_words(step) -> str:
    """'--strategy scratch, batch 64, adam, bf16 autocast, cuda'."""
    precision = "fp32" if step.dtype == "fp32" else f"{step.dtype} autocast"
    return f"--strategy {step.strategy}, batch {step.batch}, {step.optimizer}, {precision}, {step.device}"


def largest_batch(cost, memory: int) -> int:
    """The largest batch B whose ``peak_lower_bound`` fits in ``memory`` (0 when batch 1 does not): no larger
    batch can fit, whatever the allocator does."""
    if cost.peak_lower_bound(1) > memory:
        return 0
    low, high = 1, 2
    while cost.peak_lower_bound(high) <= memory:
        low, high = high, 2 * high
    while high - low > 1:  # the bound grows with the batch: bisect
        middle = (low + high) // 2
        low, high = (middle, high) if cost.peak_lower_bound(middle) <= memory else (low, middle)
    return low


def memory_table(cost) -> str:
    """One row per component, then train-bytes; human units and exact bytes."""
    values = cost.quantities()
    rows = [[name, human(values[key]), f"{values[key]:,}", STEP_QUANTITIES[key][1]] for name, key in COMPONENTS]
    total = ["train-bytes", human(values["train-bytes"]), f"{values['train-bytes']:,}", ""]
    return plain_table.render([("component", "left"), ("size", "right"), ("bytes", "right"), ("meaning", "left")],
                              rows, total, prose=3)


def batch_lines(cost, memory: int | None, memory_text: str | None) -> list:
    """The closed form of train-bytes in B at these sizes, and the largest batch that fits ``memory``."""
    state, per_sample, fixed = cost.state.total, cost.saved_per_sample, cost.saved_fixed
    lines = [f"train-bytes(B) = {per_sample:,}·B + {state + fixed:,} bytes "
             f"(saved per sample {per_sample:,}; model state {state:,}; saved whatever the batch {fixed:,})"]
    if memory is not None:
        best = largest_batch(cost, memory)
        if best == 0:
            lines.append(f"does not fit in {memory_text} even at batch 1 (it must hold at least "
                         f"{human(cost.peak_lower_bound(1))} at once)")
        else:
            lines.append(f"no batch above {best:,} fits in {memory_text}: at batch {best + 1:,} the step must hold "
                         f"{human(cost.peak_lower_bound(best + 1))} at once (every saved tensor at the start of "
                         "backward, or a layer's input and output, with the model state); the allocator, the "
                         "kernels' workspace and the backward's transient gradients need more on top")
    if cost.step.device == "cuda":
        lines.append("device cuda: what dropout and autocast save follows torch's CUDA kernels (read from torch's "
                     "sources; the CPU rules are the ones measured, on every zoo network)")
    return lines


def memory_json(arch: str, config: dict, cost, memory: int | None) -> dict:
    """The JSON document of ``cnncost memory --json`` (exact integers)."""
    step = cost.step
    document = {"arch": arch, "config": config,
                "step": {"strategy": str(step.strategy), "batch": step.batch, "optimizer": step.optimizer,
                         "dtype": step.dtype, "device": step.device},
                "bytes": {k: v for k, v in cost.quantities().items() if k != "train-flops"},
                "train_flops": cost.train_flops, "saved_per_sample": cost.saved_per_sample,
                "saved_fixed": cost.saved_fixed, "model_state": cost.state.total}
    document["peak_lower_bound"] = cost.peak_lower_bound(step.batch)
    if memory is not None:
        document["memory"] = memory
        document["largest_batch"] = largest_batch(cost, memory)
    return document
