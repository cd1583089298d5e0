"""Pooling: ``MaxPool2d``, ``AvgPool2d``, ``AdaptiveAvgPool2d``, ``AdaptiveMaxPool2d`` and ``GlobalPool``
(a mean, amax or sum over H and W written as a tensor reduction), everything about each in one place."""

from __future__ import annotations

from typing import Any, NamedTuple

from ..arith import is_number
from ..errors import CnncostError
from ..sizes import WHOLE, window_min_input, window_output
from ..tool_conventions import by_call, input_elements, uncounted
from .saving import Effect, Saved, Site, elements, nothing, saves_input
from .base import (call_module, ArchType, Field, FxForms, Kind, Unsupported, bind, collapse_pair, no_counts, pair,
                   spatial)


class MaxPool2d(NamedTuple):
    """Max pooling; ``stride`` defaults to the kernel size, as in torch."""

    name: str
    kernel_size: Any
    stride: Any = None
    padding: Any = 0
    dilation: Any = 1
    ceil_mode: bool = False
    call: str = "module"  # written as: module, subclass, function (F.x), torch (torch.x), method (x.m())


class AvgPool2d(NamedTuple):
    """Average pooling; ``stride`` defaults to the kernel size, as in torch."""

    name: str
    kernel_size: Any
    stride: Any = None
    padding: Any = 0
    ceil_mode: bool = False
    count_include_pad: bool = True
    call: str = "module"  # written as: module, subclass, function (F.x), torch (torch.x), method (x.m())


class AdaptiveAvgPool2d(NamedTuple):
    """Adaptive average pooling to a fixed output size."""

    name: str
    output_size: Any  # o or (oh, ow)
    call: str = "module"  # written as: module, subclass, function (F.x), torch (torch.x), method (x.m())


class AdaptiveMaxPool2d(NamedTuple):
    """Adaptive max pooling to a fixed output size (without indices)."""

    name: str
    output_size: Any  # o or (oh, ow)
    call: str = "module"  # written as: module, subclass, function (F.adaptive_max_pool2d)


class GlobalPool(NamedTuple):
    """A reduction over H and W written on the tensor: ``x.mean((2, 3))``, ``torch.amax(x, (2, 3), True)``.

    C×H×W becomes (C,), or C×1×1 with ``keepdim``. There is no module form: ``call`` is
    "method" (``x.mean(...)``) or "torch" (``torch.mean(x, ...)``).
    """

    name: str
    op: str = "mean"  # a key of REDUCTIONS: mean, amax, sum
    keepdim: bool = False
    call: str = "method"  # written as: method (x.mean(...)) or torch (torch.mean(x, ...))


def _geometry(node: Any) -> tuple:
    k = pair(node.kernel_size)
    s = pair(node.stride if node.stride is not None else node.kernel_size)
    p = pair(node.padding)
    d = pair(getattr(node, "dilation", 1))
    return k, s, p, d


def pool_shape(node: Any, x: tuple) -> tuple:
    """Output of max/avg pooling (PyTorch floor or ceil_mode arithmetic)."""
    c, h, w = spatial(node, x)
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = _geometry(node)
    for pad, k, d in ((ph, kh, dh), (pw, kw, dw)):
        # PyTorch: "pad should be at most half of effective kernel size".
        if is_number(pad) and is_number(k) and 2 * pad > d * (k - 1) + 1:
            raise CnncostError(f"{node.name}: padding {pad} is more than half the kernel size {k}")
    return (c, window_output(h, kh, sh, 2 * ph, dh, node.ceil_mode, ph),
            window_output(w, kw, sw, 2 * pw, dw, node.ceil_mode, pw))


def pool_min_input(node: Any, need: tuple) -> tuple:
    """Smallest input (h, w) for which the pooling gives at least ``need``."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = _geometry(node)
    return (window_min_input(need[0], kh, sh, 2 * ph, dh, node.ceil_mode),
            window_min_input(need[1], kw, sw, 2 * pw, dw, node.ceil_mode))


def adaptive_pool_shape(node: Any, x: tuple) -> tuple:
    """Adaptive pooling: the fixed output size, channels unchanged."""
    c, _, _ = spatial(node, x)
    oh, ow = pair(node.output_size)
    return (c, oh, ow)


def adaptive_pool_min_input(node: Any, need: tuple) -> tuple:
    """Any non-empty input works."""
    return (1, 1)


REDUCTIONS = ("mean", "amax", "sum")  # GlobalPool.op: the Tensor method / torch function computing it


def global_pool_shape(node: GlobalPool, x: tuple) -> tuple:
    """A reduction over H and W: (C,), or C×1×1 with ``keepdim``."""
    c, _, _ = spatial(node, x)
    if node.op not in REDUCTIONS:
        raise CnncostError(f"{node.name}: unknown global reduction {node.op!r} (known: {', '.join(REDUCTIONS)})")
    return (c, 1, 1) if node.keepdim else (c,)


_NO_HANDLER = "fvcore has no handler for aten::{} (unsupported op, counted 0)"
# Where fvcore leaves an op without a handle: not in _DEFAULT_SUPPORTED_OPS, nor in _IGNORED_OPS,
# so it is listed as unsupported and adds nothing to the total.
_FVCORE_UNSUPPORTED = "(fvcore/nn/flop_count.py:26-44 has no handle; jit_analysis.py:577-581 skips it)"


def _ptflops_pool(function: str, where: str = "") -> Any:
    """pool_flops_counter_hook on the module + the patched F.<function> in its forward; F.* once.
    ``where`` cites the hook's mapping and the patch."""
    where = f" ({where})" if where else ""
    return by_call("ptflops", {
        "module": input_elements(2, f"pool_flops_counter_hook and the patched F.{function} both count the "
                                    f"input{where}"),
        "subclass": input_elements(1, f"no hook (exact-type check, pytorch_engine.py:311-314); the patched "
                                      f"F.{function} inside counts{where}"),
        "function": input_elements(1, f"patched F.{function} counts the input once{where}"),
    })


# nn.AdaptiveMaxPool2d is hooked (pytorch_ops.py:291, pool_flops_counter_hook :46-48: input elements) and its
# forward calls F.adaptive_max_pool2d (torch/nn/modules/pooling.py:1384-1386), which ptflops patches
# (FUNCTIONAL_MAPPING pytorch_ops.py:440, _numel_functional_flops_hook :347-348; pytorch_engine.py:376-377).
_ADAPTIVE_MAX_PTFLOPS = "pytorch_ops.py:46-48, :291, :347-348, :440; pytorch_engine.py:376-377"

_GLOBAL_FVCORE = uncounted("aten::mean, aten::amax and aten::sum have no fvcore handler " + _FVCORE_UNSUPPORTED)
# ptflops patches only matmul/mm/bmm/addmm/baddbmm/mul/add among tensor ops (TENSOR_OPS_MAPPING,
# pytorch_ops.py:453-469; patch_tensor_ops, pytorch_engine.py:434-456) and no reduction among F.*
# (patch_functional, pytorch_engine.py:348-390); a reduction is no module, so no hook either.
_GLOBAL_PTFLOPS = by_call("ptflops", {
    "method": uncounted("Tensor.mean/amax/sum are not patched (pytorch_ops.py:453-469, pytorch_engine.py:434-456)"),
    "torch": uncounted("torch.mean/amax/sum are not patched (pytorch_ops.py:453-469, pytorch_engine.py:434-456)"),
})


# --- torch bindings ------------------------------------------------------------------

def _window(value: Any, size: tuple) -> Any:
    """A kernel or stride with ``WHOLE`` axes replaced by the input's own size on that axis."""
    if value is None:
        return None
    return tuple(size[axis] if v is WHOLE else v for axis, v in enumerate(pair(value)))


def _max_call(node: MaxPool2d, x: Any) -> Any:
    import torch.nn.functional as F

    size = tuple(x.shape[2:])
    return F.max_pool2d(x, _window(node.kernel_size, size), _window(node.stride, size), node.padding,
                        node.dilation, node.ceil_mode)


def _avg_call(node: AvgPool2d, x: Any) -> Any:
    import torch.nn.functional as F

    size = tuple(x.shape[2:])
    return F.avg_pool2d(x, _window(node.kernel_size, size), _window(node.stride, size), node.padding,
                        node.ceil_mode, node.count_include_pad)


def _adaptive_call(node: AdaptiveAvgPool2d, x: Any) -> Any:
    import torch.nn.functional as F

    return F.adaptive_avg_pool2d(x, node.output_size)


def _adaptive_max_call(node: AdaptiveMaxPool2d, x: Any) -> Any:
    import torch.nn.functional as F

    return F.adaptive_max_pool2d(x, node.output_size)


GLOBAL_DIMS = (2, 3)  # H and W of an N×C×H×W tensor


def _global_call(node: GlobalPool, x: Any) -> Any:
    """The reduction in its recorded form: ``x.mean((2, 3), keepdim=...)`` or ``torch.mean(x, (2, 3), ...)``."""
    import torch

    if node.call == "method":
        return getattr(x, node.op)(GLOBAL_DIMS, keepdim=node.keepdim)
    if node.call == "torch":
        return getattr(torch, node.op)(x, GLOBAL_DIMS, keepdim=node.keepdim)
    raise CnncostError(f"{node.name}: a global {node.op} is written as a method or a torch function, "
                       f"not {node.call!r}")


# A module whose forward is the reduction in its recorded form (torch has no module for it).
_global_module = call_module("Reduction", lambda node, x: _global_call(node, x),
                             "``x.mean((2, 3))`` and its kin as a module (torch has none); not hooked by ptflops.")


def _max_module(node: MaxPool2d, x: tuple) -> Any:
    from torch import nn

    return nn.MaxPool2d(node.kernel_size, node.stride, node.padding, node.dilation, ceil_mode=node.ceil_mode)


def _avg_module(node: AvgPool2d, x: tuple) -> Any:
    from torch import nn

    return nn.AvgPool2d(node.kernel_size, node.stride, node.padding, node.ceil_mode, node.count_include_pad)


def _adaptive_module(node: AdaptiveAvgPool2d, x: tuple) -> Any:
    from torch import nn

    return nn.AdaptiveAvgPool2d(node.output_size)


def _adaptive_max_module(node: AdaptiveMaxPool2d, x: tuple) -> Any:
    from torch import nn

    return nn.AdaptiveMaxPool2d(node.output_size)


# --- torch.fx recognition --------------------------------------------------------------

def _max_from_module(m: Any, name: str) -> MaxPool2d:
    if m.return_indices:
        raise Unsupported("MaxPool2d with return_indices=True")
    return MaxPool2d(name, collapse_pair(m.kernel_size), collapse_pair(m.stride), collapse_pair(m.padding),
                     collapse_pair(m.dilation), m.ceil_mode)


def _avg_from_module(m: Any, name: str) -> AvgPool2d:
    if m.divisor_override is not None:
        raise Unsupported("AvgPool2d with divisor_override")
    return AvgPool2d(name, collapse_pair(m.kernel_size), collapse_pair(m.stride), collapse_pair(m.padding),
                     m.ceil_mode, m.count_include_pad)


def _adaptive_size(size: Any, what: str) -> Any:
    """An adaptive pool's output size as a node holds it; ``None`` (keep that input size) is refused."""
    if size is None or (isinstance(size, (tuple, list)) and None in size):
        raise Unsupported(f"{what} keeping an input size, None")
    return collapse_pair(size)


def adaptive_pool(name: str, size: Any) -> AdaptiveAvgPool2d:
    """The node pooling to ``size``; ``None`` (keep that input size) is refused."""
    return AdaptiveAvgPool2d(name, _adaptive_size(size, "AdaptiveAvgPool2d"))


def _adaptive_max_from_module(m: Any, name: str) -> AdaptiveMaxPool2d:
    if m.return_indices:
        raise Unsupported("AdaptiveMaxPool2d with return_indices=True")
    return AdaptiveMaxPool2d(name, _adaptive_size(m.output_size, "AdaptiveMaxPool2d"))


def _adaptive_max_from_call(call: Any, name: str) -> AdaptiveMaxPool2d:
    a = bind(call, ("input", "output_size", "return_indices"), {"return_indices": False})
    if a["return_indices"]:
        raise Unsupported("adaptive_max_pool2d with return_indices=True")
    return AdaptiveMaxPool2d(name, _adaptive_size(a["output_size"], "adaptive_max_pool2d"))


def _with_indices(call: Any, name: str) -> Any:
    # F.adaptive_max_pool2d(x, s, return_indices=True) traces as this function: two outputs.
    raise Unsupported("adaptive_max_pool2d with return_indices=True")


def _global_dims(op: str, dim: Any) -> tuple:
    """``dim`` of a reduction on an N×C×H×W tensor, made non-negative; only H and W pool globally."""
    if dim is None or dim == () or dim == []:
        raise Unsupported(f"{op} over every dimension, the batch included; a global pool reduces dims (2, 3)")
    dims = tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)
    if not all(type(d) is int and -4 <= d < 4 for d in dims):
        raise Unsupported(f"{op} over dims {dim!r}; only dims (2, 3) (H and W, or -2, -1) are a global pool")
    found = tuple(d % 4 for d in dims)
    if sorted(found) != list(GLOBAL_DIMS):
        raise Unsupported(f"{op} over dims {dim!r}; only dims (2, 3) (H and W, or -2, -1) in one call are "
                          "a global pool")
    return found


def _global_from_call(op: str) -> Any:
    """Converter of ``x.<op>(dims, keepdim)`` and ``torch.<op>(x, dims, keepdim)`` to a ``GlobalPool``."""

    def convert(call: Any, name: str) -> GlobalPool:
        a = bind(call, ("input", "dim", "keepdim"), {"dim": None, "keepdim": False})
        other = sorted(set(a) - {"input", "dim", "keepdim", "dtype"})
        if other:
            raise Unsupported(f"{op} with {', '.join(other)}")
        if a.get("dtype") is not None:
            raise Unsupported(f"{op} with dtype={a['dtype']!r}")
        if type(a["keepdim"]) is not bool:
            raise Unsupported(f"{op} with keepdim={a['keepdim']!r}")
        _global_dims(op, a["dim"])
        return GlobalPool(name, op, a["keepdim"])

    return convert


def _max_from_call(call: Any, name: str) -> MaxPool2d:
    a = bind(call, ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"),
             {"stride": None, "padding": 0, "dilation": 1, "ceil_mode": False, "return_indices": False})
    if a["return_indices"]:
        raise Unsupported("max_pool2d with return_indices=True")
    return MaxPool2d(name, collapse_pair(a["kernel_size"]), collapse_pair(a["stride"] or None),
                     collapse_pair(a["padding"]), collapse_pair(a["dilation"]), a["ceil_mode"])


def _avg_from_call(call: Any, name: str) -> AvgPool2d:
    a = bind(call, ("input", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad",
                    "divisor_override"),
             {"stride": None, "padding": 0, "ceil_mode": False, "count_include_pad": True, "divisor_override": None})
    if a["divisor_override"] is not None:
        raise Unsupported("avg_pool2d with divisor_override")
    return AvgPool2d(name, collapse_pair(a["kernel_size"]), collapse_pair(a["stride"] or None),
                     collapse_pair(a["padding"]), a["ceil_mode"], a["count_include_pad"])


def _global_type(op: str) -> ArchType:
    """Architecture-file type ``globalmean``/``globalmax``/``globalsum``: the reduction over H and W."""
    return ArchType(f"global{'max' if op == 'amax' else op}", {"keepdim": Field("bool", False)},
                    lambda name, f, rank: GlobalPool(name, op, f["keepdim"]), op,
                    lambda node, x: x if node.keepdim else (None,))  # without keepdim: flat features


def max_pool_step(node: Any, site: Site) -> Effect:
    """max_pool2d_with_indices (and adaptive_max_pool2d) save the input and the argmax indices, one int64 per
    output element."""
    return Effect((Saved("input"), Saved("new", elements(site.y), "int64")))


def adaptive_avg_step(node: AdaptiveAvgPool2d, site: Site) -> Effect:
    """A 1×1 output is computed as a mean over H and W, which saves nothing; any other size runs
    _adaptive_avg_pool2d, which saves its input."""
    return nothing(node, site) if tuple(site.y[1:]) == (1, 1) else saves_input(node, site)


def global_pool_step(node: GlobalPool, site: Site) -> Effect:
    """mean and sum save nothing (CUDA's autocast runs sum in float32); amax saves its input and its result."""
    if node.op == "amax":
        return Effect((Saved("input"), Saved("output")))
    return Effect(cast="fp32" if node.op == "sum" and site.device == "cuda" else None)


_WINDOW_FIELDS = {"kernel": Field("pair"), "stride": Field("pair", None), "padding": Field("pair", 0, 0)}
_WINDOWS = {"kernel_size": 1, "stride": 2}  # F.max_pool2d/F.avg_pool2d arguments that may be x.shape[2:]

KINDS = (
    Kind(MaxPool2d, pool_shape, no_counts, min_input=pool_min_input,
         fvcore=uncounted(_NO_HANDLER.format("max_pool2d")), ptflops=_ptflops_pool("max_pool2d"),
         archfile=(ArchType("maxpool", {**_WINDOW_FIELDS, "dilation": Field("pair", 1),
                                        "ceil_mode": Field("bool", False)},
                            lambda name, f, rank: MaxPool2d(name, f["kernel"], f["stride"], f["padding"],
                                                            f["dilation"], f["ceil_mode"]), "pool"),),
         torch_module=_max_module, torch_call=_max_call, step=max_pool_step,
         fx=FxForms(modules={"torch.nn.MaxPool2d": (_max_from_module, None)},
                    functions={"torch.nn.functional.max_pool2d": _max_from_call},
                    windows={"torch.nn.functional.max_pool2d": _WINDOWS})),
    Kind(AvgPool2d, pool_shape, no_counts, min_input=pool_min_input,
         fvcore=uncounted(_NO_HANDLER.format("avg_pool2d")), ptflops=_ptflops_pool("avg_pool2d"),
         archfile=(ArchType("avgpool", {**_WINDOW_FIELDS, "ceil_mode": Field("bool", False),
                                        "count_include_pad": Field("bool", True)},
                            lambda name, f, rank: AvgPool2d(name, f["kernel"], f["stride"], f["padding"],
                                                            f["ceil_mode"], f["count_include_pad"]), "pool"),),
         torch_module=_avg_module, torch_call=_avg_call, step=saves_input,
         fx=FxForms(modules={"torch.nn.AvgPool2d": (_avg_from_module, None)},
                    functions={"torch.nn.functional.avg_pool2d": _avg_from_call},
                    windows={"torch.nn.functional.avg_pool2d": _WINDOWS})),
    Kind(AdaptiveAvgPool2d, adaptive_pool_shape, no_counts, min_input=adaptive_pool_min_input,
         fvcore=input_elements(1, "aten::adaptive_avg_pool2d = elementwise_flop_counter(1, 0)"),
         ptflops=_ptflops_pool("adaptive_avg_pool2d"),
         archfile=(ArchType("adaptiveavgpool", {"size": Field("pair", 1)},
                            lambda name, f, rank: AdaptiveAvgPool2d(name, f["size"]), "avgpool"),),
         torch_module=_adaptive_module, torch_call=_adaptive_call, step=adaptive_avg_step,
         fx=FxForms(modules={"torch.nn.AdaptiveAvgPool2d": (lambda m, name: adaptive_pool(name, m.output_size),
                                                            None)},
                    functions={"torch.nn.functional.adaptive_avg_pool2d": lambda call, name: adaptive_pool(
                        name, bind(call, ("input", "output_size"), {})["output_size"])})),
    Kind(AdaptiveMaxPool2d, adaptive_pool_shape, no_counts, min_input=adaptive_pool_min_input,
         fvcore=uncounted(f"aten::adaptive_max_pool2d has no fvcore handler {_FVCORE_UNSUPPORTED}"),
         ptflops=_ptflops_pool("adaptive_max_pool2d", _ADAPTIVE_MAX_PTFLOPS),
         archfile=(ArchType("adaptivemaxpool", {"size": Field("pair", 1)},
                            lambda name, f, rank: AdaptiveMaxPool2d(name, f["size"]), "maxpool"),),
         torch_module=_adaptive_max_module, torch_call=_adaptive_max_call, step=max_pool_step,
         fx=FxForms(modules={"torch.nn.AdaptiveMaxPool2d": (_adaptive_max_from_module, None)},
                    functions={"torch.nn.functional.adaptive_max_pool2d": _adaptive_max_from_call,
                               "torch.nn.functional.adaptive_max_pool2d_with_indices": _with_indices})),
    Kind(GlobalPool, global_pool_shape, no_counts, min_input=adaptive_pool_min_input,
         fvcore=_GLOBAL_FVCORE, ptflops=_GLOBAL_PTFLOPS,
         archfile=tuple(_global_type(op) for op in REDUCTIONS),
         torch_module=_global_module, torch_call=_global_call, step=global_pool_step,
         fx=FxForms(functions={f"torch.{op}": _global_from_call(op) for op in REDUCTIONS},
                    methods={op: _global_from_call(op) for op in REDUCTIONS})),
)
