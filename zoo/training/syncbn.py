"""``--sync-bn``: BatchNorm statistics of the global batch, not of each process's share.

On GPUs this is torch's own ``nn.SyncBatchNorm``. torch's refuses CPU tensors (its kernels are
CUDA-only), so on CPU, with gloo, every BatchNorm becomes :class:`GlobalBatchNorm`: the same
arithmetic written with two autograd-aware all-reduces (the per-channel sum and count, then the
sum of squared deviations). Its forward is the one-process BatchNorm of the union of every
process's images; its backward sums each statistic's gradient over the processes, as
SyncBatchNorm's does, so DDP's averaged gradients equal the one-process gradients.

Either way the converted modules keep the BatchNorm's parameters (the same ``Parameter`` objects,
so the optimiser and the frozen/trainable split are untouched) and its state_dict keys, so a
checkpoint loads into a plain network.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


class _SumOverProcesses(torch.autograd.Function):
    """all_reduce(SUM) whose gradient is the all-reduced gradient (every process's loss depends on it)."""

    @staticmethod
    def forward(ctx, tensor):
        total = tensor.clone()
        dist.all_reduce(total)
        return total

    @staticmethod
    def backward(ctx, grad):
        total = grad.clone()
        dist.all_reduce(total)
        return total


class GlobalBatchNorm(_BatchNorm):
    """BatchNorm over every process's batch, with any process-group backend (gloo on CPU)."""

    def _check_input_dim(self, input):
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """Global-batch statistics in training mode across several processes; plain BatchNorm otherwise."""
        if not (self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(input)
        self._check_input_dim(input)
        dims = [0] + list(range(2, input.dim()))
        shape = [1, -1] + [1] * (input.dim() - 2)
        values = input.float()
        local_count = torch.tensor([input.numel() / input.shape[1]], dtype=values.dtype, device=values.device)
        summed = _SumOverProcesses.apply(torch.cat([values.sum(dims), local_count]))
        count = summed[-1].detach()
        mean = summed[:-1] / count
        centered = values - mean.view(shape)
        variance = _SumOverProcesses.apply(centered.pow(2).sum(dims)) / count  # biased, as BatchNorm normalises
        out = centered * torch.rsqrt(variance + self.eps).view(shape)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        if self.track_running_stats:
            self._update_running(mean.detach(), variance.detach(), float(count))
        return out.to(input.dtype)

    @torch.no_grad()
    def _update_running(self, mean: torch.Tensor, variance: torch.Tensor, count: float) -> None:
        """The running statistics as BatchNorm updates them: the unbiased variance, momentum or cumulative."""
        # called only with track_running_stats, under which BatchNorm registered all three buffers
        assert self.num_batches_tracked is not None and self.running_mean is not None
        assert self.running_var is not None
        self.num_batches_tracked.add_(1)
        factor = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
        unbiased = variance * (count / max(count - 1.0, 1.0))
        self.running_mean.mul_(1 - factor).add_(mean.to(self.running_mean.dtype), alpha=factor)
        self.running_var.mul_(1 - factor).add_(unbiased.to(self.running_var.dtype), alpha=factor)


def convert(model: nn.Module, cuda: bool) -> nn.Module:
    """``model`` with every BatchNorm synchronised over the processes (torch's SyncBatchNorm on GPUs)."""
    if cuda:
        return nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return _convert_cpu(model)


def _convert_cpu(module: nn.Module) -> nn.Module:
    """``convert_sync_batchnorm``'s walk, building GlobalBatchNorm: the same parameters and buffers."""
    if isinstance(module, _BatchNorm) and not isinstance(module, GlobalBatchNorm):
        replaced = GlobalBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                                   module.track_running_stats)
        if module.affine:
            replaced.weight, replaced.bias = module.weight, module.bias
        replaced.running_mean, replaced.running_var = module.running_mean, module.running_var
        replaced.num_batches_tracked = module.num_batches_tracked
        replaced.train(module.training)
        return replaced
    for name, child in list(module.named_children()):
        converted = _convert_cpu(child)
        if converted is not child:
            module.add_module(name, converted)
    return module
