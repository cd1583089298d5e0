"""The keras.applications flavours (keras_xception, keras_inception_v3, keras_inception_resnet_v2,
keras_efficientnet_b0 … b7) against Keras' published figures and against their torch modules.

Published figures, each Keras' ``model.summary()`` "Total params" (trainable + non-trainable weights:
BatchNorm moving statistics and the EfficientNet input Normalization's mean, variance and count):

- with the top (``include_top=True``): the "Parameters" column of keras.io/api/applications, source
  keras-team/keras-io, templates/api/applications/index.md.
- without the top (``include_top=False``), "Total params" / "Non-trainable params" of the frozen base as
  printed by Keras in public notebooks found by exact-string search of GitHub code (e.g. Xception's
  "Trainable params: 20,806,952, Non-trainable params: 54,528" split of 20,861,480).
- the number of weight tensors, ``len(model.weights)`` of each model with its top, printed by tf.keras in
  iwillbeaprogramer/Study, keras2/keras77_All_TransferLearning.py (Xception 236, InceptionV3 378,
  InceptionResNetV2 898, EfficientNetB0 314, EfficientNetB7 1040).

Expected values are Keras' printed numbers, never cnncost's output. The torch side is independent of the
engine's arithmetic: torch numel of parameters and statistics, and FlopCounterMode on the meta device.
"""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import cnncost
import zoo
from cnncost.conventions import totals
from zoo import oracles

WITH_TOP = {  # keras-team/keras-io templates/api/applications/index.md, "Parameters"
    "keras_xception": 22_910_480,
    "keras_inception_v3": 23_851_784,
    "keras_inception_resnet_v2": 55_873_736,
    "keras_efficientnet_b0": 5_330_571,
    "keras_efficientnet_b1": 7_856_239,
    "keras_efficientnet_b2": 9_177_569,
    "keras_efficientnet_b3": 12_320_535,
    "keras_efficientnet_b4": 19_466_823,
    "keras_efficientnet_b5": 30_562_527,
    "keras_efficientnet_b6": 43_265_143,
    "keras_efficientnet_b7": 66_658_687,
}
WITHOUT_TOP = {  # Keras summaries of include_top=False bases in public notebooks (exact-string GitHub search)
    "keras_xception": 20_861_480,
    "keras_inception_v3": 21_802_784,
    "keras_inception_resnet_v2": 54_336_736,
    "keras_efficientnet_b0": 4_049_571,
}
# Keras' trainable/non-trainable split where a public summary prints it (the same notebooks).
SPLIT_WITHOUT_TOP = {"keras_xception": (20_806_952, 54_528)}
WEIGHT_TENSORS = {  # len(model.weights), iwillbeaprogramer/Study keras2/keras77_All_TransferLearning.py
    "keras_xception": 236,
    "keras_inception_v3": 378,
    "keras_inception_resnet_v2": 898,
    "keras_efficientnet_b0": 314,
    "keras_efficientnet_b7": 1040,
}
NAMES = tuple(WITH_TOP)


def meta_build(name: str, **cfg) -> torch.nn.Module:
    """The zoo module on the meta device: shapes only, nothing allocated."""
    with torch.device("meta"):
        return zoo.build(name, **cfg).eval()


def statistics(module: torch.nn.Module) -> int:
    """Stored statistics as Keras counts them: BatchNorm moving mean and variance, plus the input
    Normalization's mean, variance and count (the buffers of its module)."""
    from cnncost.kinds.preprocess import KerasNormalization

    preprocessing = sum(b.numel() for m in module.modules() if isinstance(m, KerasNormalization) for b in m.buffers())
    moving = sum(b.numel() for name, b in module.named_buffers() if name.endswith(("running_mean", "running_var")))
    return moving + preprocessing


def keras_total(module: torch.nn.Module) -> int:
    """Keras' "Total params" of a torch module: parameters (numel) + stored statistics."""
    return oracles.param_count(module) + statistics(module)


def flop_counter_macs(module: torch.nn.Module, shape: tuple) -> int:
    """FlopCounterMode's total / 2 for one eval forward of a batch of 1 (meta tensors)."""
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        module(torch.empty(1, *shape, device="meta"))
    return counter.get_total_flops() // 2


@pytest.mark.parametrize("name", NAMES)
def test_keras_total_params_with_top(name):
    assert totals(cnncost.count(name))["keras"] == WITH_TOP[name]
    assert keras_total(meta_build(name)) == WITH_TOP[name]


@pytest.mark.parametrize("name", tuple(WITHOUT_TOP))
def test_keras_total_params_without_top(name):
    table = cnncost.count(name, include_top=False)
    assert totals(table)["keras"] == WITHOUT_TOP[name]
    assert keras_total(meta_build(name, include_top=False)) == WITHOUT_TOP[name]
    assert table.network.top is None and cnncost.count(name).network.top == "avg_pool"
    if name in SPLIT_WITHOUT_TOP:
        assert (table.total("params"), table.total("buffers")) == SPLIT_WITHOUT_TOP[name]


@pytest.mark.parametrize("name", tuple(WEIGHT_TENSORS))
def test_weight_tensors_map_one_to_one_onto_keras_weights(name):
    """Each Keras weight is one state_dict entry: torch's num_batches_tracked has no Keras counterpart,
    nor has the constant per-channel Rescaling of EfficientNet's input (a buffer here, no weight in Keras)."""
    keys = [k for k in meta_build(name).state_dict() if not k.endswith("num_batches_tracked")
            and k != "rescaling_1"]
    assert len(keys) == WEIGHT_TENSORS[name]


def test_efficientnet_coefficients_scale_like_keras():
    """B0's builder with B2's coefficients (width 1.1, depth 1.2) is B2, whose Keras total is published;
    the input size and dropout rate hold no weights."""
    table = cnncost.count("keras_efficientnet_b0", width_coefficient=1.1, depth_coefficient=1.2)
    assert totals(table)["keras"] == WITH_TOP["keras_efficientnet_b2"]


@pytest.mark.parametrize("name", NAMES)
def test_engine_matches_torch_at_small_non_square_sizes(name):
    for h, w in ((75, 88), (97, 80)):
        table = cnncost.count(name, h=h, w=w, classes=10)
        module = meta_build(name, h=h, w=w, classes=10)
        assert table.total("params") == oracles.param_count(module)
        assert table.total("buffers") == statistics(module)
        assert table.total("macs") == flop_counter_macs(module, (3, h, w))


@pytest.mark.parametrize("name", ("keras_xception", "keras_inception_resnet_v2", "keras_efficientnet_b3"))
def test_macs_at_the_default_crop_match_flop_counter(name):
    table = cnncost.count(name)
    assert table.total("macs") == flop_counter_macs(meta_build(name), table.network.input_shape)


@pytest.mark.parametrize("name", ("keras_inception_v3", "keras_efficientnet_b0"))
def test_checkpoint_round_trip(name, tmp_path):
    """A state_dict saved by torch (random values, Keras' weight names) loads strictly with zoo.load_weights."""
    state = {k: (torch.randn(v.shape) if v.is_floating_point() else torch.randint(0, 9, v.shape))
             for k, v in meta_build(name).state_dict().items()}
    path = tmp_path / "weights.pt"
    torch.save(state, path)
    target = zoo.load_weights(meta_build(name).to_empty(device="cpu"), path)  # no initialisation: values load
    for key, value in target.state_dict().items():
        assert torch.equal(value, state[key]), key
    assert "normalization.count" in state if "efficientnet" in name else "batch_normalization.beta" in state
