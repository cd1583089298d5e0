"""What fvcore and ptflops report, layer by layer: how each tool counts, and the rule factories.

Each layer kind carries its own rule for each tool (``Kind.fvcore``, ``Kind.ptflops`` in
``cnncost.kinds``); a rule is a small pure function ``(node, x, y) -> count`` of the layer
and its input and output shapes (ints, or sympy expressions on the symbolic path). This
module holds the factories those rules are made with, the lookup, and ``residual_counts``
for residual adds (the engine counts merges of every op with
``cnncost.kinds.arithmetic.merge_ptflops``). A kind without a rule, or an activation function or call form a
rule does not know, is an error, never a silent zero; where a tool really counts 0, the
rule says so with an ``uncounted`` rule naming the reason. The summary below is what the
rules implement, tool by tool.

fvcore 0.1.5 — ``FlopCountAnalysis(model.eval(), x).total()``, batch 1, default handlers
(fvcore/nn/flop_count.py:26-44; "one fused multiply-add as one flop"):
  Conv2d          outputs · Cin/g · kh · kw, bias ignored (jit_handles.py:127-171); another
                  padding_mode adds aten::pad (no handler, 0) before the same convolution
  ConvTranspose2d input elements · Cout/g · kh · kw, bias ignored (aten::_convolution, transposed)
  Linear          prod(input dims) · out, bias ignored (aten::linear, jit_handles.py:99-110)
  BatchNorm       eval with running stats: elements · (2 if affine else 1);
                  without running stats torch runs it in training mode even in eval,
                  and fvcore counts elements · (5 if affine else 4) (jit_handles.py:230-258)
  GroupNorm, LayerNorm, InstanceNorm2d  input elements · (5 if the op gets a weight else 4), in any
                  mode and call form (norm_flop_counter, flop_count.py:37-39, jit_handles.py:230-248);
                  LayerNorm(bias=False) still has a weight, so 5
  AdaptiveAvgPool2d  input elements (elementwise_flop_counter(1, 0), flop_count.py:42)
  Upsample        by mode (flop_count.py:40-42): nearest output elements, bilinear 4 · output
                  elements, area input elements (aten::adaptive_avg_pool2d), bicubic and
                  nearest-exact 0 (no handler)
  0, no handler ("unsupported"): MaxPool2d, AvgPool2d, AdaptiveMaxPool2d, GlobalPool
     (aten::mean/amax/sum), padding in every mode (aten::pad), PixelShuffle/PixelUnshuffle,
     ChannelShuffle (aten::channel_shuffle), PReLU and every activation but ReLU (hardtanh,
     hardswish, gelu, softmax, ...), the dropout variants tracing to aten::feature_dropout,
     alpha_dropout, feature_alpha_dropout, and all elementwise arithmetic: Scale and every
     merge (aten::add/sub/mul/div).
  0, in _IGNORED_OPS (jit_analysis.py:28-87): ReLU, Dropout, Flatten, Permute, ChannelSlice
     (aten::chunk), torch.cat, and the view/transpose/contiguous steps of a channel shuffle idiom.
  How a layer is written does not matter to fvcore: it traces aten ops, and nn.ReLU, F.relu,
  torch.relu and x.relu() all become aten::relu (likewise pools, norms and adds).
  Known bug: convolutions built with padding="same"/"valid" trace as
  aten::_convolution_mode, which fvcore 0.1.5 has no handler for, so fvcore alone
  counts them 0. This convention counts them like every other convolution, i.e.
  it matches fvcore *with* the handler ``zoo.oracles.fvcore_analysis`` registers.

ptflops 0.7.5 — ``get_model_complexity_info(model, input_res, backend='pytorch',
as_strings=False)[0]``: forward hooks on modules of exactly the mapped types
(ptflops/pytorch_ops.py:271-324) plus, while the model runs, wrappers around some
torch.nn.functional functions and tensor ops (pytorch_engine.py:348-456) whose
counts are added on top (pytorch_engine.py:69-71):
  Conv2d          kh·kw · Cin · Cout/g per output position, + output elements for a bias
                  (pytorch_ops.py:60-92; equals fvcore's conv + bias adds); every padding_mode alike
  ConvTranspose2d kh·kw · Cin · Cout/g per INPUT position, + output elements for a bias
                  (the same hook with transpose=True, mapped at pytorch_ops.py:311)
  Linear          (in · out + out for a bias) at each position of the leading dims
                  (pytorch_ops.py:35-43; its F.linear patch is commented out, pytorch_engine.py:349)
  BatchNorm       input elements · (2 if affine else 1), in any mode (pytorch_ops.py:51-57)
  GroupNorm, InstanceNorm2d  the same hook: input elements · (2 if affine else 1)
  LayerNorm       the same hook, never doubled: nn.LayerNorm has elementwise_affine, no ``affine``
  Call forms: a module of exactly a mapped type gets the hook, and the patched F.* it
  calls inside its forward counts again; a patched F.* called directly counts once; a
  subclass of a mapped module (no hook: the type check is exact, pytorch_engine.py:311-314)
  counts only the F.* inside it; torch.relu, x.relu(), F.relu_ are not patched (0).
  Nodes record their form in ``call`` ("module", "subclass", "function", "torch", "method";
  Upsample adds "upsample", ChannelShuffle "view", Scale and merges "operator" and "method_").
  ReLU, ELU, GELU    module 2 · elements (hook, pytorch_ops.py:30-32, + patched F.relu/F.elu/
                  F.gelu, pytorch_engine.py:350-354); F.relu/F.elu/F.gelu and subclasses 1 ·
                  elements; torch.relu, x.relu(), F.relu_ 0
  PReLU           module 2 · elements (hook + patched F.prelu); a subclass 1 ·
  ReLU6           elements: module hook only (nn.ReLU6 is a Hardtanh and calls the unpatched
                  F.hardtanh); F.relu6 is patched, also elements; a subclass 0
  LeakyReLU       module: elements (hook only, F.leaky_relu unpatched); a subclass or F.* 0
  SiLU, Softmax   elements: no module hook, but the patched F.silu/F.softmax counts in the module,
                  a subclass and F.* (pytorch_engine.py:381-390); torch.softmax, x.softmax() 0
  every other activation (Mish, Tanh, Sigmoid, Hardswish, Hardsigmoid, Hardtanh, CELU, SELU,
                  Softplus, LogSigmoid, Softsign, Tanhshrink, LogSoftmax)  0 in every form
  BatchNorm, norms, Conv2d, ConvTranspose2d, Linear: counted by their hooks only (their F.* unpatched)
  MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, AdaptiveMaxPool2d  module 2 · input elements: hook
                  (pytorch_ops.py:46-48) and patched F.max_pool2d/... (pytorch_engine.py:356-379);
                  F.* or a subclass 1 ·
  Upsample        output elements · 2 for nn.Upsample (hook + patched F.interpolate) and for the
                  deprecated F.upsample (patched, and calls the patched F.interpolate), · 1 for
                  F.interpolate and the Upsampling*2d subclasses; mode area adds input elements
                  (the patched F.adaptive_avg_pool2d inside)
  0: every dropout variant, Flatten, padding in every mode (no padding module hooked, F.pad not
     patched), PixelShuffle/PixelUnshuffle, ChannelShuffle (every form), GlobalPool
     (Tensor.mean/amax/sum and torch.* unpatched), Permute, ChannelSlice (chunk), torch.cat.
  Elementwise arithmetic, Scale (x op a number or a held tensor) and merges (``Residual.op``):
     only torch.add, torch.mul, Tensor.add and Tensor.mul are patched (pytorch_engine.py:451-456,
     _elementwise_tensor_flops_hook, pytorch_ops.py:397-419): with a number the tensor's elements;
     of two tensors the product of the per-dim maxima, dims aligned from the LEFT (not as torch
     broadcasts). ``a + b``, ``a += b``, ``a * b``, ``a.add_(b)``, sub and div in every form: 0.
     fvcore counts no form.

Neither tool counts concatenations; fvcore counts no merge, and ptflops only the patched forms
above, which the engine carries beside the layer rows (``engine.CostTable.merges``, from
``cnncost.kinds.arithmetic.merge_ptflops``). Auxiliary heads do not run in eval,
so ``CostTable.total`` leaves their rows out, as for every compute quantity.
"""

from __future__ import annotations

from typing import Any, Callable

from .arith import product
from .errors import CnncostError

ToolRule = Callable[[Any, tuple, tuple], Any]  # (node, input shape, output shape) -> count
TOOLS = ("fvcore", "ptflops")


# --- factories for rule families -------------------------------------------

def uncounted(why: str) -> ToolRule:
    """A layer the tool itself counts 0 for, on purpose or not; ``why`` says where."""

    def rule(node: Any, x: tuple, y: tuple) -> Any:
        return 0

    rule.__doc__ = f"0: {why}"
    return rule


def input_elements(scale: int, why: str) -> ToolRule:
    """``scale`` × elements of the layer's input."""

    def rule(node: Any, x: tuple, y: tuple) -> Any:
        return scale * product(x)

    rule.__doc__ = f"{scale} × input elements: {why}"
    return rule


def output_elements(scale: int, why: str) -> ToolRule:
    """``scale`` × elements of the layer's output."""

    def rule(node: Any, x: tuple, y: tuple) -> Any:
        return scale * product(y)

    rule.__doc__ = f"{scale} × output elements: {why}"
    return rule


def by_call(tool: str, table: dict) -> ToolRule:
    """A rule chosen by how the layer was written (its ``call`` field); unknown forms raise."""

    def rule(node: Any, x: tuple, y: tuple) -> Any:
        if node.call == "bound":  # F.relu taken before ptflops patched it: ptflops never sees the call
            return 0 if tool == "ptflops" else table["function"](node, x, y)
        if node.call not in table:
            raise CnncostError(f"{node.name}: the {tool} convention has no rule for {type(node).__name__} "
                               f"written as {node.call!r} (known: {', '.join(table)})")
        return table[node.call](node, x, y)

    rule.__doc__ = "; ".join(f"{call}: {r.__doc__}" for call, r in table.items())
    return rule


_UNPATCHED = "{} is not patched"


def hooked_and_patched(function: str, *unpatched: tuple) -> ToolRule:
    """ptflops: nn module hook + the patched F.<function> in its forward; F.<function> or a subclass
    once; each (call form, what) in ``unpatched`` counts 0."""
    return by_call("ptflops", {
        "module": output_elements(2, f"module hook and the patched F.{function} in its forward both count"),
        "subclass": output_elements(1, f"no hook (exact-type check); the patched F.{function} inside counts"),
        "function": input_elements(1, f"patched F.{function} counts once"),
        **{call: uncounted(_UNPATCHED.format(what)) for call, what in unpatched},
    })


def nowhere(function: str) -> ToolRule:
    """ptflops: counted in no form: no module hook, and neither F.* nor torch.* nor the method is patched."""
    why = f"{function}: no module hook and no patched function"
    return by_call("ptflops", {call: uncounted(why)
                               for call in ("module", "subclass", "function", "torch", "method")})


def registry(tool: str) -> dict:
    """Layer type -> ``tool``'s rule, for every kind."""
    from .kinds import KINDS

    return {node: getattr(kind, tool) for node, kind in KINDS.items()}


def tool_count(tool: str, node: Any, x: tuple, y: tuple) -> Any:
    """What ``tool`` counts for one leaf layer; a layer type without a kind raises."""
    from .kinds import kind_for

    return getattr(kind_for(node), tool)(node, x, y)


_ADD_UNCOUNTED = uncounted("fvcore: aten::add/add_ have no handler; ptflops: Tensor.__add__ and add_ "
                           "are not patched")
_ADD_PATCHED = output_elements(1, "patched torch.add/Tensor.add: _elementwise_tensor_flops_hook, "
                                  "the broadcast output's elements")

# How each tool counts a residual add, by how it was written (Residual.call).
RESIDUAL_ADDS: dict[str, dict] = {
    "fvcore": {call: _ADD_UNCOUNTED for call in ("operator", "torch", "method", "method_")},
    "ptflops": {"operator": _ADD_UNCOUNTED, "method_": _ADD_UNCOUNTED, "torch": _ADD_PATCHED,
                "method": _ADD_PATCHED},
}


def residual_counts(node: Any, y: tuple) -> tuple:
    """(fvcore, ptflops) counts of a residual's add itself, its output shape ``y``; unknown forms raise."""
    found = []
    for tool in TOOLS:
        rule = RESIDUAL_ADDS[tool].get(node.call)
        if rule is None:
            raise CnncostError(f"{node.name}: the {tool} convention has no rule for a residual add written "
                               f"as {node.call!r} (known: {', '.join(RESIDUAL_ADDS[tool])})")
        found.append(rule(node, y, y))
    return tuple(found)


def counts(node: Any, x: tuple, y: tuple) -> tuple:
    """(fvcore, ptflops) counts of one leaf layer, in ``TOOLS`` order."""
    from .kinds import kind_for

    kind = kind_for(node)
    return kind.fvcore(node, x, y), kind.ptflops(node, x, y)
