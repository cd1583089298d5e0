"""Guided backpropagation written out by hand: the reference the Captum-based views are tested against."""

import torch


class GuidedReLU(torch.autograd.Function):
    """The paper's rule: gradient passed where the input was > 0 and the arriving gradient is > 0."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * (x > 0) * (grad > 0)
