"""Pooling: ``MaxPool2d``, ``AvgPool2d``, ``AdaptiveAvgPool2d``, everything about each in one place."""

from __future__ import annotations

from typing import Any, NamedTuple

from ..arith import is_number
from ..errors import CnncostError
from ..sizes import WHOLE, window_min_input, window_output
from ..tool_conventions import by_call, input_elements, uncounted
from .base import (ArchType, Field, FxForms, Kind, Unsupported, bind, collapse_pair, no_counts, pair,
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


def adaptive_pool_shape(node: AdaptiveAvgPool2d, x: tuple) -> tuple:
    """Adaptive pooling: the fixed output size, channels unchanged."""
    c, _, _ = spatial(node, x)
    oh, ow = pair(node.output_size)
    return (c, oh, ow)


def adaptive_pool_min_input(node: Any, need: tuple) -> tuple:
    """Any non-empty input works."""
    return (1, 1)


_NO_HANDLER = "fvcore has no handler for aten::{} (unsupported op, counted 0)"


def _ptflops_pool(function: str) -> Any:
    """pool_flops_counter_hook on the module + the patched F.<function> in its forward; F.* once."""
    return by_call("ptflops", {
        "module": input_elements(2, f"pool_flops_counter_hook and the patched F.{function} both count the input"),
        "subclass": input_elements(1, f"no hook (exact-type check); the patched F.{function} inside counts"),
        "function": input_elements(1, f"patched F.{function} counts the input once"),
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


def _max_module(node: MaxPool2d, x: tuple) -> Any:
    from torch import nn

    return nn.MaxPool2d(node.kernel_size, node.stride, node.padding, node.dilation, ceil_mode=node.ceil_mode)


def _avg_module(node: AvgPool2d, x: tuple) -> Any:
    from torch import nn

    return nn.AvgPool2d(node.kernel_size, node.stride, node.padding, node.ceil_mode, node.count_include_pad)


def _adaptive_module(node: AdaptiveAvgPool2d, x: tuple) -> Any:
    from torch import nn

    return nn.AdaptiveAvgPool2d(node.output_size)


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


def adaptive_pool(name: str, size: Any) -> AdaptiveAvgPool2d:
    """The node pooling to ``size``; ``None`` (keep that input size) is refused."""
    if size is None or (isinstance(size, (tuple, list)) and None in size):
        raise Unsupported("AdaptiveAvgPool2d keeping an input size, None")
    return AdaptiveAvgPool2d(name, collapse_pair(size))


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


_WINDOW_FIELDS = {"kernel": Field("pair"), "stride": Field("pair", None), "padding": Field("pair", 0, 0)}
_WINDOWS = {"kernel_size": 1, "stride": 2}  # F.max_pool2d/F.avg_pool2d arguments that may be x.shape[2:]

KINDS = (
    Kind(MaxPool2d, pool_shape, no_counts, min_input=pool_min_input,
         fvcore=uncounted(_NO_HANDLER.format("max_pool2d")), ptflops=_ptflops_pool("max_pool2d"),
         archfile=(ArchType("maxpool", {**_WINDOW_FIELDS, "dilation": Field("pair", 1),
                                        "ceil_mode": Field("bool", False)},
                            lambda name, f, rank: MaxPool2d(name, f["kernel"], f["stride"], f["padding"],
                                                            f["dilation"], f["ceil_mode"]), "pool"),),
         torch_module=_max_module, torch_call=_max_call,
         fx=FxForms(modules={"torch.nn.MaxPool2d": (_max_from_module, None)},
                    functions={"torch.nn.functional.max_pool2d": _max_from_call},
                    windows={"torch.nn.functional.max_pool2d": _WINDOWS})),
    Kind(AvgPool2d, pool_shape, no_counts, min_input=pool_min_input,
         fvcore=uncounted(_NO_HANDLER.format("avg_pool2d")), ptflops=_ptflops_pool("avg_pool2d"),
         archfile=(ArchType("avgpool", {**_WINDOW_FIELDS, "ceil_mode": Field("bool", False),
                                        "count_include_pad": Field("bool", True)},
                            lambda name, f, rank: AvgPool2d(name, f["kernel"], f["stride"], f["padding"],
                                                            f["ceil_mode"], f["count_include_pad"]), "pool"),),
         torch_module=_avg_module, torch_call=_avg_call,
         fx=FxForms(modules={"torch.nn.AvgPool2d": (_avg_from_module, None)},
                    functions={"torch.nn.functional.avg_pool2d": _avg_from_call},
                    windows={"torch.nn.functional.avg_pool2d": _WINDOWS})),
    Kind(AdaptiveAvgPool2d, adaptive_pool_shape, no_counts, min_input=adaptive_pool_min_input,
         fvcore=input_elements(1, "aten::adaptive_avg_pool2d = elementwise_flop_counter(1, 0)"),
         ptflops=_ptflops_pool("adaptive_avg_pool2d"),
         archfile=(ArchType("adaptiveavgpool", {"size": Field("pair", 1)},
                            lambda name, f, rank: AdaptiveAvgPool2d(name, f["size"]), "avgpool"),),
         torch_module=_adaptive_module, torch_call=_adaptive_call,
         fx=FxForms(modules={"torch.nn.AdaptiveAvgPool2d": (lambda m, name: adaptive_pool(name, m.output_size),
                                                            None)},
                    functions={"torch.nn.functional.adaptive_avg_pool2d": lambda call, name: adaptive_pool(
                        name, bind(call, ("input", "output_size"), {})["output_size"])})),
)
