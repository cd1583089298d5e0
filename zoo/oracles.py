"""Independent counts of a real torch module: numel, BatchNorm buffers, shapes, fvcore, ptflops.

These are the oracles the engine is verified against. fvcore 0.1.5 counts 0
for convolutions built with ``padding="same"``/``"valid"``: torch traces them as
``aten::_convolution_mode``, for which fvcore has no handler. ``fvcore_analysis``
registers one (MACs = output elements × Cin/g × kh × kw, as fvcore counts other
convolutions) and reports that it did.

ptflops is run as its users run it (``get_model_complexity_info``, pytorch
backend); ``ptflops_per_module`` drives the same machinery and also credits each
patched functional call (F.relu, F.max_pool2d, ...) to the leaf module whose
forward made it.
"""

from __future__ import annotations

import io
import math

import torch
from torch import nn

# fvcore operator names (exactly as by_operator() reports them) whose counts are conv/linear
# multiply-accumulates; matched whole: "linear" is inside "upsample_bilinear2d".
FVCORE_MAC_OPERATORS = ("conv", "linear", "addmm", "matmul", "bmm", "einsum", "_convolution_mode")
CONVOLUTION_MODE = "aten::_convolution_mode"


def param_count(module: nn.Module) -> int:
    """Trainable parameters as PyTorch counts them."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def batchnorm_buffers(module: nn.Module) -> int:
    """The statistics Keras counts as non-trainable weights: BatchNorm running mean and variance
    elements (num_batches_tracked excluded), and a Keras Normalization layer's mean, variance and count."""
    from cnncost.kinds.preprocess import KerasNormalization

    stats = sum(b.numel() for name, b in module.named_buffers() if name.endswith(("running_mean", "running_var")))
    return stats + sum(b.numel() for m in module.modules() if isinstance(m, KerasNormalization) for b in m.buffers())


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
    return sum(v for op, v in by_operator.items() if op in FVCORE_MAC_OPERATORS)


def fvcore_total(module: nn.Module, input_shape: tuple) -> int:
    """``FlopCountAnalysis(module.eval(), x).total()`` for one sample, conv-mode handler registered."""
    return int(fvcore_analysis(module, input_shape).total())


def ptflops_macs(module: nn.Module, input_shape: tuple) -> int:
    """ptflops' MACs (first element of ``get_model_complexity_info``, pytorch backend)."""
    from ptflops import get_model_complexity_info

    log = io.StringIO()  # ptflops prints failures here and returns None
    macs, _params = get_model_complexity_info(module, tuple(input_shape), print_per_layer_stat=False,
                                              as_strings=False, backend="pytorch", ost=log)
    if macs is None:
        raise RuntimeError(f"ptflops failed: {log.getvalue().strip()}")
    return int(macs)


def ptflops_per_module(module: nn.Module, input_shape: tuple) -> dict:
    """ptflops' count per leaf module path: its hook's count + patched functional calls inside it.

    Calls made outside every leaf (in a container's forward) are credited to "".
    The values sum to ``ptflops_macs`` for a batch of one.
    """
    from ptflops import pytorch_engine as pe

    model = pe.add_flops_counting_methods(module)
    model.eval()
    model.start_flops_count(ost=io.StringIO(), verbose=False, ignore_list=[])
    collected: list = []
    leaves = [(name, m) for name, m in model.named_modules() if not list(m.children())]
    spans: dict = {}
    hooks = []
    for name, leaf in leaves:
        hooks.append(leaf.register_forward_pre_hook(_span_start(name, spans, collected)))
        hooks.append(leaf.register_forward_hook(_span_end(name, spans, collected)))
    pe.patch_functional(collected)
    pe.patch_tensor_ops(collected)
    try:
        with torch.no_grad():
            model(torch.zeros(1, *input_shape))
        result = {name: int(getattr(leaf, "__flops__", 0)) for name, leaf in leaves}
        inside = 0
        for name, calls in spans.items():
            functional = sum(int(sum(collected[start:end])) for start, end in calls)
            result[name] += functional
            inside += functional
        outside = int(sum(collected)) - inside
        if outside:
            result[""] = outside
    finally:
        pe.unpatch_functional()
        pe.unpatch_tensor_ops()
        for hook in hooks:
            hook.remove()
        model.stop_flops_count()
    return result


def _span_start(name: str, spans: dict, collected: list):
    def start(_module, _inputs):
        spans.setdefault(name, []).append([len(collected), None])

    return start


def _span_end(name: str, spans: dict, collected: list):
    def end(_module, _inputs, _output):
        spans[name][-1][1] = len(collected)

    return end
