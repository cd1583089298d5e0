"""A user's ``torch.nn.Module`` as a cnncost architecture: ``module:SPEC``.

SPEC is ``package.module:factory`` (imported with the current directory on
``sys.path``) or ``path/to/file.py:factory`` (imported from that file). The factory —
a class or a function — is called with no arguments; its module is traced with
``torch.fx`` (in eval mode: training-only branches are left out), every node is
mapped to a layer (``zoo.fx_ops``/``zoo.fx_units``) and the graph is decomposed into
sequences, residual adds and concatenations (``zoo.fx_graph``).

The result is an unregistered ``Arch`` whose only parameters are the input height
and width: widths are the module's own numbers, H and W stay symbolic in formulas.
Its default input size is the ``input_size`` attribute of the factory or of the module
((C, H, W), (H, W) or one int; ``input_shape`` is read too, as zoo modules carry it),
else 224×224; the input channels are the first convolution's. A module whose Linear
layers fix the input size is checked at every concrete size (a mismatch is an error,
not a count of some other network); formulas in H, W describe the same layers at any
size, with the Linear layers' input features following the input (as Keras' Dense).

Anything without a counting rule is listed by name and nothing is counted.
"""

from __future__ import annotations

import hashlib
import os
import traceback
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from cnncost import engine
from cnncost import layers as L
from cnncost.arch import MODULE_PREFIX, Arch, Param
from cnncost.errors import CnncostError

from .fx_load import (digest, input_size, instantiate, load_factory, parse_size, source_file, split_spec,
                      user_code)

DEFAULT_SIZE = 224
_CACHE: dict = {}  # (spec, cwd, source digest) -> Arch: one trace per process


class Converted(NamedTuple):
    """A traced module as cnncost data, independent of the input size."""

    name: str  # the factory's name
    layers: tuple  # the layer tree
    in_channels: int
    default_size: tuple  # (h, w)
    expected: dict  # leaf name -> input channels/features its module was built for

    def network(self, h: Any, w: Any) -> L.Network:
        """The description at input size h×w; concrete sizes are checked against the module's widths."""
        network = L.Network(self.name, (self.in_channels, h, w), self.layers)
        if type(h) is int and type(w) is int:
            check_widths(network, self.expected)
        return network


def arch_from_module(spec: str) -> Arch:
    """The architecture of ``package.module:factory`` or ``path/to/file.py:factory``."""
    target, factory_name = split_spec(spec)
    source = source_file(target)
    key = (spec, os.getcwd(), digest(source))
    if key not in _CACHE:
        factory = load_factory(target, factory_name)
        module = instantiate(factory, factory_name)
        converted = convert_module(module, factory_name, input_size(factory, module))
        _CACHE[key] = _arch(spec, converted, source)
    return _CACHE[key]


def _arch(spec: str, converted: Converted, source: Path | None) -> Arch:
    h, w = converted.default_size
    params = (Param("h", h, "input height in pixels", symbolic=True, meaning="input height"),
              Param("w", w, "input width in pixels", symbolic=True, meaning="input width"))
    fingerprint = hashlib.sha256(f"{spec}\n{digest(source)}\n{converted!r}".encode()).hexdigest()[:16]
    # Named MODULE_PREFIX + spec, not the factory's name: formula, sweep and plot look
    # architectures up again by Arch.name, and only this name finds this one.
    return Arch(MODULE_PREFIX + spec, converted.network, params,
                f"{converted.name}() from {source or spec}", f"user module {spec}", fingerprint=fingerprint)


def network_from_module(module: Any, name: str = "module", size: Any = None) -> L.Network:
    """The description of an ``nn.Module`` instance at ``size`` ((C, H, W), (H, W) or one int),
    by default its ``input_size``/``input_shape`` attribute, else 224×224."""
    size = parse_size(size, "size") if size is not None else input_size(module)
    converted = convert_module(module, name, size)
    return converted.network(*converted.default_size)


def convert_module(module: Any, name: str, size: tuple | None = None) -> Converted:
    """Trace ``module`` and convert it; unsupported layers and graphs raise, listed by name."""
    from . import fx_graph, fx_units

    graph = trace(module, name)
    conversion = fx_units.convert(graph, module)
    if conversion.problems:  # traced again with every node's source line, for the refusal to name them
        conversion = fx_units.convert(trace(module, name, stacks=True), module)
        raise CnncostError(f"cannot convert {name}(): " + "; ".join(conversion.problems))
    try:
        tree = fx_graph.decompose(conversion)
        if _uncovered(module, [leaf.name for leaf in L.leaves(tree)]):
            attached = auxiliary_heads(module, name, graph)
            if attached:
                tree = fx_graph.decompose(conversion, attached)
    except CnncostError as error:
        raise CnncostError(f"cannot convert {name}(): {error}") from None
    _check_coverage(module, name, [leaf.name for leaf in L.leaves(tree)])
    channels = size[0] if size and size[0] else _first_channels(tree, conversion.expected, name)
    hw = tuple(size[1:]) if size else (DEFAULT_SIZE, DEFAULT_SIZE)
    return Converted(name, tree, channels, hw, conversion.expected)


def trace(module: Any, name: str, mode: str = "eval", stacks: bool = False):
    """The module's fx graph (in eval mode unless ``mode`` is "training", the module then left in
    training mode for the caller to restore); modules cnncost has a rule for stay leaves. With
    ``stacks`` every node records the source line that made it (slow: most of a trace's time), else
    only the calls whose form is told by their caller (F.interpolate inside F.upsample)."""
    from .fx_ops import PATCHED_FUNCTIONS
    import torch.fx

    from .fx_ops import module_rule

    class Tracer(torch.fx.Tracer):
        """fx's tracer, with every module cnncost has a rule for kept whole."""

        record_stack_traces = stacks  # fx's own record: every node, for a refusal's source lines

        def create_node(self, kind, target, args, kwargs, name=None, type_expr=None):
            """fx's node; a call whose form is told by its source line records the stack itself: Python's
            traceback is enough there, and fx's own recorder imports torch._dynamo (seconds) on first use."""
            node = super().create_node(kind, target, args, kwargs, name, type_expr)
            if not stacks and target in PATCHED_FUNCTIONS:
                node.stack_trace = "".join(traceback.format_list(traceback.extract_stack()))
            return node

        def is_leaf_module(self, m, qualified_name: str) -> bool:
            """True for supported layers (subclasses included) and fx's own leaves; a module created
            inside forward (``nn.ReLU()(x)``) is traced through."""
            if qualified_name.startswith(_UNREGISTERED):
                return False
            # A subclass of a supported layer that keeps its forward is that layer.
            return module_rule(m) is not None or super().is_leaf_module(m, qualified_name)

        def path_of_module(self, mod) -> str:
            """Its path; a parameter-free module made inside forward gets none and is traced through:
            what it computes is what its forward calls, as the tools see it (ptflops hooks only the
            modules the model holds; its patched functions still count)."""
            try:
                return super().path_of_module(mod)
            except NameError:
                if any(True for _ in mod.parameters()) or any(True for _ in mod.buffers()):
                    raise _Unregistered(type(mod).__name__) from None
                return _UNREGISTERED + type(mod).__name__

    if mode == "eval":
        module.eval()
    try:
        return _trace(module, name, Tracer)
    except _Unregistered as made:
        raise CnncostError(f"cannot convert {name}(): a {made} with parameters or buffers is created inside "
                           "forward: its weights are not the module's (new ones at every call); create it in "
                           "__init__") from None


_UNREGISTERED = "<made in forward>"


class _Unregistered(CnncostError):
    """A module holding weights created inside forward (the message is its type)."""


def _trace(module: Any, name: str, Tracer: type) -> Any:
    # The module's forward is the user's code: data-dependent control flow, unsupported Python, sys.exit ...
    with user_code("traced", f"torch.fx cannot trace {name}()"):
        try:
            with _user_functions_traced_through():
                return Tracer().trace(module)
        except (KeyboardInterrupt, SystemExit, _Unregistered):
            raise
        except BaseException:  # noqa: BLE001 (a wrapped function fx cannot see into: keep it whole, named)
            return Tracer().trace(module)


@contextmanager
def _user_functions_traced_through():
    """Trace into the user's ``torch.fx.wrap``-ped functions instead of recording them as opaque calls.

    torchvision wraps ``stochastic_depth``, which in eval mode returns its input: traced through, it
    vanishes, as it does at run time; recorded whole, it is a call nothing can count. fx keeps its wrap
    list in a private table (torch/fx/_symbolic_trace.py ``_wrapped_fns_to_patch``); functions defined
    in torch itself stay wrapped. If the table is not there, nothing changes."""
    import torch.fx._symbolic_trace as fx_trace

    table = getattr(fx_trace, "_wrapped_fns_to_patch", None)
    if not isinstance(table, dict):
        yield
        return
    saved = dict(table)
    for key, frame in saved.items():
        if not str(frame.get("__name__", "")).startswith("torch"):
            del table[key]
    try:
        yield
    finally:
        table.clear()
        table.update(saved)


def _uncovered(module: Any, emitted: list) -> dict:
    """``owner (type)`` of every parameter and buffer no layer of the tree holds (a module's leaf, or
    the held tensor of a ``Scale``)."""
    used = set(emitted)
    missing: dict = {}
    for path, _ in list(module.named_parameters()) + list(module.named_buffers()):
        owners = [path] + [path.rsplit(".", i)[0] for i in range(1, path.count(".") + 1)]
        if not any(owner in used for owner in owners):
            owner = path.rpartition(".")[0]
            kind = type(module.get_submodule(owner)).__name__ if owner else type(module).__name__
            missing.setdefault(f"{owner or path} ({kind})", None)
    return missing


def auxiliary_heads(module: Any, name: str, eval_graph: Any) -> dict:
    """Training-only heads (GoogLeNet's aux1/aux2, Inception3's AuxLogits): eval node -> ``L.Auxiliary``s.

    The eval trace leaves them out. Traced in training mode, forward returns them beside the logits;
    each head is the chain from the tensor it reads on the main path (an ancestor of the logits) to
    its output, placed in the description right after the eval node of the same name, as the zoo's
    own GoogLeNet and Inception3 place theirs: parameters counted, no inference cost."""
    from . import fx_graph, fx_units

    module.train()
    try:
        graph = trace(module, name, mode="training")
    finally:
        module.eval()
    conversion = fx_units.convert(graph, module)
    if len(conversion.outputs) < 2:
        return {}
    main = _ancestors(conversion, conversion.outputs[0])
    by_name = {node.name: node for node in eval_graph.nodes}
    attached: dict = {}
    for i, output in enumerate(conversion.outputs[1:], 1):
        fork, head = _head(conversion, main, output)
        twin = by_name.get(fork.name) if fork is not None else None
        # The eval node of the same name must be the same call (fx numbers generated names in trace
        # order, so a name alone could point elsewhere if training mode traced other calls first).
        if twin is None or (twin.op, twin.target) != (fork.op, fork.target) or any(
                conversion.units[n].kind not in fx_graph.FLOWING for n in head):
            return {}  # not a head that can be placed: the uncovered layers are reported as before
        layers = fx_graph.branch(conversion, fork, output)
        names = [leaf.name for leaf in L.leaves(layers)]
        prefix = os.path.commonprefix([n.split(".")[0] for n in names]) if names else ""
        attached.setdefault(twin, []).append(L.Auxiliary(prefix or f"aux{i}", layers))
    return attached


def _ancestors(conversion: Any, node: Any) -> set:
    seen, stack = set(), [node]
    while stack:
        n = stack.pop()
        if n not in seen:
            seen.add(n)
            stack.extend(conversion.units[n].inputs)
    return seen


def _head(conversion: Any, main: set, output: Any) -> tuple:
    """(the main-path node the head reads, the head's own nodes); (None, ...) if it reads several."""
    head, forks, stack = set(), set(), [output]
    while stack:
        n = stack.pop()
        if n in main:
            forks.add(n)
        elif n not in head:
            head.add(n)
            stack.extend(conversion.units[n].inputs)
    return (forks.pop() if len(forks) == 1 else None), head


def _check_coverage(module: Any, name: str, emitted: list) -> None:
    """Every parameter and buffer must belong to a layer of the tree, or it would go uncounted."""
    missing = _uncovered(module, emitted)
    if missing:
        raise CnncostError(f"cannot convert {name}(): layers with parameters or buffers take no part in "
                           f"computing the output, so they would go uncounted: {', '.join(missing)}")


def _first_channels(tree: tuple, expected: dict, name: str) -> int:
    """Input channels: what the first convolution (or BatchNorm2d) was built for."""

    for leaf in L.leaves(tree):
        if isinstance(leaf, (L.Conv2d, L.BatchNorm2d)):
            return expected[leaf.name]
    raise CnncostError(f"cannot tell the input channels of {name}() (no convolution); give them as "
                       "input_size = (C, H, W) on the factory or the module")


def check_widths(network: L.Network, expected: dict) -> None:
    """At a concrete size, every layer gets the channels/features its module was built for."""
    table = engine.analyze(network)
    for row in table.layers:
        want = expected.get(row.name)
        # A Linear maps the last dim (flat features, or channels-last); the other layers read dim 0.
        have = row.input_shape[-1] if row.type == "Linear" else row.input_shape[0]
        if want is not None and have != want:
            unit = "features" if row.type == "Linear" or len(row.input_shape) == 1 else "channels"
            size = "×".join(str(d) for d in network.input_shape)
            raise CnncostError(f"{row.name} ({row.type}) was built for {want:,} input {unit}, but a {size} input "
                               f"gives it {have:,}: the module fixes its input size; give the size "
                               "it was written for (--h/--w, or input_size = (C, H, W) on the factory)")
