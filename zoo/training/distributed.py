"""The processes of a data-parallel run: which one this is, and the few collectives the run needs.

A run started by torchrun (or by ``launch.py``, which uses torchrun's API) finds ``WORLD_SIZE``,
``RANK`` and ``LOCAL_RANK`` in its environment; :func:`joined` then opens the process group (NCCL
between GPUs, gloo on CPU) and yields a :class:`World` of that size. Otherwise it yields
``World.single()``, whose every method hands its input back untouched, so a one-process run does
exactly what it did before any of this existed.

Small host-side numbers (image counts, seconds, random states, the checkpoint) travel over a gloo
group even between GPUs: they are Python values, and copying them to a GPU only to all-reduce them
would wait for the GPU's queue every step.
"""

from __future__ import annotations

import contextlib
import datetime
import os
from typing import Iterator

import torch
import torch.distributed as dist

from cnncost.arch import ParameterError
from cnncost.errors import CnncostError

# How long a collective may wait for a slow process before the run fails instead of hanging: the
# feature cache is built by rank 0 alone while the others wait, so this is generous.
COLLECTIVE_TIMEOUT = datetime.timedelta(minutes=30)


def launched_world_size() -> int:
    """``WORLD_SIZE`` of the torchrun that started this process; 1 when none did."""
    text = os.environ.get("WORLD_SIZE", "")
    return int(text) if text.isdigit() and int(text) > 0 else 1


def uses_cuda(device: str) -> bool:
    """Whether ``--device`` (auto, cpu, cuda) trains on GPUs here."""
    return device == "cuda" or (device == "auto" and torch.cuda.is_available())


def check_gpus(device: str, processes: int) -> None:
    """One GPU per process on this machine: more processes than GPUs is a one-line error."""
    if uses_cuda(device) and processes > torch.cuda.device_count():
        many = f"{processes:,} processes on this machine need" if processes > 1 else "1 process needs"
        raise ParameterError("nproc_per_node", f"{many} one GPU each with {{param:device}} {device}; torch sees "
                                               f"{torch.cuda.device_count():,} (use at most that many, or "
                                               "{param:device} cpu)")
    # (one process and no GPU: setup.make_runtime's own line says cuda is missing)


class World:
    """This process's place among the processes of one run."""

    def __init__(self, rank: int = 0, size: int = 1, local_rank: int = 0, host_group=None):
        self.rank, self.size, self.local_rank = rank, size, local_rank
        self.host_group = host_group  # gloo group for Python-side values (None: one process)

    @classmethod
    def single(cls) -> "World":
        """The world of a run in one process."""
        return cls()

    @property
    def leader(self) -> bool:
        """Rank 0: the one process that writes files and prints."""
        return self.rank == 0

    def sum_ints(self, values: list) -> list:
        """Each of ``values`` summed over every process."""
        if self.size == 1:
            return list(values)
        tensor = torch.tensor(values, dtype=torch.int64)
        dist.all_reduce(tensor, group=self.host_group)
        return tensor.tolist()

    def max_float(self, value: float) -> float:
        """The largest of every process's ``value`` (the slowest process sets an epoch's time)."""
        if self.size == 1:
            return value
        tensor = torch.tensor([value], dtype=torch.float64)
        dist.all_reduce(tensor, op=dist.ReduceOp.MAX, group=self.host_group)
        return float(tensor)

    def reduce_meter(self, meter) -> None:
        """Make ``meter`` (a ClassificationMeter) count every process's samples: its integer counts (confusion
        matrix, top-k hits) and its loss sum added over the processes, in one all-reduce on the host."""
        if self.size == 1:
            return
        combined = meter.states()
        dist.all_reduce(combined, group=self.host_group)
        meter.load_states(combined)

    def gather_rng(self) -> list | None:
        """Every process's torch random state, by rank (the checkpoint's ``rank_rng``); None for one process."""
        if self.size == 1:
            return None
        states: list = [None] * self.size
        dist.all_gather_object(states, torch.get_rng_state(), group=self.host_group)
        return states

    def from_leader(self, make):
        """``make()`` run by rank 0 alone, its value (or its one-line error) handed to every process."""
        if self.size == 1:
            return make()
        box: list = [None]
        if self.leader:
            try:
                box[0] = ("ok", make())
            except CnncostError as error:  # the error itself: a ParameterError keeps its parts (--data on the CLI)
                box[0] = ("error", error)
        dist.broadcast_object_list(box, src=0, group=self.host_group)
        outcome, value = box[0]
        if outcome == "error":
            raise value
        return value

    def share_tensor(self, tensor: torch.Tensor | None, device: torch.device) -> torch.Tensor:
        """Rank 0's ``tensor`` on every process, on ``device``: its shape and dtype first, then its values."""
        # rank 0 (the leader, and the only process of a single-process run) always passes its tensor
        if self.size == 1:
            assert tensor is not None
            return tensor
        if self.leader:
            assert tensor is not None
            header: list = [(tuple(tensor.shape), tensor.dtype)]
        else:
            header = [None]
        dist.broadcast_object_list(header, src=0, group=self.host_group)
        shape, dtype = header[0]
        if self.leader:
            assert tensor is not None
            values = tensor.to(device).contiguous()
        else:
            values = torch.empty(shape, dtype=dtype, device=device)
        if values.numel():
            dist.broadcast(values, src=0)
        return values

    def average_gradients(self, parameters: list) -> None:
        """Every process's gradients of ``parameters`` averaged in place, in one all-reduce (what DDP does,
        for the cached last-layer head, which trains outside the DistributedDataParallel wrapper)."""
        if self.size == 1:
            return
        grads = [p.grad for p in parameters if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.flatten() for g in grads])
        dist.all_reduce(flat)
        flat /= self.size
        offset = 0
        for grad in grads:
            grad.copy_(flat[offset:offset + grad.numel()].view_as(grad))
            offset += grad.numel()

    def share_buffers(self, module: torch.nn.Module) -> None:
        """Rank 0's buffers (BatchNorm running statistics) on every process, so validation sees one model."""
        if self.size == 1:
            return
        for buffer in module.buffers():
            dist.broadcast(buffer.data, src=0)


@contextlib.contextmanager
def joined(device: str) -> Iterator[World]:
    """The world this process trains in: the process group opened when torchrun started several, closed after."""
    size = launched_world_size()
    if size == 1:
        yield World.single()
        return
    rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    cuda = uses_cuda(device)
    check_gpus(device, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    if cuda:
        torch.cuda.set_device(local_rank)
    opened = not dist.is_initialized()
    if opened:
        dist.init_process_group("nccl" if cuda else "gloo", timeout=COLLECTIVE_TIMEOUT)
    host_group = dist.new_group(backend="gloo", timeout=COLLECTIVE_TIMEOUT) if cuda else dist.group.WORLD
    try:
        yield World(rank, size, local_rank, host_group)
    finally:
        if opened:
            dist.destroy_process_group()
