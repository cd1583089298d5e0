"""Normalisation: ``BatchNorm2d`` and ``BatchNorm1d``, everything about each in one place."""

from __future__ import annotations

from typing import Any, NamedTuple

from ..arith import product
from ..errors import CnncostError
from ..tool_conventions import by_call, uncounted
from .base import ArchType, Counts, Field, FxForms, Kind, spatial


class BatchNorm2d(NamedTuple):
    """Batch normalisation over channels of a C×H×W tensor."""

    name: str
    affine: bool = True  # learnable weight and bias (2C params)
    track_running_stats: bool = True  # running mean and var (2C buffers)
    eps: float = 1e-5  # numerical only (torchvision's Inception/GoogLeNet use 1e-3)
    call: str = "module"  # written as: module, or subclass (a user's subclass of nn.BatchNorm2d)


class BatchNorm1d(NamedTuple):
    """Batch normalisation over the features of a flat tensor."""

    name: str
    affine: bool = True
    track_running_stats: bool = True
    eps: float = 1e-5
    call: str = "module"  # written as: module, or subclass (a user's subclass of nn.BatchNorm1d)


def batchnorm_counts(node: Any, x: tuple, y: tuple) -> Counts:
    """2C parameters (affine) and 2C running statistics."""
    channels = x[0]
    return Counts(params=2 * channels if node.affine else 0,
                  buffers=2 * channels if node.track_running_stats else 0)


def batchnorm1d_shape(node: BatchNorm1d, x: tuple) -> tuple:
    """BatchNorm1d keeps its flat input shape."""
    if len(x) != 1:
        raise CnncostError(f"{node.name}: BatchNorm1d expects flat features")
    return x


def fvcore_batchnorm(node: Any, x: tuple, y: tuple) -> Any:
    """aten::batch_norm: eval → elements·(2|1); no running stats → training mode → elements·(5|4)
    (jit_handles.py:230-258)."""
    if node.track_running_stats:
        return product(x) * (2 if node.affine else 1)
    return product(x) * (5 if node.affine else 4)


def ptflops_batchnorm(node: Any, x: tuple, y: tuple) -> Any:
    """bn_flops_counter_hook: input elements, doubled when affine, in any mode."""
    return product(x) * (2 if node.affine else 1)


_PTFLOPS = by_call("ptflops", {"module": ptflops_batchnorm,
                               "subclass": uncounted("no hook (exact-type check), and F.batch_norm is not patched")})


def _torch(kind: str):
    def build(node: Any, x: tuple) -> Any:
        """The torch BatchNorm module of ``node`` for input ``x``."""
        from torch import nn

        return getattr(nn, kind)(x[0], eps=node.eps, affine=node.affine,
                                 track_running_stats=node.track_running_stats)

    return build


def _from_module(node_type: type):
    return lambda m, name: node_type(name, m.affine, m.track_running_stats, m.eps)


def _from_file(name: str, f: dict, rank: int) -> Any:
    norm = BatchNorm2d if rank == 3 else BatchNorm1d  # 2-D on C×H×W, 1-D after a flatten, as torch needs
    return norm(name, f["affine"], f["track_running_stats"], f["eps"])


KINDS = (
    Kind(BatchNorm2d, spatial, batchnorm_counts, fvcore=fvcore_batchnorm, ptflops=_PTFLOPS,
         archfile=(ArchType("batchnorm", {"affine": Field("bool", True), "track_running_stats": Field("bool", True),
                                          "eps": Field("eps", 1e-5)}, _from_file, "bn"),),
         torch_module=_torch("BatchNorm2d"),
         fx=FxForms(modules={"torch.nn.BatchNorm2d": (_from_module(BatchNorm2d), "num_features")})),
    Kind(BatchNorm1d, batchnorm1d_shape, batchnorm_counts, fvcore=fvcore_batchnorm, ptflops=_PTFLOPS,
         torch_module=_torch("BatchNorm1d"),
         fx=FxForms(modules={"torch.nn.BatchNorm1d": (_from_module(BatchNorm1d), "num_features")})),
)
