"""Elementwise layers: ``Activation`` (one node for every parameter-free nonlinearity, told apart by
``function``), ``PReLU`` (a nonlinearity with learned slopes) and ``Dropout`` (every variant).

None of them has MACs in these conventions. Each activation function is one ``Function`` record
in ``FUNCTIONS``: its torch module, the functions and tensor methods that compute it (with their
parameters, so calls can be read), the options it takes and what fvcore and ptflops count for it.
What the tools count was read from their sources and is checked against them by the oracle tests
(tests/test_kinds_elementwise.py):

* fvcore 0.1.5 counts none of these: aten::relu/relu_ and aten::dropout are in _IGNORED_OPS
  (fvcore/nn/jit_analysis.py:28-87); every other op they trace to (aten::hardswish, leaky_relu,
  softmax, prelu, feature_dropout, ...) has no handler in _DEFAULT_SUPPORTED_OPS
  (fvcore/nn/flop_count.py:26-44), so it is "unsupported" and counted 0.
* ptflops 0.7.5 hooks exactly-typed nn.ReLU, PReLU, ELU, LeakyReLU, ReLU6 (pytorch_ops.py:277-281)
  and nn.GELU (pytorch_ops.py:324) with relu_flops_counter_hook (output elements, pytorch_ops.py:30-32),
  and patches F.relu, F.prelu, F.elu, F.relu6, F.gelu (pytorch_engine.py:350-354), F.softmax
  (pytorch_engine.py:381-382) and F.silu (pytorch_engine.py:389-390) to add input elements
  (_numel_functional_flops_hook, pytorch_ops.py:347-348). A module counts its hook plus the patched
  F.* its forward calls; a subclass only the patched F.* (the hook's type check is exact,
  pytorch_engine.py:311-314); torch.* and Tensor methods are never patched.

Options that change nothing counted (LeakyReLU's slope, ELU's alpha, softmax's dim, ...) are kept
on the node, so the zoo rebuilds the module the user wrote.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ..errors import CnncostError
from ..tool_conventions import by_call, hooked_and_patched, input_elements, nowhere, output_elements, uncounted
from .base import always, ArchType, Counts, Field, FxForms, Kind, State, Unsupported, bind, no_counts
from .saving import Effect, Saved, Site, elements as _elements, low_precision_weights, view


class Activation(NamedTuple):
    """Elementwise nonlinearity without parameters: free for params and MACs."""

    name: str
    function: str = "relu"  # a key of FUNCTIONS
    # (torch parameter, value) pairs that differ from the function's defaults, in FUNCTIONS' order:
    # (("negative_slope", 0.2),) for LeakyReLU(0.2); () for every default.
    options: tuple = ()
    call: str = "module"  # written as: module, subclass, function (F.x), torch (torch.x), method (x.m())


class PReLU(NamedTuple):
    """Leaky ReLU with learned negative slopes: one shared, or one per channel (features when flat)."""

    name: str
    per_channel: bool = False  # num_parameters = input channels, else 1
    init: float = 0.25  # the slopes' initial value (nn.PReLU's init)
    call: str = "module"  # written as: module, or subclass (a user's subclass of nn.PReLU)


class Dropout(NamedTuple):
    """Dropout, any variant: free (identity at inference)."""

    name: str
    p: float = 0.5
    variant: str = "dropout"  # a key of VARIANTS: which torch module the zoo rebuilds (training differs)


class Function(NamedTuple):
    """One activation function."""

    module: str  # its torch.nn class, dotted
    functions: dict  # dotted F.* and torch.* functions computing it -> their parameters after the input
    methods: dict  # Tensor methods computing it -> their parameters after self
    fvcore: Any  # tool rule (cnncost.tool_conventions)
    ptflops: Any
    options: tuple = ()  # (torch parameter, default) of what it computes; module attribute of the same name


_F = "torch.nn.functional."
_NO_HANDLER = "fvcore has no handler for {} (unsupported op, counted 0)"
_INPLACE = ("inplace",)
_SOFTMAX = {_F + "{}": ("dim", "_stacklevel", "dtype"), "torch.{}": ("dim", "dtype")}


def _fvcore(*ops: str) -> Any:
    return uncounted(_NO_HANDLER.format("/".join(f"aten::{op}" for op in ops)))


def _hook_only(module: str, function: str) -> Any:
    """ptflops: relu_flops_counter_hook on the exact module only; the F.* inside is not patched."""
    return by_call("ptflops", {
        "module": output_elements(1, f"relu_flops_counter_hook on nn.{module} (pytorch_ops.py:277-281); "
                                     f"F.{function} in its forward is not patched"),
        "subclass": uncounted(f"no hook (exact-type check) and F.{function} is not patched"),
        "function": uncounted(f"F.{function} is not patched")})


def _patched_only(function: str, *unpatched: str) -> Any:
    """ptflops: no module hook, but the patched F.<function> counts in the module, a subclass and F.*."""
    why = f"patched F.{function} counts the input once (no module hook)"
    return by_call("ptflops", {**{call: input_elements(1, why) for call in ("module", "subclass", "function")},
                               **{call: uncounted(f"{call} form is not patched") for call in unpatched}})


def _softmax_forms(function: str) -> dict:
    return {dotted.format(function): parameters for dotted, parameters in _SOFTMAX.items()}


FUNCTIONS: dict[str, Function] = {
    "relu": Function("torch.nn.ReLU", {_F + "relu": _INPLACE, _F + "relu_": (), "torch.relu": (), "torch.relu_": ()},
                     {"relu": (), "relu_": ()},
                     uncounted("aten::relu/relu_ are in fvcore's _IGNORED_OPS"),
                     hooked_and_patched("relu", ("torch", "torch.relu/F.relu_"), ("method", "Tensor.relu"))),
    "relu6": Function("torch.nn.ReLU6", {_F + "relu6": _INPLACE}, {}, _fvcore("hardtanh"),
                      by_call("ptflops", {
                          "module": output_elements(1, "module hook only (nn.ReLU6 calls the unpatched F.hardtanh)"),
                          "subclass": uncounted("no hook (exact-type check), and F.hardtanh is not patched"),
                          "function": input_elements(1, "patched F.relu6 counts once")})),
    "hardtanh": Function("torch.nn.Hardtanh", {_F + "hardtanh": ("min_val", "max_val", "inplace"),
                                               _F + "hardtanh_": ("min_val", "max_val")}, {},
                         _fvcore("hardtanh"), nowhere("hardtanh"), (("min_val", -1.0), ("max_val", 1.0))),
    "hardswish": Function("torch.nn.Hardswish", {_F + "hardswish": _INPLACE}, {}, _fvcore("hardswish"),
                          nowhere("hardswish")),
    "hardsigmoid": Function("torch.nn.Hardsigmoid", {_F + "hardsigmoid": _INPLACE}, {}, _fvcore("hardsigmoid"),
                            nowhere("hardsigmoid")),
    "leaky_relu": Function("torch.nn.LeakyReLU", {_F + "leaky_relu": ("negative_slope", "inplace"),
                                                  _F + "leaky_relu_": ("negative_slope",)}, {},
                           _fvcore("leaky_relu"), _hook_only("LeakyReLU", "leaky_relu"),
                           (("negative_slope", 0.01),)),
    # F.elu_ is left out: it is torch._C._nn.elu_, which reads as an F.* call but is not patched.
    "elu": Function("torch.nn.ELU", {_F + "elu": ("alpha", "inplace")}, {}, _fvcore("elu"),
                    hooked_and_patched("elu"), (("alpha", 1.0),)),
    "celu": Function("torch.nn.CELU", {_F + "celu": ("alpha", "inplace"), _F + "celu_": ("alpha",),
                                       "torch.celu": ("alpha",), "torch.celu_": ("alpha",)}, {},
                     _fvcore("celu"), nowhere("celu"), (("alpha", 1.0),)),
    "selu": Function("torch.nn.SELU", {_F + "selu": _INPLACE, _F + "selu_": (), "torch.selu": (), "torch.selu_": ()},
                     {}, _fvcore("selu"), nowhere("selu")),
    "gelu": Function("torch.nn.GELU", {_F + "gelu": ("approximate",)}, {}, _fvcore("gelu"),
                     hooked_and_patched("gelu"), (("approximate", "none"),)),
    "silu": Function("torch.nn.SiLU", {_F + "silu": _INPLACE}, {}, _fvcore("silu"), _patched_only("silu")),
    "mish": Function("torch.nn.Mish", {_F + "mish": _INPLACE}, {}, _fvcore("mish"), nowhere("mish")),
    "softplus": Function("torch.nn.Softplus", {_F + "softplus": ("beta", "threshold")}, {}, _fvcore("softplus"),
                         nowhere("softplus"), (("beta", 1.0), ("threshold", 20.0))),
    # F.tanh and F.sigmoid are Python wrappers of x.tanh()/x.sigmoid(): torch.fx records the method.
    "tanh": Function("torch.nn.Tanh", {"torch.tanh": (), "torch.tanh_": ()},
                     {"tanh": (), "tanh_": ()}, _fvcore("tanh"), nowhere("tanh")),
    "sigmoid": Function("torch.nn.Sigmoid", {"torch.sigmoid": (), "torch.sigmoid_": ()},
                        {"sigmoid": (), "sigmoid_": ()}, _fvcore("sigmoid"), nowhere("sigmoid")),
    "logsigmoid": Function("torch.nn.LogSigmoid", {_F + "logsigmoid": ()}, {}, _fvcore("log_sigmoid"),
                           nowhere("logsigmoid")),
    # F.softsign is x / (|x| + 1), F.tanhshrink x − tanh(x): traced as those ops.
    "softsign": Function("torch.nn.Softsign", {_F + "softsign": ()}, {}, _fvcore("abs", "add", "div"),
                         nowhere("softsign")),
    "tanhshrink": Function("torch.nn.Tanhshrink", {_F + "tanhshrink": ()}, {}, _fvcore("tanh", "sub"),
                           nowhere("tanhshrink")),
    # dim counts the batch, as torch's does: 1 is the channels of N×C×H×W, or the features of N×F.
    "softmax": Function("torch.nn.Softmax", _softmax_forms("softmax"), {"softmax": ("dim", "dtype")},
                        _fvcore("softmax"), _patched_only("softmax", "torch", "method"), (("dim", 1),)),
    "log_softmax": Function("torch.nn.LogSoftmax", _softmax_forms("log_softmax"), {"log_softmax": ("dim", "dtype")},
                            _fvcore("log_softmax"), nowhere("log_softmax"), (("dim", 1),)),
}


def by_function(tool: str) -> Any:
    """An Activation's rule for ``tool``, looked up by its function; unknown functions raise."""

    def rule(node: Activation, x: tuple, y: tuple) -> Any:
        return getattr(_function(node), tool)(node, x, y)

    rule.__doc__ = f"{tool}: by activation function ({', '.join(FUNCTIONS)})"
    return rule


def _function(node: Activation) -> Function:
    known = FUNCTIONS.get(node.function)
    if known is None:
        raise CnncostError(f"{node.name}: no activation function {node.function!r} (known: {', '.join(FUNCTIONS)})")
    return known


def activation_shape(node: Activation, x: tuple) -> tuple:
    """The input shape; the options must be the function's, and a softmax ``dim`` one of a sample's axes."""
    spec = _function(node)
    allowed = [option for option, _ in spec.options]
    unknown = [option for option, _ in node.options if option not in allowed]
    if unknown:
        raise CnncostError(f"{node.name}: {node.function} has no option {unknown[0]!r} "
                           f"(options: {', '.join(allowed) or 'none'})")
    if "dim" in allowed:
        check_dim(node.name, option_values(node)["dim"], len(x))
    return x


def check_dim(name: str, dim: Any, rank: int) -> None:
    """``dim`` indexes the batched tensor (0 is the batch) of a sample with ``rank`` axes: it must
    be one of the sample's axes, 1…rank or −rank…−1."""
    if type(dim) is not int:
        raise CnncostError(f"{name}: dim must be a whole number, got {dim!r}")
    if dim == 0 or dim == -(rank + 1):
        raise CnncostError(f"{name}: dim {dim} is the batch axis: a softmax over it mixes the samples of a "
                           f"batch; use 1…{rank} (dims count the batch, as in torch)")
    if not -rank <= dim <= rank:
        raise CnncostError(f"{name}: dim {dim} is out of range for a batch of {rank}-dimensional samples "
                           f"(use 1…{rank} or −{rank}…−1; dims count the batch, as in torch)")


def option_values(node: Activation) -> dict:
    """Every option of the node's function, its defaults filled in."""
    return {**dict(_function(node).options), **dict(node.options)}


def canonical(function: str, values: dict) -> tuple:
    """The ``Activation.options`` of ``function`` given option values: those that differ from the
    defaults, in FUNCTIONS' order (so equal layers have equal nodes)."""
    kept = []
    for option, default in FUNCTIONS[function].options:
        value = values.get(option, default)
        if isinstance(default, float) and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = float(value)  # LeakyReLU(negative_slope=1) is 1.0
        if value != default:
            kept.append((option, value))
    return tuple(kept)


# --- torch bindings ------------------------------------------------------------------

def _resolve(dotted: str) -> Any:
    import importlib

    module, _, attribute = dotted.rpartition(".")
    return getattr(importlib.import_module(module), attribute)


def _activation_module(node: Activation, x: tuple) -> Any:
    return _resolve(_function(node).module)(**option_values(node))


def _activation_call(node: Activation, x: Any) -> Any:
    """The function in the recorded form: x.relu(), F.relu(x) or torch.relu(x), with its options.

    F is looked up at each call, never bound early: ptflops patches its attributes while it counts."""
    import torch
    import torch.nn.functional as F

    if node.call == "method":
        return getattr(x, node.function)(**option_values(node))
    return getattr(F if node.call == "function" else torch, node.function)(x, **option_values(node))


def _prelu_module(node: PReLU, x: tuple) -> Any:
    from torch import nn

    return nn.PReLU(x[0] if node.per_channel else 1, init=node.init)


def _dropout_module(node: Dropout, x: tuple) -> Any:
    return _resolve(_variant(node).module)(node.p)


# --- torch.fx recognition --------------------------------------------------------------

_IGNORED = ("inplace", "_stacklevel")  # change nothing computed or counted


def _from_values(function: str, values: dict, what: str) -> tuple:
    """Options of a recognised call or module (``what`` names it: nn.Softmax, F.softmax, Tensor.softmax):
    a softmax without dim takes torch's implicit one where torch has one (nn.* and F.*); dtype casts
    are refused."""
    if values.get("dtype") is not None:
        raise Unsupported(f"{what} with dtype")
    if "dim" in values and values["dim"] is None:
        if not what.startswith(("F.", "nn.")):
            raise Unsupported(f"{what} without dim")
        # torch's _get_softmax_dim: 1 for 2-D and 4-D inputs, the only ranks a batch of samples has here.
        values = {**values, "dim": 1}
    return canonical(function, values)


def _module_converter(function: str) -> Any:
    def convert(m: Any, name: str) -> Activation:
        from torch import nn

        if function == "hardtanh" and isinstance(m, nn.ReLU6):  # a subclass of ReLU6 is a ReLU6
            return Activation(name, "relu6")
        spec = FUNCTIONS[function]
        values = {option: getattr(m, option) for option, _ in spec.options}
        return Activation(name, function, _from_values(function, values, "nn." + spec.module.rpartition(".")[2]))

    return convert


def _call_converter(function: str, what: str, parameters: tuple) -> Any:
    def convert(call: Any, name: str) -> Activation:
        values = bind(call, ("input",) + parameters, {})
        known = {option for option, _ in FUNCTIONS[function].options} | set(_IGNORED) | {"dtype", "input"}
        extra = sorted(set(values) - known)
        if extra:
            raise Unsupported(f"{what} with argument {extra[0]}")
        return Activation(name, function, _from_values(function, values, what))

    return convert


def _short(dotted: str) -> str:
    return dotted.replace(_F, "F.")


def _activation_forms() -> FxForms:
    modules, functions, methods = {}, {}, {}
    for function, spec in FUNCTIONS.items():
        modules[spec.module] = (_module_converter(function), None)
        for dotted, parameters in spec.functions.items():
            functions[dotted] = _call_converter(function, _short(dotted), parameters)
        for method, parameters in spec.methods.items():
            methods[method] = _call_converter(function, f"Tensor.{method}", parameters)
    return FxForms(modules, functions, methods)


# --- PReLU ------------------------------------------------------------------------------------

def _prelu_from_module(m: Any, name: str) -> PReLU:
    return PReLU(name, m.num_parameters > 1, float(m.init))


def prelu_shape(node: PReLU, x: tuple) -> tuple:
    """The input shape: any sample (torch's channel axis is its first, features when flat)."""
    return x


def prelu_counts(node: PReLU, x: tuple, y: tuple) -> Counts:
    """One slope per channel, or one in all."""
    return Counts(params=x[0] if node.per_channel else 1)


# What each function's backward reads (derivatives.yaml): its input, its result, or more.
_SAVES = {
    "relu": ("output",), "tanh": ("output",), "sigmoid": ("output",), "softmax": ("output",),
    "log_softmax": ("output",),
    "logsigmoid": ("input", "new"),  # log_sigmoid_forward's buffer, the input's size
    "softsign": ("input", "new"),  # x / (|x| + 1): abs reads x, div reads x and |x| + 1
    "tanhshrink": ("new",),  # x − tanh(x): tanh's result
}
_CUDA_FP32 = ("softmax", "log_softmax", "softplus")  # CUDA autocast runs these in float32


def activation_step(node: Activation, site: Site) -> Effect:
    """What the function's backward reads: the result (relu, tanh, sigmoid, softmax), the input (every other
    function), or the input and a tensor of its size (logsigmoid, softsign; tanhshrink: tanh's result only)."""
    saved = tuple(Saved(which, _elements(site.y), site.x.dtype) if which == "new" else Saved(which)
                  for which in _SAVES.get(_function(node) and node.function, ("input",)))
    return Effect(saved, cast="fp32" if site.device == "cuda" and node.function in _CUDA_FP32 else None)


def prelu_step(node: PReLU, site: Site) -> Effect:
    """prelu saves its input and its weight; autocast runs it in lower precision (on cast copies)."""
    return Effect((Saved("input"),) + low_precision_weights(site, site.x.shape[0] if node.per_channel else 1),
                  cast="low")


_PRELU_PTFLOPS = by_call("ptflops", {
    "module": output_elements(2, "relu_flops_counter_hook on nn.PReLU (pytorch_ops.py:278) and the patched F.prelu "
                                 "in its forward (pytorch_engine.py:351) both count"),
    "subclass": input_elements(1, "no hook (exact-type check); the patched F.prelu inside counts"),
})


# --- dropout ------------------------------------------------------------------------------

class Variant(NamedTuple):
    """One dropout module: identity at inference, different only in training."""

    module: str  # dotted torch.nn class
    functions: dict  # dotted function -> its parameters after the input
    ranks: tuple  # sample ranks torch takes without error or deprecation warning: 1 (flat), 3 (C×H×W)
    aten: str  # the op fvcore sees


_DROP = ("p", "training", "inplace")
_TORCH_DROP = ("p", "train")

# Dropout1d on flat N×F and Dropout3d on N×C×H×W read the batch as channels (torch takes both as one
# unbatched sample, silently); the layer is still the identity at inference, so both are counted.
VARIANTS: dict[str, Variant] = {
    "dropout": Variant("torch.nn.Dropout", {_F + "dropout": _DROP, "torch.dropout": _TORCH_DROP}, (1, 3),
                       "aten::dropout"),
    "dropout1d": Variant("torch.nn.Dropout1d", {_F + "dropout1d": _DROP}, (1,), "aten::feature_dropout"),
    "dropout2d": Variant("torch.nn.Dropout2d", {_F + "dropout2d": _DROP}, (3,), "aten::feature_dropout"),
    "dropout3d": Variant("torch.nn.Dropout3d", {_F + "dropout3d": _DROP}, (3,), "aten::feature_dropout"),
    "alpha_dropout": Variant("torch.nn.AlphaDropout", {_F + "alpha_dropout": _DROP,
                                                       "torch.alpha_dropout": _TORCH_DROP}, (1, 3),
                             "aten::alpha_dropout"),
    "feature_alpha_dropout": Variant("torch.nn.FeatureAlphaDropout",
                                     {_F + "feature_alpha_dropout": _DROP,
                                      "torch.feature_alpha_dropout": _TORCH_DROP}, (1, 3),
                                     "aten::feature_alpha_dropout"),
}
_RANKS = {1: "flat features", 3: "C×H×W"}


def _variant(node: Dropout) -> Variant:
    known = VARIANTS.get(node.variant)
    if known is None:
        raise CnncostError(f"{node.name}: no dropout variant {node.variant!r} (known: {', '.join(VARIANTS)})")
    return known


def dropout_shape(node: Dropout, x: tuple) -> tuple:
    """The input shape, on the sample ranks torch takes the variant on."""
    variant = _variant(node)
    if len(x) not in variant.ranks:
        raise CnncostError(f"{node.name}: {variant.module.rpartition('.')[2]} takes "
                           f"{' or '.join(_RANKS[r] for r in variant.ranks)}, not a {len(x)}-dimensional input")
    if isinstance(node.p, (int, float)) and not 0 <= node.p <= 1:
        raise CnncostError(f"{node.name}: dropout probability {node.p} is not between 0 and 1")
    return x


def dropout_step(node: Dropout, site: Site) -> Effect:
    """In eval mode, or with p = 0, dropout returns its input. In training it multiplies by a noise tensor it
    saves: of the input's size and dtype (on CUDA plain dropout is the fused native_dropout, which saves a
    bool mask instead), one value per sample and channel for the feature variants."""
    if not site.training or node.p == 0:
        return view(node, site)
    per_sample = _noise_per_sample(node, site.x.shape)
    if node.variant == "dropout" and site.device == "cuda":
        return Effect((Saved("new", per_sample, "bool"),))
    return Effect((Saved("new", per_sample, site.x.dtype),))


def _noise_per_sample(node: Dropout, x: tuple) -> Any:
    """Noise values per sample: every element for dropout and alpha_dropout; one per channel (the first axis of
    a sample) for dropout2d and feature_alpha_dropout; one per sample for dropout1d on flat features and
    dropout3d on C×H×W, which torch reads as one unbatched sample whose channels are the batch."""
    if node.variant in ("dropout1d", "dropout3d"):
        return 1
    if node.variant in ("dropout2d", "feature_alpha_dropout"):
        return x[0]
    return _elements(x)


def _dropout_fvcore(node: Dropout, x: tuple, y: tuple) -> Any:
    """0: aten::dropout is in fvcore's _IGNORED_OPS (jit_analysis.py:42); aten::feature_dropout,
    alpha_dropout and feature_alpha_dropout have no handler (unsupported, counted 0)."""
    _variant(node)
    return 0


def _dropout_from_module(variant: str) -> Any:
    return lambda m, name: Dropout(name, m.p, variant)


def _dropout_from_call(variant: str, parameters: tuple) -> Any:
    return lambda call, name: Dropout(name, bind(call, ("input",) + parameters, {"p": 0.5})["p"], variant)


def _dropout_forms() -> FxForms:
    modules, functions = {}, {}
    for name, variant in VARIANTS.items():
        modules[variant.module] = (_dropout_from_module(name), None)
        functions.update({dotted: _dropout_from_call(name, parameters)
                          for dotted, parameters in variant.functions.items()})
    return FxForms(modules, functions)


# --- architecture files ------------------------------------------------------------------

# Field kinds are those of cnncost/archfile/schema.py: a slope or alpha is a "prob" (0…1), dim a
# "static" whole number (negative dims allowed). Options without a fitting field kind (softplus'
# beta/threshold, hardtanh's bounds) keep torch's defaults in files.
_ACTIVATION_FIELDS: dict = {
    "leaky_relu": {"negative_slope": Field("prob", 0.01)},
    "elu": {"alpha": Field("prob", 1.0)},
    "celu": {"alpha": Field("prob", 1.0)},
    "gelu": {"tanh": Field("bool", False)},  # approximate="tanh"
    "softmax": {"dim": Field("static", 1, -4)},
    "log_softmax": {"dim": Field("static", 1, -4)},
}


def _activation_from_file(function: str) -> Any:
    def make(name: str, fields: dict, rank: int) -> Activation:
        values = dict(fields)
        if "tanh" in values:
            values["approximate"] = "tanh" if values.pop("tanh") else "none"
        return Activation(name, function, canonical(function, values))

    return make


_ACTIVATION_TYPES = tuple(ArchType(function, _ACTIVATION_FIELDS.get(function, {}), _activation_from_file(function),
                                   "act") for function in FUNCTIONS)
_DROPOUT_TYPES = tuple(ArchType(variant, {"p": Field("prob", 0.5)},
                                (lambda v: lambda name, f, rank: Dropout(name, f["p"], v))(variant), "drop")
                       for variant in VARIANTS)


KINDS = (
    Kind(Activation, activation_shape, no_counts, fvcore=by_function("fvcore"), ptflops=by_function("ptflops"),
         free=True, archfile=_ACTIVATION_TYPES, torch_module=_activation_module, torch_call=_activation_call,
         step=activation_step,
         fx=_activation_forms()),
    Kind(PReLU, prelu_shape, prelu_counts, stateful=always, fvcore=uncounted(_NO_HANDLER.format("aten::prelu")),
         ptflops=_PRELU_PTFLOPS,
         archfile=(ArchType("prelu", {"per_channel": Field("bool", False)},
                            lambda name, f, rank: PReLU(name, f["per_channel"]), "prelu"),),
         torch_module=_prelu_module, step=prelu_step, state=lambda node, x: State(1),
         # Its expected input width (num_parameters when > 1) needs fx_units to accept "none when 1": reported.
         fx=FxForms(modules={"torch.nn.PReLU": (_prelu_from_module,
                                                 lambda m: m.num_parameters if m.num_parameters > 1 else None)})),
    Kind(Dropout, dropout_shape, no_counts, free=True, fvcore=_dropout_fvcore,
         ptflops=uncounted("no dropout module has a hook and no F.*dropout is patched"),
         archfile=_DROPOUT_TYPES, torch_module=_dropout_module, fx=_dropout_forms(), step=dropout_step),
)

__all__ = ["Activation", "Dropout", "FUNCTIONS", "Function", "KINDS", "PReLU", "VARIANTS", "activation_shape",
           "by_function", "canonical", "check_dim", "dropout_shape", "option_values"]
