"""Independent counts of a real torch module: numel, BatchNorm buffers, shapes, fvcore.

These are the oracles the engine is verified against. fvcore 0.1.5 counts 0
for convolutions built with ``padding="same"``/``"valid"``: torch traces them as
``aten::_convolution_mode``, for which fvcore has no handler. ``fvcore_analysis``
registers one (MACs = output elements × Cin/g × kh × kw, as fvcore counts other
convolutions) and reports that it did.
"""

from __future__ import annotations

import math

import torch
from torch import nn

# fvcore operator names whose counts are conv/linear multiply-accumulates.
FVCORE_MAC_OPERATORS = ("conv", "linear", "addmm", "matmul", "bmm", "einsum", "_convolution_mode")
CONVOLUTION_MODE = "aten::_convolution_mode"


def param_count(module: nn.Module) -> int:
    """Trainable parameters as PyTorch counts them."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def batchnorm_buffers(module: nn.Module) -> int:
    """BatchNorm running mean and variance elements (num_batches_tracked excluded)."""
    return sum(b.numel() for name, b in module.named_buffers()
               if name.endswith(("running_mean", "running_var")))


def output_shapes(module: nn.Module, input_shape: tuple) -> dict:
    """Each leaf module's output shape (batch dimension dropped) on one forward pass."""
    shapes: dict = {}
    hooks = [m.register_forward_hook(_recorder(name, shapes))
             for name, m in module.named_modules() if not list(m.children())]
    try:
        with torch.no_grad():
            module.eval()(torch.zeros(1, *input_shape))
    finally:
        for hook in hooks:
            hook.remove()
    return shapes


def _recorder(name: str, shapes: dict):
    def record(_module, _inputs, output):
        shapes[name] = tuple(output.shape[1:])

    return record


def _convolution_mode_macs(inputs, outputs) -> int:
    """fvcore handler for aten::_convolution_mode: output elements × weight[1:]."""
    weight = inputs[1].type().sizes()
    out = outputs[0].type().sizes()
    return math.prod(out) * math.prod(weight[1:])


def fvcore_analysis(module: nn.Module, input_shape: tuple):
    """fvcore FlopCountAnalysis of one sample, with the missing conv handler registered."""
    from fvcore.nn import FlopCountAnalysis

    analysis = FlopCountAnalysis(module.eval(), torch.zeros(1, *input_shape))
    analysis.set_op_handle(CONVOLUTION_MODE, _convolution_mode_macs)
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    return analysis


def fvcore_macs(module: nn.Module, input_shape: tuple) -> int:
    """fvcore's conv + linear counts (its 'flops' are multiply-accumulates)."""
    by_operator = fvcore_analysis(module, input_shape).by_operator()
    return sum(v for op, v in by_operator.items() if any(key in op for key in FVCORE_MAC_OPERATORS))
