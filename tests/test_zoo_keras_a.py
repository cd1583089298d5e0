"""Keras flavours A: keras.applications' VGG, ResNet (v1, v2), MobileNet (v1, v2) and DenseNet.

Every expected figure is Keras' own, printed by ``model.summary()`` in a public file (each cited
beside it; "index id" is the id of the file in the project's search index of GitHub sources
where its repository path was not shown), or report 002's table; the engine is also checked
against the torch module it builds (numel, BatchNorm buffers, FlopCounterMode).
"""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import cnncost
import zoo
from cnncost import engine
from cnncost import layers as L
from cnncost.conventions import totals

# Keras "Total params" with the top (include_top=True, 224×224) and without it (include_top=False,
# pooling=None; independent of the input size). Sources:
#  [A] index id 689370435: a script printing model.summary() of every keras.applications model
#      (ResNet*, ResNet*V2, DenseNet*, MobileNet, MobileNetV2 with their tops);
#  [B] TaeYeon-kim-ai/STUDY_1.py, keras2/keras79_include_top.py: VGG16 with and without the top;
#  [C] index id 8233930040: VGG16, VGG19 summaries with their tops;
#  [D] index id 20830376752 ("Model: resnet50v2", base without top) and id 24254376392;
#  [E] index id 10951468750 and id 14983868623: MobileNet base, last layer conv_pw_13_relu;
#  [F] TensorFlow's transfer-learning tutorial (tensorflow.org/tutorials/images/transfer_learning):
#      MobileNetV2 base_model.summary(), also index ids 46748196962, 8910588404;
#  [G] index id 23244000253 (DenseNet121 base, last layer relu) and id 14360087928;
#  [H] frozen bases under a small new head, whose "Non-trainable params" is the whole base:
#      DenseNet169 index id 32180308533, DenseNet201 index ids 36937052595 and 16360905675;
#  [I] index id 18565751002 and id 2461039808: VGG19 base, last layer block5_pool;
#  [J] index id 7520902770 and id 6755988861: ResNet50 with and without its top.
KERAS_TOTALS = {
    "keras_vgg16": (138_357_544, 14_714_688),  # [B], [C]
    "keras_vgg19": (143_667_240, 20_024_384),  # [C]; [I]
    "keras_resnet50": (25_636_712, 23_587_712),  # [A], [J]; report 002 (resnet50 Functional: 23587712)
    "keras_resnet101": (44_707_176, None),  # [A]
    "keras_resnet152": (60_419_944, None),  # [A]
    "keras_resnet50v2": (25_613_800, 23_564_800),  # [A]; [D]
    "keras_resnet101v2": (44_675_560, None),  # [A]
    "keras_resnet152v2": (60_380_648, None),  # [A]
    "keras_mobilenet": (4_253_864, 3_228_864),  # [A]; [E]
    "keras_mobilenet_v2": (3_538_984, 2_257_984),  # [A]; [F]
    "keras_densenet121": (8_062_504, 7_037_504),  # [A]; [G]
    "keras_densenet169": (14_307_880, 12_642_880),  # [A]; [H]
    "keras_densenet201": (20_242_984, 18_321_984),  # [A]; [H]
}
NAMES = tuple(KERAS_TOTALS)

# Keras' trainable / non-trainable split (= PyTorch parameters / BatchNorm moving mean + variance)
# where a summary printed it with the model unfrozen: (include_top, trainable, non-trainable).
KERAS_SPLITS = {
    "keras_resnet50": ((True, 25_583_592, 53_120), (False, 23_534_592, 53_120)),  # [J]
    "keras_resnet101": ((True, 44_601_832, 105_344),),  # index id 29888800746
    "keras_resnet50v2": ((False, 23_519_360, 45_440),),  # [D] id 24254376392
    "keras_mobilenet": ((False, 3_206_976, 21_888),),  # [E]
    "keras_mobilenet_v2": ((False, 2_223_872, 34_112),),  # [F] id 8910588404
    "keras_densenet121": ((False, 6_953_856, 83_648),),  # [G]
}

# len(model.weights): Keras' weight tensors (kernel, bias; BatchNorm gamma, beta, moving mean,
# moving variance), with the top. [A] for all but VGG, [C] for VGG.
KERAS_WEIGHT_TENSORS = {
    "keras_vgg16": 32, "keras_vgg19": 38, "keras_resnet50": 320, "keras_resnet50v2": 272,
    "keras_resnet101": 626, "keras_resnet101v2": 544, "keras_resnet152": 932, "keras_resnet152v2": 816,
    "keras_densenet121": 606, "keras_densenet169": 846, "keras_densenet201": 1006,
    "keras_mobilenet": 137, "keras_mobilenet_v2": 262,
}

# Per-layer "Param #" of named Keras layers, as the summaries print them (the keras convention per row).
KERAS_LAYERS = {
    "keras_vgg16": {"block1_conv1": 1_792, "block5_conv3": 2_359_808, "fc2": 16_781_312,
                    "predictions": 4_097_000},  # [B], [C]
    "keras_resnet50": {"predictions": 2_049_000},  # [J] and index id 46949827905
    "keras_mobilenet": {"conv_pw_13_bn": 4_096},  # [E]
}


def _module(name: str, **cfg):
    """The zoo module on the meta device: shapes and counts only, no weights allocated."""
    with torch.device("meta"):
        return zoo.build(name, **cfg).eval()


def _torch_macs(module, shape: tuple) -> int:
    """FlopCounterMode's FLOPs of one eval forward (batch 1, meta tensors), halved."""
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        module(torch.empty(1, *shape, device="meta"))
    return counter.get_total_flops() // 2


@pytest.mark.parametrize("name", NAMES)
def test_keras_total_params_with_and_without_top(name):
    with_top, without = KERAS_TOTALS[name]
    assert totals(cnncost.count(name))["keras"] == with_top
    if without is not None:
        assert totals(cnncost.count(name, include_top=False, h=96, w=80))["keras"] == without


@pytest.mark.parametrize("name", sorted(KERAS_SPLITS))
def test_trainable_and_non_trainable_split(name):
    for include_top, trainable, frozen in KERAS_SPLITS[name]:
        table = cnncost.count(name, include_top=include_top)
        assert (table.total("params"), table.total("buffers")) == (trainable, frozen)


@pytest.mark.parametrize("name", NAMES)
def test_weight_tensors_are_keras_weights(name):
    """Each Keras weight is one state_dict tensor (torch's num_batches_tracked has no Keras twin)."""
    keys = [k for k in _module(name).state_dict() if not k.endswith("num_batches_tracked")]
    assert len(keys) == KERAS_WEIGHT_TENSORS[name]


@pytest.mark.parametrize("name", sorted(KERAS_LAYERS))
def test_named_layers_print_keras_param_counts(name):
    rows = {}
    for row in cnncost.count(name).layers:  # a Keras layer may be several rows here (a conv's ReLU)
        rows[row.name] = row.params + row.buffers
    assert {layer: rows[layer] for layer in KERAS_LAYERS[name]} == KERAS_LAYERS[name]


def test_report_002_resnet50_without_top_plus_flatten_dense8():
    """Report 002, Figure 2.5.1.1: Keras ResNet50(include_top=False) at 50×50, then Flatten and
    Dense(8): resnet50 output (None, 2, 2, 2048); 23,653,256 total, 23,600,136 trainable, 53,120 not."""
    base = cnncost.archs.get("keras_resnet50").build(h=50, w=50, include_top=False)
    assert engine.analyze(base).output_shape == (2048, 2, 2)
    network = base._replace(layers=base.layers + (L.Flatten("flatten_2"), L.Linear("dense_2", 8)))
    counts = totals(engine.analyze(network))
    assert (counts["keras"], counts["params"], counts["buffers"]) == (23_653_256, 23_600_136, 53_120)


def test_mobilenet_v2_base_at_160_ends_5x5x1280():
    """[F]: the tutorial's 160×160 MobileNetV2 base maps a batch to (32, 5, 5, 1280)."""
    assert cnncost.count("keras_mobilenet_v2", h=160, w=160, include_top=False).output_shape == (1280, 5, 5)


def test_mobilenet_v2_pads_as_keras_correct_pad():
    """correct_pad pads (size % 2, 1): an even 112 becomes 113, an odd 113 becomes 115."""
    shapes = {r.name: r.output_shape for r in cnncost.count("keras_mobilenet_v2", h=225, w=224).layers}
    assert shapes["block_1_pad"] == (96, 115, 113) and shapes["block_1_depthwise"] == (96, 57, 56)


@pytest.mark.parametrize("name", NAMES)
def test_engine_matches_torch_module(name):
    """numel, BatchNorm running stats and FlopCounterMode MACs at two small non-square sizes with
    the top, and at one without it."""
    for h, w, include_top in ((32, 37, True), (45, 34, True), (39, 32, False)):
        cfg = {"h": h, "w": w, "include_top": include_top}
        table = cnncost.count(name, **cfg)
        module = _module(name, **cfg)
        assert table.total("params") == sum(p.numel() for p in module.parameters())
        stats = sum(b.numel() for n, b in module.named_buffers() if n.endswith(("running_mean", "running_var")))
        assert table.total("buffers") == stats
        assert table.total("macs") == _torch_macs(module, table.network.input_shape)


@pytest.mark.parametrize("name, extra", (("keras_mobilenet", {"depth_multiplier": 2}), ("keras_mobilenet_v2", {})))
def test_width_multiplier_matches_torch_module(name, extra):
    """alpha as Keras rounds it (int(c · alpha); MobileNetV2's _make_divisible) and MobileNet's
    depth multiplier, engine vs module."""
    cfg = {"h": 33, "w": 40, "alpha": 0.35, "classes": 7, **extra}
    table = cnncost.count(name, **cfg)
    module = _module(name, **cfg)
    assert table.total("params") == sum(p.numel() for p in module.parameters())
    assert table.total("macs") == _torch_macs(module, table.network.input_shape)
