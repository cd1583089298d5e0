"""Every layer kind's ``step`` rule against torch: the storages autograd saves in one-layer networks' forwards.

The nodes and input shapes are the kinds' oracle cases (``CASES`` of tests/test_tool_conventions.py and every
tests/test_kinds_*.py, gathered as tests/test_kinds_complete.py gathers them). Each runs three ways, each in
fp32 and under CPU bf16 autocast, measured with ``zoo.saved_tensors.saved_storages`` around the forward (what
autograd saves is recorded there) and compared with ``analyze_step(..., loss=False).saved_bytes``:

* alone: the input requires grad, the layer's parameters train; a layer with state runs in training mode,
  a stateless one in eval mode (no trainable layer has run yet: ``zoo.training.freeze``'s frozen prefix);
* after a trainable layer (a 1×1 conv or a Linear of the same width): every layer in training mode, the
  layer's input requiring grad because the layer before trains (dropout masks, batch statistics);
* frozen before a classifier (``last-layer``): the layer's parameters frozen and in eval mode, its input
  requiring grad (layers with state only: a stateless layer is the same alone).

A configuration the engine does not model (a conv's non-zeros padding_mode, circular padding, InstanceNorm
under autocast) must be refused with a one-line CnncostError; where torch itself refuses the forward, the
engine must refuse too.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import torch

import zoo
from cnncost import engine, finetune
from cnncost import layers as L
from cnncost.errors import CnncostError
from cnncost.kinds import kind_for
from cnncost.trainstep import analyze_step, parse_step
from zoo.saved_tensors import saved_storages
from zoo.training import freeze

BATCH = 2
AUTOCAST = {"fp32": None, "bf16": torch.bfloat16}


def _all_cases() -> list:
    """(node, shape) of every kind family's oracle cases."""
    here = Path(__file__).parent
    names = ["tests.test_tool_conventions"] + [f"tests.{p.stem}" for p in sorted(here.glob("test_kinds_*.py"))
                                               if p.stem != "test_kinds_complete"]
    return [case for name in names for case in importlib.import_module(name).CASES]


CASES = _all_cases()
INDEXED = [(index, node, shape) for index, (node, shape) in enumerate(CASES)]


def not_modelled(node) -> bool:
    """Configurations whose saved tensors cnncost refuses to give in every precision."""
    return ((isinstance(node, L.Conv2d) and node.padding_mode != "zeros")
            or (isinstance(node, L.ZeroPad2d) and node.mode == "circular"))


def refused(node, dtype: str) -> bool:
    """Whether the engine must refuse ``node``'s step in ``dtype``."""
    return not_modelled(node) or (dtype != "fp32" and isinstance(node, L.InstanceNorm2d))


def stateful(node) -> bool:
    """The node has parameters or buffers (a strategy trains it)."""
    return kind_for(node).stateful(node)


def case_id(index: int, node, shape: tuple) -> str:
    return f"{index}-{type(node).__name__}-{'x'.join(map(str, shape))}"


def params(variant: str, cases: list) -> list:
    """pytest params (node, shape, dtype) of ``cases`` ((index, node, shape) each) for ``variant`` in every
    dtype."""
    found = []
    for dtype in AUTOCAST:
        for index, node, shape in cases:
            found.append(pytest.param(node, shape, dtype, id=f"{case_id(index, node, shape)}-{dtype}"))
    return found


def engine_saved(network: L.Network, strategy: str, dtype: str, input_grad: bool) -> tuple:
    """(saved-bytes of the forward of ``network`` at BATCH, the step's rows)."""
    step = analyze_step(engine.analyze(network), parse_step(strategy, BATCH, "sgd", dtype, "cpu"),
                        input_grad=input_grad, loss=False)
    return step.saved_bytes, step.layers


def torch_saved(module: torch.nn.Module, shape: tuple, dtype: str, input_grad: bool) -> int:
    """Bytes of the distinct storages autograd saves in one forward of ``module`` (model state excluded)."""
    x = torch.randn(BATCH, *shape, requires_grad=input_grad)
    with saved_storages(module) as found, torch.autocast("cpu", dtype=AUTOCAST[dtype] or torch.bfloat16,
                                                         enabled=AUTOCAST[dtype] is not None):
        module(x)
    return sum(found.values())


def prepared(network: L.Network, strategy: str) -> torch.nn.Module:
    """``network``'s module with the strategy's requires_grad and modes, as ``cnncost train`` sets them."""
    module = zoo.to_module(network)
    plan = freeze.apply_strategy(module, network, engine.analyze(network), finetune.parse_strategy(strategy))
    freeze.set_training_mode(module, plan)
    return module


def assert_agrees(network: L.Network, module: torch.nn.Module, strategy: str, dtype: str, input_grad: bool) -> list:
    """The engine's saved-bytes equal torch's, or the engine refuses where torch does; the step's rows returned
    (none after a refusal)."""
    try:
        measured = torch_saved(module, network.input_shape, dtype, input_grad)
    except (ValueError, RuntimeError) :
        with pytest.raises(CnncostError):
            engine_saved(network, strategy, dtype, input_grad)
        return []
    expected, rows = engine_saved(network, strategy, dtype, input_grad)
    assert measured == expected, (network.layers, dtype)
    return rows


def assert_refused(network: L.Network, strategy: str, dtype: str, input_grad: bool) -> None:
    with pytest.raises(CnncostError, match="not modelled"):
        engine_saved(network, strategy, dtype, input_grad)


# --- alone ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("node, shape, dtype", params("alone", INDEXED))
def test_layer_alone(node, shape, dtype):
    network = L.Network("t", tuple(shape), (node,))
    if refused(node, dtype):
        assert_refused(network, "scratch", dtype, True)
        return
    training = stateful(node)  # scratch trains it; a stateless layer with nothing trained before is in eval
    module = zoo.to_module(network).train(training)
    for parameter in module.parameters():
        parameter.requires_grad_(True)
    rows = assert_agrees(network, module, "scratch", dtype, True)
    if rows:
        assert rows[0].training == training and rows[0].in_graph


# --- after a trainable layer: training mode ------------------------------------------------------------------

def widening_layer(shape: tuple):
    """A trainable layer keeping ``shape``: a 1×1 conv on C×H×W, a Linear on a flat input; None otherwise."""
    if len(shape) == 3:
        return L.Conv2d("pre_layer", shape[0], 1)
    if len(shape) == 1:
        return L.Linear("pre_layer", shape[0])
    return None


@pytest.mark.parametrize("node, shape, dtype", params("after", INDEXED))
def test_layer_after_a_trainable_layer(node, shape, dtype):
    network = L.Network("t", tuple(shape), (widening_layer(shape), node))
    if refused(node, dtype):
        assert_refused(network, "scratch", dtype, False)
        return
    rows = assert_agrees(network, prepared(network, "scratch"), "scratch", dtype, False)
    assert all(row.training for row in rows)


# --- frozen, before a trained classifier ---------------------------------------------------------------------

def classifier_after(node, shape: tuple):
    """A classifier on ``node``'s output: a 1×1 conv on C×H×W, a Linear on a flat output; None otherwise."""
    out = engine.analyze(L.Network("t", tuple(shape), (node,))).layers[0].output_shape
    if len(out) == 3:
        return L.Conv2d("cls_layer", 2, 1)
    if len(out) == 1:
        return L.Linear("cls_layer", 2)
    return None


STATEFUL_CASES = [(index, node, shape) for index, node, shape in INDEXED if stateful(node)]


def frozen_before_classifier(network: L.Network) -> torch.nn.Module:
    """The module of (layer, classifier) under last-layer: the layer frozen in eval mode, the classifier training.
    Set by hand: freeze.apply_strategy freezes a leaf's own parameters only (see test_freeze_reaches_wrapped_parameters)."""
    module = zoo.to_module(network)
    layer, classifier = module._leaves.values()
    layer.requires_grad_(False).eval()
    classifier.requires_grad_(True).train()
    return module


@pytest.mark.parametrize("node, shape, dtype", params("frozen", STATEFUL_CASES))
def test_frozen_layer_before_a_classifier(node, shape, dtype):
    network = L.Network("t", tuple(shape), (node, classifier_after(node, shape)))
    if refused(node, dtype):
        assert_refused(network, "last-layer", dtype, True)
        return
    rows = assert_agrees(network, frozen_before_classifier(network), "last-layer", dtype, True)
    if rows:
        assert not rows[0].trains and not rows[0].training


def test_every_kind_is_checked():
    """The cases cover every registered kind (the same list test_kinds_complete.py requires)."""
    from cnncost import kinds

    covered = {type(node) for node, _ in CASES}
    assert not [kind.__name__ for kind in kinds.KINDS if kind not in covered]


def test_freeze_reaches_wrapped_parameters():
    node = L.LayerNorm("ln", (3,), over_channels=True)
    network = L.Network("t", (3, 5, 7), (node, L.Conv2d("cls_layer", 2, 1)))
    module = prepared(network, "last-layer")
    assert not any(p.requires_grad for p in module._leaves["ln"].parameters())
