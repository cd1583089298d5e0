"""Will the run fit in memory? An estimate from the engine's counts, made before torch allocates.

``--img-size 100000`` would otherwise build a module with billions of
parameters, or a first batch of terabytes, and die with MemoryError (or be
killed by the kernel). The estimate, in float32 bytes:

* parameters × 4: the weights, their gradients and two optimiser moments;
* batch × (input + every layer's output) × 2: the activations the forward pass
  keeps for backward, and their gradients.

It ignores workspace and allocator slack, so it is a lower bound: a run refused
by it could not have run, and nothing that fits is refused.
"""

from __future__ import annotations

import os

from cnncost.errors import CnncostError

BYTES = 4  # float32
GIB = 2**30


def training_bytes(table, batch_size: int) -> int:
    """The estimate above for one training step of ``batch_size`` images (``table``: engine CostTable)."""
    rows = [row for row in table.layers if not row.auxiliary]
    params = sum(int(row.params) for row in table.layers)
    inputs = 1
    for side in table.network.input_shape:
        inputs *= int(side)
    activations = inputs + sum(int(row.activations) for row in rows)
    return BYTES * (4 * params + 2 * batch_size * activations)


def available_bytes(device: str) -> int | None:
    """The memory a run may use on ``device`` ("cpu" or "cuda"): physical RAM or the GPU's total."""
    if device == "cuda":
        import torch

        if torch.cuda.is_available():
            return int(torch.cuda.mem_get_info()[1])
        return None
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not every platform reports it
        return None


def check_fits(table, batch_size: int, device: str, size: int, arch: str) -> None:
    """Refuse a run whose estimate exceeds ``device``'s memory, stating both numbers."""
    need, have = training_bytes(table, batch_size), available_bytes(device)
    if have is not None and need > have:
        where = "GPU memory" if device == "cuda" else "memory"
        raise CnncostError(f"--img-size: {arch} at {size}×{size} with --batch-size {batch_size} needs at least "
                           f"{need / GIB:,.1f} GiB, more than this machine's {have / GIB:,.1f} GiB of {where}; "
                           "use a smaller --img-size or --batch-size")
