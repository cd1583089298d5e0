"""Last-layer fine-tuning on cached features: the frozen backbone runs once per split.

When only the classifier trains and nothing random happens before it
(no augmentation; the frozen prefix runs in eval mode, so its dropout is off),
every epoch would recompute the same backbone outputs. They are computed once
— the input of the classifier layer, captured by a forward pre-hook — and the
classifier then trains on them in the same batch order as the uncached path,
so both paths give the same head (tests check it).
"""

from __future__ import annotations

import time

import torch


@torch.no_grad()
def extract(model, classifier: str, batches, runtime, progress=None) -> tuple:
    """(features [N, D] float32 on the device, labels [N], images/s) of every batch, in order."""
    captured: list = []
    hook = model._leaves[classifier].register_forward_pre_hook(
        lambda module, inputs: captured.append(inputs[0].detach().float()))
    model.eval()
    labels_seen, start, done = [], time.perf_counter(), 0
    try:
        for inputs, labels, bad in batches:
            runtime.note_bad(bad)
            if len(labels) == 0:
                continue
            with runtime.autocast():
                model(runtime.inputs(inputs))
            labels_seen.append(labels.to(runtime.device))
            done += len(labels)
            if progress is not None:
                progress.advance(len(labels))
    finally:
        hook.remove()
    runtime.synchronize()
    rate = done / max(time.perf_counter() - start, 1e-9)
    if not captured:
        return torch.empty(0, device=runtime.device), torch.empty(0, dtype=torch.long), rate
    return torch.cat(captured), torch.cat(labels_seen), rate


def feature_batches(features: torch.Tensor, labels: torch.Tensor, batch_size: int, order: list):
    """Batches of cached features in ``order`` (the same order the image loader would use)."""
    index = torch.as_tensor(order, dtype=torch.long, device=features.device)
    for start in range(0, len(index), batch_size):
        chosen = index[start:start + batch_size]
        yield features[chosen], labels[chosen], []


def feature_groups(features: torch.Tensor, labels: torch.Tensor, groups: list):
    """Batches of cached features, one per group of sample indices (a process's micro-batches)."""
    for group in groups:
        chosen = torch.as_tensor(list(group), dtype=torch.long, device=features.device)
        yield features[chosen], labels[chosen], []
