"""Normalisation: ``BatchNorm2d``, ``BatchNorm1d``, ``GroupNorm``, ``LayerNorm`` and ``InstanceNorm2d``,
everything about each in one place."""

from __future__ import annotations

from typing import Any, NamedTuple

from ..arith import exact_div, is_number, product
from ..errors import CnncostError
from ..sizes import WHOLE
from ..tool_conventions import by_call, input_elements, uncounted
from .base import always, ArchType, Counts, Field, FxForms, Kind, State, Unsupported, bind, spatial
from .saving import Effect, Saved, Site, refuse_autocast


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


def batchnorm_step(node: Any, site: Site) -> Effect:
    """native_batch_norm saves its input, its weight and running statistics (model state) and the batch mean
    and inverse std it computed, C float32 values each: empty when it normalises with the running statistics
    (eval mode with tracked statistics). It runs in its input's dtype under CPU autocast."""
    channels = site.x.shape[0]
    batch_statistics = site.training or not node.track_running_stats
    values = site.batch * product(site.x.shape[1:])
    if site.training and _known(values) and values == 1:  # F.batch_norm's _verify_batch_size
        raise CnncostError(f"{node.name}: a BatchNorm in training mode sees one value per channel (batch "
                           f"{site.batch} at {_size_text(site.x.shape[1:]) or 'no'} positions), which torch refuses; "
                           "use a batch of at least 2")
    stats = channels if batch_statistics else 0
    dtype = _statistics_dtype(site, node.affine or node.track_running_stats)
    requires = ((values, 2, f"{node.name}: a BatchNorm in training needs 2 values per channel"),) \
        if site.training and not _known(values) else ()
    return Effect((Saved("input"), Saved("new", stats, dtype, batched=False),
                   Saved("new", stats, dtype, batched=False)), cast=_norm_cast(site), requires=requires)


def _statistics_dtype(site: Site, float32_tensors: bool) -> str:
    """The dtype a norm computes its batch statistics in: float32 when it holds a float32 weight or running
    statistics (the mixed-precision kernel), else its input's (a bf16 input under CPU autocast: bf16)."""
    return "fp32" if float32_tensors or site.device == "cuda" else site.x.dtype


def _norm_cast(site: Site) -> str | None:
    """CUDA's autocast runs the norms (layer_norm, group_norm) in float32; CPU's runs them in the input's dtype."""
    return "fp32" if site.device == "cuda" else None


def running_statistics(node: Any, x: tuple) -> State:
    """Weight and bias when affine; running mean and var (C float32 each) and num_batches_tracked (one int64)."""
    tracked = getattr(node, "track_running_stats", False)
    return State(2 if node.affine else 0, 4 * 2 * x[0] + 8 if tracked else 0)


# --- GroupNorm, LayerNorm, InstanceNorm2d ------------------------------------------------
#
# What the tools count (fvcore 0.1.5, ptflops 0.7.5; file:line in site-packages):
#   fvcore  aten::group_norm and aten::layer_norm = norm_flop_counter(2), aten::instance_norm =
#           norm_flop_counter(1) (fvcore/nn/flop_count.py:37-39): input elements × (5 if the op got a
#           weight else 4), whatever the mode (fvcore/nn/jit_handles.py:230-248). The argument it looks at
#           is the weight, so LayerNorm(bias=False) still counts 5. Module and F.*/torch.* calls trace to the
#           same aten op; aten::permute (LayerNorm over channels) is in _IGNORED_OPS (jit_analysis.py:64).
#   ptflops nn.GroupNorm, nn.LayerNorm, nn.InstanceNorm2d get bn_flops_counter_hook (pytorch_ops.py:300-304):
#           input elements, doubled when ``module.affine`` (pytorch_ops.py:51-57). nn.LayerNorm has no
#           ``affine`` attribute (it is ``elementwise_affine``), so a LayerNorm is never doubled. The type
#           check is exact (pytorch_engine.py:311-314): a subclass gets no hook, and F.group_norm,
#           F.layer_norm, F.instance_norm and torch.* are not among the patched functions
#           (pytorch_engine.py:348-391), so every form but the module itself counts 0.
#   FlopCounterMode has no formula for any norm (0): MACs stay 0, as for BatchNorm.

_F = "torch.nn.functional."
_PTFLOPS_HOOK = "bn_flops_counter_hook (ptflops/pytorch_ops.py:51-57, 300-304)"
_NOT_HOOKED = "no hook (exact-type check, pytorch_engine.py:311-314) and F.{0} is not patched"
_NOT_PATCHED = "{0} is not patched (pytorch_engine.py:348-391)"


class GroupNorm(NamedTuple):
    """Group normalisation: the channels in ``groups`` groups, each normalised over its channels and positions."""

    name: str
    groups: Any  # num_groups; must divide the channels
    affine: bool = True  # per-channel weight and bias (2C params)
    eps: float = 1e-5
    call: str = "module"  # written as: module, subclass, function (F.group_norm), torch (torch.group_norm)


class LayerNorm(NamedTuple):
    """Layer normalisation over the trailing dims ``normalized_shape``, or over the channels at each position.

    ``normalized_shape`` holds sizes (ints, fixed by a torch module) or ``WHOLE`` ("that dim's input size", as
    architecture files write it). ``over_channels``: the channels of a C×H×W tensor at each position, as
    ConvNeXt's LayerNorm2d computes it (channels-last, layer_norm over C, back); normalized_shape is then (C,).
    """

    name: str
    normalized_shape: tuple = (WHOLE,)
    affine: bool = True  # elementwise_affine: a weight (and a bias) of normalized_shape
    bias: bool = True  # the affine's bias (nn.LayerNorm(bias=False)); meaningless without affine
    eps: float = 1e-5
    over_channels: bool = False
    # written as: module, subclass, function (F.layer_norm), torch (torch.layer_norm); over channels:
    # module (an nn.LayerNorm between permutes), subclass (a LayerNorm2d), function or torch (between permutes)
    call: str = "module"


class InstanceNorm2d(NamedTuple):
    """Instance normalisation: each channel over its own H×W positions."""

    name: str
    affine: bool = False  # per-channel weight and bias (2C params); torch's default is False
    track_running_stats: bool = False  # running mean and var (2C buffers), used in eval
    eps: float = 1e-5
    call: str = "module"  # written as: module, subclass, function (F.instance_norm)


def _known(value: Any) -> bool:
    """A size whose value is known: an int, or a sympy integer on the symbolic path."""
    return is_number(value) or getattr(value, "is_Integer", False) is True


def _size_text(sizes: tuple) -> str:
    return "×".join(str(s) for s in sizes)


# GroupNorm

def group_norm_shape(node: GroupNorm, x: tuple) -> tuple:
    """GroupNorm keeps its C×H×W or flat input; the channels must divide into the groups."""
    if len(x) not in (1, 3):
        raise CnncostError(f"{node.name}: GroupNorm expects a C×H×W input or flat features, got {len(x)} dimension(s)")
    per_group = exact_div(x[0], node.groups, node.name, "channels / groups:")
    values = per_group * product(x[1:])
    # F.group_norm (module, subclass and function forms) refuses one value per group at batch 1
    # (torch/nn/functional.py:3038 → _verify_batch_size, 2840-2856); torch.group_norm does not check.
    if node.call != "torch" and _known(values) and values == 1:
        raise CnncostError(f"{node.name}: {x[0]} channels in {node.groups} groups at {_size_text(x[1:]) or 'no'} "
                           "positions normalise one value per group, which torch refuses at batch 1")
    return x


def channel_affine_counts(node: Any, x: tuple, y: tuple) -> Counts:
    """2C parameters (affine), and 2C running statistics where tracked (InstanceNorm2d)."""
    channels = x[0]
    tracked = getattr(node, "track_running_stats", False)
    return Counts(params=2 * channels if node.affine else 0, buffers=2 * channels if tracked else 0)


def fvcore_norm(node: Any, x: tuple, y: tuple) -> Any:
    """aten::group_norm/layer_norm/instance_norm: input elements × (5 with a weight, else 4), any mode, any
    call form (fvcore/nn/flop_count.py:37-39, jit_handles.py:230-248)."""
    return product(x) * (5 if node.affine else 4)


def ptflops_hooked(node: Any, x: tuple, y: tuple) -> Any:
    """bn_flops_counter_hook: input elements, doubled when the module's ``affine`` is true
    (pytorch_ops.py:51-57)."""
    return product(x) * (2 if node.affine else 1)


def group_norm_step(node: GroupNorm, site: Site) -> Effect:
    """native_group_norm saves its input, its weight (a parameter) and a mean and rstd per sample and group
    (float32)."""
    dtype = _statistics_dtype(site, node.affine)
    return Effect((Saved("input"), Saved("new", node.groups, dtype), Saved("new", node.groups, dtype)),
                  cast=_norm_cast(site))


_PTFLOPS_GROUP = by_call("ptflops", {"module": ptflops_hooked,
                                     "subclass": uncounted(_NOT_HOOKED.format("group_norm")),
                                     "function": uncounted(_NOT_PATCHED.format("F.group_norm")),
                                     "torch": uncounted(_NOT_PATCHED.format("torch.group_norm"))})


def _group_module(node: GroupNorm, x: tuple) -> Any:
    from torch import nn

    return nn.GroupNorm(node.groups, x[0], eps=node.eps, affine=node.affine)


def _no_weight(node: Any, what: str) -> None:
    """Calls are built without weight tensors: an affine (or tracked) node has no call form here."""
    if node.affine or getattr(node, "track_running_stats", False):
        raise CnncostError(f"{node.name}: a {what} call is built without weight, bias or running statistics; "
                           "this node has some (write it as a module)")


def _group_call(node: GroupNorm, x: Any) -> Any:
    """F.group_norm or torch.group_norm, without weight and bias."""
    import torch
    import torch.nn.functional as F

    _no_weight(node, "group_norm")
    if node.call == "torch":
        return torch.group_norm(x, node.groups, None, None, node.eps)
    return F.group_norm(x, node.groups, eps=node.eps)


def group_norm_from_call(call: Any, name: str, parameters: bool = False) -> GroupNorm:
    """The node of an F.group_norm / torch.group_norm call (``args``/``kwargs`` as F.group_norm binds them).

    Weight and bias arguments are refused unless ``parameters`` says the caller has resolved them to
    parameters of the module, of C elements each; the node then owns (and counts) both.
    """
    a = bind(call, ("input", "num_groups", "weight", "bias", "eps"), {"weight": None, "bias": None, "eps": 1e-5})
    return GroupNorm(name, a["num_groups"], _affine(a, "group_norm", parameters), a["eps"], "function")


def _affine(arguments: dict, function: str, parameters: bool, bias_alone: bool = False) -> bool:
    """Whether a call's weight and bias make it affine: both or neither (a weight without a bias has no
    node; a bias alone only where ``bias_alone``); any without ``parameters`` is refused."""
    weight, bias = arguments["weight"] is not None, arguments["bias"] is not None
    if not parameters:
        _refuse_tensors(arguments, ("weight", "bias"), function)
    if bias and not weight:  # fvcore reads the weight: 4 per element, with a bias's parameters
        raise Unsupported(f"{function} with a bias and no weight")
    if weight and not bias and not bias_alone:
        raise Unsupported(f"{function} with a weight and no bias")
    return weight


def _refuse_tensors(arguments: dict, names: tuple, function: str) -> None:
    given = [n for n in names if arguments.get(n) is not None]
    if given:
        raise Unsupported(f"{function} with {' and '.join(given)} passed in (only a call without them is a layer)")


# LayerNorm

def normalized_sizes(node: LayerNorm, x: tuple) -> tuple:
    """The normalised dims' sizes: ``normalized_shape`` with ``WHOLE`` replaced by the input's size there."""
    axes = x[:1] if node.over_channels else x[len(x) - len(node.normalized_shape):]
    return tuple(have if want is WHOLE else want for want, have in zip(node.normalized_shape, axes))


def layer_norm_shape(node: LayerNorm, x: tuple) -> tuple:
    """LayerNorm keeps its input; ``normalized_shape`` must equal the trailing dims (the channels when
    ``over_channels``). A size fixed by the module is checked wherever the input's size is known; on a
    symbolic input the counts hold where the module runs, at that size (as Linear's in_features)."""
    shape = tuple(node.normalized_shape)
    if node.over_channels:
        spatial(node, x)
        if len(shape) != 1:
            raise CnncostError(f"{node.name}: a LayerNorm over channels normalises one dim, the channels, "
                               f"not {len(shape)}")
        axes, where = x[:1], "channels"
    else:
        if not 1 <= len(shape) <= len(x):
            raise CnncostError(f"{node.name}: normalized_shape has {len(shape)} dims, the input {len(x)}")
        axes, where = x[len(x) - len(shape):], "trailing dims"
    for want, have in zip(shape, axes):
        if want is not WHOLE and _known(want) and _known(have) and int(want) != int(have):
            written = _size_text(tuple("·" if s is WHOLE else s for s in shape))
            raise CnncostError(f"{node.name}: normalized_shape {written} does not match the input's {where} "
                               f"{_size_text(axes)} (the module fixes these sizes)")
    return x


def layer_norm_counts(node: LayerNorm, x: tuple, y: tuple) -> Counts:
    """A weight and a bias (or a weight alone) of the normalised shape, when affine."""
    if not node.affine:
        return Counts()
    return Counts(params=product(normalized_sizes(node, x)) * (2 if node.bias else 1))


_PTFLOPS_LAYER = by_call("ptflops", {
    "module": input_elements(1, f"{_PTFLOPS_HOOK}; nn.LayerNorm has elementwise_affine, no `affine`, so never "
                                "doubled (between permutes: the permuted input, as many elements)"),
    "subclass": uncounted(_NOT_HOOKED.format("layer_norm")),
    "function": uncounted(_NOT_PATCHED.format("F.layer_norm")),
    "torch": uncounted(_NOT_PATCHED.format("torch.layer_norm")),
})

_CLASSES: dict = {}  # torch classes of a LayerNorm over channels, made on first use


def _channels_classes() -> dict:
    """``LayerNorm2d`` (the subclass form) and ``ChannelsLastLayerNorm`` (the module form), created once.

    They are made here rather than at import so that cnncost imports without torch; this module's
    ``__getattr__`` hands them out by name (``cnncost.kinds.norm.LayerNorm2d``), so the fx tables and
    pickle find them.
    """
    if _CLASSES:
        return _CLASSES
    from torch import nn

    class LayerNorm2d(nn.LayerNorm):
        """nn.LayerNorm over the channels of an N×C×H×W tensor: channels-last, normalise, back."""

        def forward(self, x: Any) -> Any:
            """Normalise each position's C values."""
            return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)

    class ChannelsLastLayerNorm(nn.Module):
        """A plain nn.LayerNorm (``norm``) applied to the channels-last view of an N×C×H×W tensor."""

        def __init__(self, norm: Any):
            super().__init__()
            self.norm = norm

        def forward(self, x: Any) -> Any:
            """Normalise each position's C values with the wrapped module."""
            return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)

    for cls in (LayerNorm2d, ChannelsLastLayerNorm):
        cls.__module__, cls.__qualname__ = __name__, cls.__name__
        _CLASSES[cls.__name__] = cls
    return _CLASSES


def __getattr__(name: str) -> Any:
    """``LayerNorm2d`` and ``ChannelsLastLayerNorm``, created (importing torch) on first access."""
    if name in ("LayerNorm2d", "ChannelsLastLayerNorm"):
        return _channels_classes()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _layer_module(node: LayerNorm, x: tuple) -> Any:
    """nn.LayerNorm; over channels a LayerNorm2d (subclass form) or an nn.LayerNorm between permutes."""
    from torch import nn

    sizes = tuple(normalized_sizes(node, x))
    if not node.over_channels:
        return nn.LayerNorm(sizes, eps=node.eps, elementwise_affine=node.affine, bias=node.bias)
    if node.call == "subclass":
        return _channels_classes()["LayerNorm2d"](sizes, eps=node.eps, elementwise_affine=node.affine,
                                                  bias=node.bias)
    return _channels_classes()["ChannelsLastLayerNorm"](
        nn.LayerNorm(sizes, eps=node.eps, elementwise_affine=node.affine, bias=node.bias))


def _layer_call(node: LayerNorm, x: Any) -> Any:
    """F.layer_norm or torch.layer_norm without weight and bias (between permutes over channels)."""
    import torch
    import torch.nn.functional as F

    _no_weight(node, "layer_norm")
    sizes = tuple(node.normalized_shape)
    if any(s is WHOLE for s in sizes):  # read at run time; fixed ints keep the call traceable by torch.fx
        sizes = normalized_sizes(node, tuple(x.shape[1:]))
    if node.over_channels:
        x = x.permute(0, 2, 3, 1)
    if node.call == "torch":
        y = torch.layer_norm(x, sizes, None, None, node.eps)
    else:
        y = F.layer_norm(x, sizes, eps=node.eps)
    return y.permute(0, 3, 1, 2) if node.over_channels else y


def _shape_argument(value: Any, what: str) -> tuple:
    sizes = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if not sizes or not all(is_number(s) for s in sizes):
        raise Unsupported(f"{what} with a normalized_shape of {value!r} (whole numbers are supported)")
    return sizes


def _layer_from_module(m: Any, name: str, over_channels: bool = False) -> LayerNorm:
    # The bias flag is canonical (True) without affine, where torch keeps no bias either way.
    bias = m.bias is not None or not m.elementwise_affine
    return LayerNorm(name, _shape_argument(tuple(m.normalized_shape), "LayerNorm"), m.elementwise_affine, bias,
                     m.eps, over_channels)


def layer_norm_from_call(call: Any, name: str, parameters: bool = False, over_channels: bool = False) -> LayerNorm:
    """The node of an F.layer_norm / torch.layer_norm call (``args``/``kwargs`` as F.layer_norm binds them).

    Weight and bias arguments are refused unless ``parameters`` says the caller has resolved them to
    parameters of the module, of the normalised shape; the node is then affine, with a bias if one is
    passed (a weight alone is LayerNorm(bias=False)); a bias without a weight is refused.
    """
    a = bind(call, ("input", "normalized_shape", "weight", "bias", "eps"),
             {"weight": None, "bias": None, "eps": 1e-5})
    affine = _affine(a, "layer_norm", parameters, bias_alone=True)
    return LayerNorm(name, _shape_argument(a["normalized_shape"], "layer_norm"), affine,
                     a["bias"] is not None or not affine, a["eps"], over_channels, "function")


def layer_norm_over_channels(name: str, module_or_call: Any, call: str | None = None,
                             parameters: bool = False) -> LayerNorm:
    """The node of a LayerNorm over the channels of an N×C×H×W tensor (ConvNeXt's LayerNorm2d idiom).

    For the fx importer's recognition of ``permute(0, 2, 3, 1) → layer_norm → permute(0, 3, 1, 2)``.
    ``module_or_call`` is either the ``nn.LayerNorm`` module applied to the channels-last tensor — its
    form is "module" when its type is exactly nn.LayerNorm (ptflops hooks it), else "subclass" (a
    LayerNorm2d-style subclass whose forward permutes: no hook) — or the ``layer_norm`` call itself, an
    fx node or ``fx_ops.Call`` with ``args``/``kwargs`` bound as F.layer_norm's (input,
    normalized_shape, weight, bias, eps), form "function" unless ``call`` says otherwise ("torch" for
    torch.layer_norm). Its normalized_shape must be one size, the channels (the engine checks it
    against the input). A call passing weight or bias raises ``Unsupported`` unless ``parameters``
    says the caller has resolved them to the module's own parameters (then the node is affine, with a
    bias if one is passed; its counts are right, but the zoo cannot rebuild such a call: no weights).
    """
    if hasattr(module_or_call, "elementwise_affine"):
        node = _layer_from_module(module_or_call, name, over_channels=True)
        from torch import nn

        node = node._replace(call="module" if type(module_or_call) is nn.LayerNorm else "subclass")
    else:
        node = layer_norm_from_call(module_or_call, name, parameters, over_channels=True)
    if len(node.normalized_shape) != 1:
        raise Unsupported(f"a layer_norm over channels with normalized_shape {node.normalized_shape!r} "
                          "(one size, the channels, is expected)")
    return node._replace(call=call) if call else node


def layer_norm_step(node: LayerNorm, site: Site) -> Effect:
    """native_layer_norm saves its input (over channels: the channels-last view of it), weight and bias
    (parameters), and a mean and rstd per normalised position (float32)."""
    positions = exact_div(product(site.x.shape), product(normalized_sizes(node, site.x.shape)), node.name)
    dtype = _statistics_dtype(site, node.affine)
    return Effect((Saved("input"), Saved("new", positions, dtype), Saved("new", positions, dtype)),
                  cast=_norm_cast(site))


def layer_norm_state(node: LayerNorm, x: tuple) -> State:
    """A weight, and a bias unless bias=False, when affine."""
    return State((1 + bool(node.bias)) if node.affine else 0)


# InstanceNorm2d

def instance_norm_step(node: InstanceNorm2d, site: Site) -> Effect:
    """F.instance_norm runs batch_norm on the (1, N·C, H, W) view of its input, with the weight and the running
    statistics repeated N times (new tensors, saved) and the batch statistics it computes (N·C float32 each,
    empty when it reads the running statistics). Measured in float32 only."""
    refuse_autocast(node, site, "an InstanceNorm2d")
    channels = site.x.shape[0]
    if site.training and _known(product(site.x.shape[1:])) and product(site.x.shape[1:]) == 1:
        raise CnncostError(f"{node.name}: an InstanceNorm2d in training mode needs more than one position, and "
                           "the input is 1×1 (torch refuses it)")
    batch_statistics = site.training or not node.track_running_stats
    repeated = int(node.affine) + 2 * int(node.track_running_stats) + 2 * int(batch_statistics)
    return Effect((Saved("input"),) + (Saved("new", channels, "fp32"),) * repeated)


def instance_norm_shape(node: InstanceNorm2d, x: tuple) -> tuple:
    """InstanceNorm2d keeps its C×H×W input; normalising with the input's own statistics needs more than
    one position (F.instance_norm's _verify_spatial_size, torch/nn/functional.py:2952, 2911-2919: in eval,
    every untracked form)."""
    c, h, w = spatial(node, x)
    if not node.track_running_stats and _known(h * w) and h * w == 1:
        raise CnncostError(f"{node.name}: an InstanceNorm2d without running statistics needs more than one "
                           "position, and the input is 1×1 (torch refuses it)")
    return x


_PTFLOPS_INSTANCE = by_call("ptflops", {"module": ptflops_hooked,
                                        "subclass": uncounted(_NOT_HOOKED.format("instance_norm")),
                                        "function": uncounted(_NOT_PATCHED.format("F.instance_norm"))})


def _instance_module(node: InstanceNorm2d, x: tuple) -> Any:
    from torch import nn

    return nn.InstanceNorm2d(x[0], eps=node.eps, affine=node.affine, track_running_stats=node.track_running_stats)


def _instance_call(node: InstanceNorm2d, x: Any) -> Any:
    """F.instance_norm with the input's own statistics, no weight."""
    import torch.nn.functional as F

    _no_weight(node, "instance_norm")
    return F.instance_norm(x, eps=node.eps)


def instance_norm_from_call(call: Any, name: str, parameters: bool = False) -> InstanceNorm2d:
    """The node of an F.instance_norm call (``args``/``kwargs`` as F.instance_norm binds them).

    Without ``parameters`` only a call with none of weight, bias, running_mean, running_var is a layer.
    With it (the caller has resolved them to the module's parameters and buffers, of C elements each):
    weight and bias together make it affine; running_mean and running_var together, read with
    ``use_input_stats=False`` (as nn.InstanceNorm2d does in eval), make it track running statistics.
    """
    a = bind(call, ("input", "running_mean", "running_var", "weight", "bias", "use_input_stats", "momentum", "eps"),
             {"running_mean": None, "running_var": None, "weight": None, "bias": None, "use_input_stats": True,
              "momentum": 0.1, "eps": 1e-5})
    affine = _affine(a, "instance_norm", parameters)
    if not parameters:
        _refuse_tensors(a, ("running_mean", "running_var"), "instance_norm")
    stats = (a["running_mean"] is not None, a["running_var"] is not None)
    if stats[0] != stats[1]:
        raise Unsupported("instance_norm with one of running_mean and running_var")
    if stats[0] and a["use_input_stats"] is not False:
        raise Unsupported("instance_norm updating running statistics (use_input_stats with running_mean/var)")
    if not stats[0] and a["use_input_stats"] is False:
        raise Unsupported("instance_norm with use_input_stats=False and no running statistics")
    return InstanceNorm2d(name, affine, stats[0], a["eps"], "function")


def _layer_norm_from_file(name: str, f: dict, rank: int) -> LayerNorm:
    # dims > 1 over channels is refused by the shape rule, with the file's line.
    return LayerNorm(name, (WHOLE,) * f["dims"], f["affine"], f["bias"], f["eps"], f["over_channels"],
                     # A LayerNorm2d: one leaf module, as torchvision's ConvNeXt writes it.
                     "subclass" if f["over_channels"] else "module")


KINDS = (
    Kind(BatchNorm2d, spatial, batchnorm_counts, stateful=always, fvcore=fvcore_batchnorm, ptflops=_PTFLOPS,
         archfile=(ArchType("batchnorm", {"affine": Field("bool", True), "track_running_stats": Field("bool", True),
                                          "eps": Field("eps", 1e-5)}, _from_file, "bn"),),
         torch_module=_torch("BatchNorm2d"), step=batchnorm_step, state=running_statistics,
         fx=FxForms(modules={"torch.nn.BatchNorm2d": (_from_module(BatchNorm2d), "num_features")})),
    Kind(BatchNorm1d, batchnorm1d_shape, batchnorm_counts, stateful=always, fvcore=fvcore_batchnorm, ptflops=_PTFLOPS,
         torch_module=_torch("BatchNorm1d"), step=batchnorm_step, state=running_statistics,
         fx=FxForms(modules={"torch.nn.BatchNorm1d": (_from_module(BatchNorm1d), "num_features")})),
    Kind(GroupNorm, group_norm_shape, channel_affine_counts, stateful=lambda n: n.affine, fvcore=fvcore_norm,
         ptflops=_PTFLOPS_GROUP,
         archfile=(ArchType("groupnorm", {"groups": Field("expr"), "affine": Field("bool", True),
                                          "eps": Field("eps", 1e-5)},
                            lambda name, f, rank: GroupNorm(name, f["groups"], f["affine"], f["eps"]), "gn"),),
         torch_module=_group_module, torch_call=_group_call, step=group_norm_step, state=running_statistics,
         fx=FxForms(modules={"torch.nn.GroupNorm": (lambda m, name: GroupNorm(name, m.num_groups, m.affine, m.eps),
                                                    "num_channels")},
                    functions={_F + "group_norm": group_norm_from_call, "torch.group_norm": group_norm_from_call})),
    Kind(LayerNorm, layer_norm_shape, layer_norm_counts, stateful=lambda n: n.affine, fvcore=fvcore_norm,
         ptflops=_PTFLOPS_LAYER,
         archfile=(ArchType("layernorm", {"dims": Field("static", 1), "over_channels": Field("bool", False),
                                          "affine": Field("bool", True), "bias": Field("bool", True),
                                          "eps": Field("eps", 1e-5)}, _layer_norm_from_file, "ln"),),
         torch_module=_layer_module, torch_call=_layer_call, step=layer_norm_step, state=layer_norm_state,
         fx=FxForms(modules={"torch.nn.LayerNorm": (_layer_from_module, None),
                             # cnncost's own LayerNorm2d (what the zoo builds); other permute idioms are
                             # recognised by the importer through layer_norm_over_channels.
                             __name__ + ".LayerNorm2d": (lambda m, name: layer_norm_over_channels(name, m), None)},
                    functions={_F + "layer_norm": layer_norm_from_call, "torch.layer_norm": layer_norm_from_call})),
    Kind(InstanceNorm2d, instance_norm_shape, channel_affine_counts,
         stateful=lambda n: n.affine or n.track_running_stats, fvcore=fvcore_norm, ptflops=_PTFLOPS_INSTANCE,
         archfile=(ArchType("instancenorm", {"affine": Field("bool", False),
                                             "track_running_stats": Field("bool", False),
                                             "eps": Field("eps", 1e-5)},
                            lambda name, f, rank: InstanceNorm2d(name, f["affine"], f["track_running_stats"],
                                                                 f["eps"]), "inorm"),),
         torch_module=_instance_module, torch_call=_instance_call, step=instance_norm_step,
         state=running_statistics,
         fx=FxForms(modules={"torch.nn.InstanceNorm2d": (lambda m, name: InstanceNorm2d(
                        name, m.affine, m.track_running_stats, m.eps), "num_features")},
                    functions={_F + "instance_norm": instance_norm_from_call})),
)
