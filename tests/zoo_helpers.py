"""Shared helpers for the zoo tests: build an architecture both ways at a given size."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from cnncost import archs, engine

DATA = Path(__file__).parent / "data"
MANIFEST = DATA / "torchvision_state_dicts.json"  # the classic 18, googlenet_aux among them
CNN_MANIFEST = DATA / "torchvision_cnn_manifest.json"  # every torchvision classification CNN


@lru_cache(maxsize=None)
def manifest() -> dict:
    """torchvision's state_dict keys and shapes per model, with ``num_params`` (both files copied
    from shared/reference; every model of the full manifest, plus googlenet_aux from the first)."""
    models = {name: {**entry, "num_params": entry["num_params_published"]}
              for name, entry in json.loads(CNN_MANIFEST.read_text()).items()}
    return {**models, **json.loads(MANIFEST.read_text())}


def config(name: str, **overrides) -> dict:
    """Validated builder keywords for ``name`` with overrides."""
    spec = archs.get(name)
    return archs.resolve(spec, overrides)


def network(name: str, **overrides):
    """The engine description of ``name``."""
    return archs.get(name).build(**config(name, **overrides))


def small_size(name: str, **overrides) -> int:
    """A small valid square input size for fast tests: the minimum, at least 32."""
    net = network(name, **overrides)
    if len(net.input_shape) != 3:
        return 0
    h, w = engine.min_input_size(net)
    multiple = archs.get(name).param("h").multiple
    return -(-max(h, w, 32) // multiple) * multiple  # sizes some networks need as multiples (YOLOv3: 32)


def fast_build(name: str, **cfg):
    """The zoo module with parameters allocated but not initialised: counts ignore values,
    and initialising VGG's 10⁸ weights would take most of a test's time."""
    import torch

    import zoo

    with torch.device("meta"):
        module = zoo.build(name, **cfg)
    return module.to_empty(device="cpu")


def meta_build(name: str, **cfg):
    """The zoo module on the meta device, in eval mode: shapes, numel and FlopCounterMode need no weights."""
    import torch

    import zoo

    with torch.device("meta"):
        return zoo.build(name, **cfg).eval()


def numel(module) -> int:
    """Parameters as torch counts them."""
    return sum(p.numel() for p in module.parameters())


def state_shapes(module) -> dict:
    """state_dict key -> shape list, as the manifests store them (in the module's order)."""
    return {k: list(v.shape) for k, v in module.state_dict().items()}


def flop_counter_macs(module, h: int, w: int, channels: int = 3) -> int:
    """FlopCounterMode's total for one eval forward of a 1×C×h×w input on the module's device, halved
    (2 FLOPs per multiply-accumulate)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    device = next(module.parameters()).device
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module.eval()(torch.empty(1, channels, h, w, device=device))
    flops = counter.get_total_flops()
    assert flops % 2 == 0
    return flops // 2


def meta_counts(module, input_shape: tuple) -> tuple:
    """(each leaf module's output shape, MACs = FlopCounterMode's total / 2) of one eval forward on
    the meta device — torch's own shapes and counts, without computing a single value."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    shapes: dict = {}

    def recorder(name):
        def record(_module, _inputs, output):
            shapes[name] = tuple(output.shape[1:])
        return record

    hooks = [m.register_forward_hook(recorder(name)) for name, m in module.named_modules() if not list(m.children())]
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            module.eval()(torch.zeros(1, *input_shape, device="meta"))
    finally:
        for hook in hooks:
            hook.remove()
    return shapes, counter.get_total_flops() // 2


def on_meta(factory, *args, **kwargs):
    """A reference module built by ``factory`` on the meta device (shapes only), in eval mode."""
    import torch

    with torch.device("meta"):
        return factory(*args, **kwargs).eval()


def measured(module, h: int, w: int) -> tuple:
    """(parameters, MACs) of ``module`` by torch: numel, and FlopCounterMode of one forward halved."""
    return numel(module), flop_counter_macs(module, h, w)


def engine_counts(name: str, **config) -> tuple:
    """(parameters, MACs) as cnncost counts them."""
    import cnncost

    table = cnncost.count(name, **config)
    return table.total("params"), table.total("macs")


@lru_cache(maxsize=None)
def one_per_family() -> tuple:
    """The smallest network (fewest MACs at its smallest size) of each family file: the sample the
    costlier per-network checks (fvcore and ptflops per layer, random CLI formulas) run on."""
    import cnncost
    from cnncost.archs.registry import family

    best: dict = {}
    for name in archs.names():
        spec = archs.get(name)
        cfg = config(name) if spec.param("h") is None else config(name, h=small_size(name), w=small_size(name))
        macs = cnncost.count(name, **cfg).total("macs")
        key = family(spec)
        if key not in best or macs < best[key][0]:
            best[key] = (macs, name)
    return tuple(sorted(name for _, name in best.values()))


def _node_kinds(nodes) -> frozenset:
    """(node type, activation function, grouped or not) of every node of a description, composites included:
    what decides which counting rules and which torch modules a network exercises (widths and depths only
    change the numbers)."""
    from cnncost.walk import children

    found = set()
    for node in nodes:
        groups = getattr(node, "groups", None)
        found.add((type(node).__name__, getattr(node, "function", None), None if groups is None else groups > 1))
        for part in children(node):
            found |= _node_kinds(part)
    return frozenset(found)


def smallest_cost(name: str) -> int:
    """The network's MACs at its smallest size (default size where it has none): how costly a check of it is."""
    import cnncost

    spec = archs.get(name)
    cfg = config(name) if spec.param("h") is None else config(name, h=small_size(name), w=small_size(name))
    return cnncost.count(name, **cfg).total("macs")


@lru_cache(maxsize=None)
def covering_sample() -> tuple:
    """Per family file, the cheapest network, then each cheaper-first network that brings a node kind (type,
    activation, grouped convolution) none before it in the family has: every family and every kind of layer a
    family uses, at the fewest MACs. The suite runs its costliest whole-zoo checks on this sample; the full runs
    (``python -m tests.test_zoo_registry``, ``python -m tests.test_tool_conventions``) run every network."""
    from cnncost.archs.registry import family

    members: dict = {}
    for name in archs.names():
        members.setdefault(family(archs.get(name)), []).append((smallest_cost(name), name))
    chosen = []
    for _, ranked in sorted(members.items()):
        covered: frozenset = frozenset()
        for _, name in sorted(ranked):
            kinds = _node_kinds(network(name).layers)
            if not covered or not kinds <= covered:
                chosen.append(name)
                covered |= kinds
    return tuple(sorted(chosen))
