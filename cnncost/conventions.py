"""What every count means: the one place where quantities and totals are defined.

Per layer (``kinds.Counts`` plus the output size; each kind's rules in ``cnncost.kinds``):
  params       trainable parameters, as ``sum(p.numel() for p in model.parameters())``
  buffers      running mean + variance of BatchNorm (2C; not num_batches_tracked) and of an
               InstanceNorm2d with track_running_stats (2C); no other buffer is counted
               (a Scale's held constant tensor is neither a parameter nor a statistic)
  macs         multiply-accumulates of conv and linear layers, bias excluded:
               conv = outputs·(Cin/g)·kh·kw, linear = in·out, transposed conv =
               input elements·(Cout/g)·kh·kw (torch's FlopCounterMode / 2)
  mults        multiplications those layers perform (= macs)
  adds         additions those layers perform: (terms − 1) per output inside the
               sum, plus one per output for the bias (a transposed conv scatters:
               one add per MAC, plus the bias)
  activations  elements of the layer's output tensor
  fvcore       what fvcore 0.1.5's FlopCountAnalysis(model.eval(), x).total() counts
               for the layer (batch 1), with a handler for padding="same"/"valid"
               convs, which fvcore itself counts 0 (aten::_convolution_mode)
  ptflops      what ptflops 0.7.5's get_model_complexity_info (pytorch backend)
               counts as MACs for the layer (batch 1)

Elementwise and data-movement layers (BatchNorm and the other norms, activations,
pooling, upsampling, padding, shuffles, Scale, residual adds and other merges) have
no MACs, mults or adds in these conventions; parameters they hold (affine norms,
PReLU slopes, a Scale's learned tensor) are counted. The fvcore and ptflops
conventions count norms, upsampling, pooling, activations and merges exactly where
those tools do, and 0 where they do not (rules in ``cnncost.tool_conventions`` and
each kind in ``cnncost.kinds``).

Totals (``--convention``) are functions of the per-quantity sums.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, NamedTuple

QUANTITIES = ("params", "buffers", "macs", "mults", "adds", "activations", "fvcore", "ptflops")


class Convention(NamedTuple):
    """A named total and the sentence that says what it counts."""

    name: str
    unit: str  # short label for tables: "params", "MACs", ...
    meaning: str  # printed beside every total
    total: Callable[[Mapping], Any]  # sums by quantity (read by key) -> total


CONVENTIONS: dict[str, Convention] = {c.name: c for c in (
    Convention("params", "params", "PyTorch trainable parameters (sum of numel)",
               lambda s: s["params"]),
    Convention("keras", "Keras total params", "Keras 'Total params' (trainable + BatchNorm/Normalization stats)",
               lambda s: s["params"] + s["buffers"]),
    Convention("buffers", "buffers", "BatchNorm running mean + variance (+ Keras Normalization stats)",
               lambda s: s["buffers"]),
    Convention("macs", "MACs", "multiply-accumulates of conv/linear, no bias (torchvision GFLOPS)",
               lambda s: s["macs"]),
    Convention("flops", "FLOPs", "2 × MACs (torch.utils.flop_counter, MFU)",
               lambda s: 2 * s["macs"]),
    Convention("mults", "mults", "multiplications of conv/linear (= MACs)",
               lambda s: s["mults"]),
    Convention("adds", "adds", "additions of conv/linear, bias adds included",
               lambda s: s["adds"]),
    Convention("mults+adds", "mults+adds", "all multiplications + additions, bias adds included",
               lambda s: s["mults"] + s["adds"]),
    Convention("activations", "activations", "elements of every layer's output tensor",
               lambda s: s["activations"]),
    Convention("fvcore", "fvcore flops", "fvcore FlopCountAnalysis total: MACs + BatchNorm + adaptive pool "
               "(same/valid-padded convs counted, which fvcore 0.1.5 counts 0)",
               lambda s: s["fvcore"]),
    Convention("ptflops", "ptflops MACs", "ptflops (pytorch backend) MACs: + bias, BatchNorm, "
               "activations, pooling",
               lambda s: s["ptflops"]),
)}

DEFAULT_CONVENTION = "macs"

# One training step (cnncost.trainstep; options --strategy, --batch, --optimizer, --dtype, --device):
# name -> (unit, meaning, the torch oracle it equals). Checked on every zoo network (tests/test_trainstep_*.py).
STEP_QUANTITIES: dict = {
    "train-flops": ("FLOPs", "one training step, forward + backward: 2 × MACs forward, again for each input gradient "
                             "(where the input requires grad) and each weight gradient (where the layer trains)",
                    "FlopCounterMode over forward + backward (which counts a grouped conv's weight gradient "
                    "groups times)"),
    "saved-bytes": ("bytes", "tensors autograd saves for backward: distinct storages, model state excluded, "
                             "the cross-entropy loss's included",
                    "torch.autograd.graph.saved_tensors_hooks, each storage once"),
    "param-bytes": ("bytes", "every parameter, float32", "sum of p.nbytes over model.parameters()"),
    "buffer-bytes": ("bytes", "running statistics, counters and constant tensors",
                     "sum of b.nbytes over model.buffers()"),
    "grad-bytes": ("bytes", "one float32 gradient per trainable parameter", "sum of p.grad.nbytes"),
    "optimizer-bytes": ("bytes", "optimizer state: momentum 1×, adam/adamw 2× the trainable parameters "
                                 "+ a step counter per tensor", "the tensors in optimizer.state after a step"),
    "train-bytes": ("bytes", "param + buffer + grad + optimizer + saved bytes: what a step holds, before the "
                             "allocator's overhead and the kernels' workspace", "their sum"),
}


ALL = "all"  # every convention, where a command takes a list of quantities


def check_quantity(name: str, all_alone: bool = False) -> str:
    """``name`` if it is a quantity: a convention or a training-step quantity. Else a one-line error naming
    the parameter (``quantity: unknown quantity 'x'; choose from ...``; the CLI says --quantity), which lists
    ``all`` too where the caller takes it (``all_alone``: as the whole list)."""
    if name in CONVENTIONS or name in STEP_QUANTITIES:
        return name
    from .arch import ParameterError

    also = f", or {ALL} alone" if all_alone else ""
    raise ParameterError("quantity", f"unknown quantity {name!r}; choose from {', '.join(CONVENTIONS)}, "
                                     f"{', '.join(STEP_QUANTITIES)}{also}")


def unit(name: str) -> str:
    """The short unit a table or axis shows for a convention or a training-step quantity ("MACs", "bytes")."""
    return CONVENTIONS[name].unit if name in CONVENTIONS else STEP_QUANTITIES[name][0]


def meaning(name: str) -> str:
    """What a convention's total or a training-step quantity counts (the sentence printed beside it)."""
    return CONVENTIONS[name].meaning if name in CONVENTIONS else STEP_QUANTITIES[name][1]


def convention(name: str) -> Convention:
    """Look up a convention by name; unknown names are a one-line error."""
    from .arch import ParameterError

    if name not in CONVENTIONS:
        raise ParameterError("convention", f"unknown convention {name!r}; choose one of "
                                           + ", ".join(CONVENTIONS))
    return CONVENTIONS[name]


def sums(table: Any) -> dict:
    """Per-quantity sums of a CostTable."""
    return {q: table.total(q) for q in QUANTITIES}


def totals(table: Any) -> dict:
    """Every convention's total for a CostTable, keyed by convention name."""
    s = sums(table)
    return {name: c.total(s) for name, c in CONVENTIONS.items()}
