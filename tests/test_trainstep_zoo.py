"""cnncost.trainstep against torch on the zoo's networks: saved-bytes, grad-bytes and FLOPs of one training step.

The oracle is ``zoo.saved_tensors.measure_step``: the distinct storages ``saved_tensors_hooks`` sees, the
parameters' ``.grad`` bytes and FlopCounterMode's total, of one forward + cross-entropy + backward of the zoo
module with the strategy applied as ``cnncost train`` applies it. Every zoo classifier is checked from scratch
at batch 2 in fp32 (meta device); the other strategies rotate over one network per family; bf16 and fp16
autocast run on the real CPU for networks covering the families; Hypothesis draws the seed network's
hyperparameters. Batch 1 is a torch refusal at 1×1 BatchNorm, which the engine must refuse too.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import zoo
from cnncost.errors import CnncostError

from .trainstep_helpers import engine_step, engine_table, flopcounter_flops, measured_step, one_torch_thread
from .zoo_helpers import one_per_family

DETECTORS = ("yolov3",)  # no class scores: a training step is refused
CLASSIFIERS = [name for name in zoo.list_models() if name not in DETECTORS]
# The suite's time budget: the smallest network of each family and the networks the docs quote run from scratch
# here; ``python -m tests.test_trainstep_zoo`` runs every classifier (all exact when the rules were written).
SAMPLED = sorted((set(one_per_family()) | {"resnet50", "vgg19", "mobilenet_v2", "scratch5"}) - set(DETECTORS))
OTHER_STRATEGIES = ("last-layer", "head", "partial:1", "partial:2")


def assert_step_agrees(name: str, strategy: str, batch: int, dtype: str, **overrides) -> None:
    """Engine and torch agree on saved-bytes, grad-bytes and FlopCounterMode's FLOPs."""
    expected = engine_step(name, strategy, batch, dtype, **overrides)
    measured = measured_step(name, strategy, batch, dtype, **overrides)
    context = f"{name} {strategy} batch {batch} {dtype} {overrides}"
    assert measured.saved_bytes == expected.saved_bytes, context
    assert measured.grad_bytes == expected.state.grads, context
    assert measured.flops == flopcounter_flops(expected), context


def rotated_strategy(index: int) -> str:
    """The non-scratch strategy the index-th network is checked with (a fixed rotation)."""
    return OTHER_STRATEGIES[index % len(OTHER_STRATEGIES)]


def accepted_strategy(name: str, index: int) -> tuple:
    """(strategy, refused): the first strategy from the rotation's choice onwards that ``name`` accepts, and the
    ones before it that the engine refused."""
    order = [rotated_strategy(index + shift) for shift in range(len(OTHER_STRATEGIES))]
    refused = []
    for strategy in order:
        try:
            engine_step(name, strategy, 2, "fp32")
        except CnncostError:
            refused.append(strategy)
            continue
        return strategy, refused
    return None, refused


# --- every classifier, from scratch, fp32 -------------------------------------------------------------------

@pytest.mark.parametrize("name", SAMPLED)
def test_scratch_step_matches_torch(name):
    assert_step_agrees(name, "scratch", 2, "fp32")


@pytest.mark.parametrize("name", DETECTORS)
def test_detector_step_refused(name):
    with pytest.raises(CnncostError, match="class scores"):
        engine_step(name, "scratch", 2, "fp32")


# --- the other strategies, one network per family ----------------------------------------------------------

@pytest.mark.parametrize("index, name", list(enumerate(one_per_family())))
def test_rotated_strategy_matches_torch(index, name):
    strategy, refused = accepted_strategy(name, index)
    assert strategy is not None, f"{name} refuses every strategy: {refused}"
    assert_step_agrees(name, strategy, 2, "fp32")


@pytest.mark.parametrize("strategy", ["head", "partial:1", "partial:2"])
def test_mlp_refuses_block_strategies(strategy):
    """mlp3 has no blocks and declares no classifier top: a one-line error, not a guess."""
    with pytest.raises(CnncostError, match="^strategy: "):
        engine_step("mlp3", strategy, 2, "fp32")


@pytest.mark.parametrize("name, strategy", [("resnet18", "scratch"), ("mobilenet_v3_small", "scratch"),
                                            ("densenet121", "partial:1"), ("squeezenet1_1", "last-layer"),
                                            ("efficientnet_b0", "head")])
def test_batch_three_matches_torch(name, strategy):
    assert_step_agrees(name, strategy, 3, "fp32")


def test_batch_one_refused_where_torch_refuses():
    """resnet18 at 32×32 reaches 1×1 before its last BatchNorms: batch 1 gives them one value per channel."""
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        measured_step("resnet18", "scratch", 1, "fp32")
    with pytest.raises(CnncostError, match="one value per channel"):
        engine_step("resnet18", "scratch", 1, "fp32")


def test_saved_bytes_are_linear_in_the_batch():
    """saved(B) = B · saved_per_sample + saved_fixed, as torch measures it at B = 2 and 3."""
    step = engine_step("mobilenet_v3_small", "scratch", 2, "fp32")
    two, three = (measured_step("mobilenet_v3_small", "scratch", batch, "fp32").saved_bytes for batch in (2, 3))
    assert three - two == step.saved_per_sample
    assert two - 2 * step.saved_per_sample == step.saved_fixed
    assert step.saved_fixed > 0  # BatchNorm's batch statistics and the loss's total weight


# --- autocast on the real CPU ------------------------------------------------------------------------------

AUTOCAST_NETWORKS = ("scratch5", "resnet18", "mobilenet_v3_small", "convnext_tiny", "densenet121",
                     "shufflenet_v2_x0_5")


@pytest.mark.parametrize("strategy", ["scratch", "partial:1"])
@pytest.mark.parametrize("name", AUTOCAST_NETWORKS)
def test_bf16_step_matches_torch(name, strategy, one_torch_thread):
    assert_step_agrees(name, strategy, 2, "bf16")


@pytest.mark.parametrize("name, overrides", [("scratch5", {"padding": "same", "h": 32, "w": 32}),
                                             ("mobilenet_v3_small", {})])
def test_fp16_step_matches_torch(name, overrides, one_torch_thread):
    assert_step_agrees(name, "scratch", 2, "fp16", **overrides)


# --- the seed network's hyperparameters ----------------------------------------------------------------------

@st.composite
def scratch5_overrides(draw) -> dict:
    """Small valid-looking scratch5 configurations (invalid ones are rejected by the builder)."""
    size = draw(st.integers(32, 64))
    return {"h": size, "w": draw(st.sampled_from([size, size + 3])), "m": draw(st.integers(1, 12)),
            "k": draw(st.integers(1, 5)), "n": draw(st.integers(1, 48)), "classes": draw(st.integers(1, 10)),
            "padding": draw(st.sampled_from(["valid", "same"])), "org": draw(st.sampled_from(["same", "double", "half"])),
            "bn": draw(st.booleans()), "dropout": draw(st.sampled_from([0.0, 0.5])),
            "activation": draw(st.sampled_from(["relu", "gelu", "silu", "mish", "elu", "tanh"])),
            "in_channels": draw(st.integers(1, 3)), "head": draw(st.sampled_from(["keep", "gap", "flatten"]))}


def buildable(overrides: dict) -> bool:
    """Whether scratch5 builds with ``overrides`` (too small an input for valid padding is refused)."""
    try:
        engine_table("scratch5", **overrides)
    except CnncostError:
        return False
    return True


@settings(max_examples=10, deadline=None)
@given(overrides=scratch5_overrides())
def test_scratch5_hyperparameters_match_torch(overrides):
    assume(buildable(overrides))
    expected = engine_step("scratch5", "scratch", 2, "fp32", **overrides)
    with one_torch_thread():
        measured = measured_step("scratch5", "scratch", 2, "fp32", device="cpu", **overrides)
    assert measured.saved_bytes == expected.saved_bytes, overrides
    assert measured.flops == flopcounter_flops(expected), overrides


def test_scratch5_even_kernel_same_padding_matches_torch():
    overrides = {"k": 4, "padding": "same", "m": 4, "n": 8}
    expected = engine_step("scratch5", "scratch", 2, "fp32", **overrides)
    measured = measured_step("scratch5", "scratch", 2, "fp32", **overrides)
    assert measured.saved_bytes == expected.saved_bytes


def test_meta_and_cpu_measure_the_same_step():
    """The fp32 checks run on the meta device: it saves exactly what the real CPU saves."""
    with torch.random.fork_rng():
        on_meta = measured_step("resnet18", "partial:1", 2, "fp32", device="meta")
        on_cpu = measured_step("resnet18", "partial:1", 2, "fp32", device="cpu")
    assert on_meta == on_cpu


@pytest.mark.parametrize("name, dtype, device", [("resnet18", "fp32", "meta"), ("convnext_tiny", "fp32", "meta"),
                                                 ("mobilenet_v3_small", "bf16", "cpu")])
def test_channels_last_saves_the_same_bytes(name, dtype, device, one_torch_thread):
    """`train --channels-last` (and the GPU benchmarks) run NHWC: autograd saves the same storages' bytes."""
    import zoo
    from cnncost import finetune
    from zoo.saved_tensors import measure_step
    from zoo.training import freeze

    expected = engine_step(name, "scratch", 2, dtype, h=64, w=64)
    network, table = engine_table(name, h=64, w=64)
    with torch.device(device):
        module = zoo.build(name, h=64, w=64)
    plan = freeze.apply_strategy(module, network, table, finetune.parse_strategy("scratch"))
    freeze.set_training_mode(module, plan)
    module = module.to(memory_format=torch.channels_last)
    images = torch.randn(2, 3, 64, 64, device=device).to(memory_format=torch.channels_last)
    measured = measure_step(module, images, torch.zeros(2, dtype=torch.long, device=device),
                            None if dtype == "fp32" else dtype)
    assert measured.saved_bytes == expected.saved_bytes


if __name__ == "__main__":  # the whole zoo from scratch, outside the suite's time budget
    for classifier in CLASSIFIERS:
        test_scratch_step_matches_torch(classifier)
        print("exact:", classifier, flush=True)
