"""Model state of one training step against torch: parameter, buffer, gradient and optimizer bytes.

Each network is built on the real CPU, the strategy applied as ``cnncost train`` applies it, and one full
step run (forward, cross-entropy, backward, ``optimizer.step()``) with the optimizer over the trainable
parameters: then the optimizer's bytes are every tensor in ``optimizer.state``, the parameters' and buffers'
the module's own, and the gradients' every ``.grad``. ``parse_step``'s bad values are one-line errors.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from cnncost.errors import CnncostError
from cnncost.trainstep import parse_step
from zoo.training import freeze

from .trainstep_helpers import batch_of, engine_step, prepared_model

NETWORKS = {"scratch5": {}, "resnet18": {"h": 32, "w": 32}, "mobilenet_v3_small": {"h": 32, "w": 32},
            "convnext_tiny": {"h": 32, "w": 32}, "keras_efficientnet_b0": {"h": 32, "w": 32}}
OPTIMIZERS = {"sgd": lambda ps: torch.optim.SGD(ps, lr=0.01),
              "momentum": lambda ps: torch.optim.SGD(ps, lr=0.01, momentum=0.9),
              "adam": lambda ps: torch.optim.Adam(ps, lr=0.001),
              "adamw": lambda ps: torch.optim.AdamW(ps, lr=0.001)}


def nbytes(tensors) -> int:
    """Bytes of the tensors' elements."""
    return sum(t.numel() * t.element_size() for t in tensors)


def torch_state_after_one_step(name: str, strategy: str, optimizer: str, **overrides) -> dict:
    """Parameter, buffer, gradient and optimizer bytes of the module after one real step."""
    model = prepared_model(name, strategy, "cpu", **overrides)
    images, labels = batch_of(name, 2, "cpu", **overrides)
    opt = OPTIMIZERS[optimizer](freeze.trainable_parameters(model))
    F.cross_entropy(model(images), labels).backward()
    opt.step()
    state = [t for entry in opt.state.values() for t in entry.values() if isinstance(t, torch.Tensor)]
    return {"params": nbytes(model.parameters()), "buffers": nbytes(model.buffers()),
            "grads": nbytes(p.grad for p in model.parameters() if p.grad is not None), "optimizer": nbytes(state)}


@pytest.mark.parametrize("strategy", ["scratch", "last-layer"])
@pytest.mark.parametrize("name", list(NETWORKS))
def test_model_state_matches_torch(name, strategy, one_torch_thread):
    for optimizer in OPTIMIZERS:  # one build per optimizer: each steps a fresh model
        expected = engine_step(name, strategy, 2, "fp32", optimizer, **NETWORKS[name]).state
        measured = torch_state_after_one_step(name, strategy, optimizer, **NETWORKS[name])
        assert measured == {"params": expected.params, "buffers": expected.buffers, "grads": expected.grads,
                            "optimizer": expected.optimizer}, (name, strategy, optimizer)


def test_state_does_not_depend_on_precision():
    """Parameters, gradients and optimizer state stay float32 under autocast."""
    states = {dtype: engine_step("resnet18", "scratch", 2, dtype, "adam", h=32, w=32).state
              for dtype in ("fp32", "bf16", "fp16")}
    assert states["fp32"] == states["bf16"] == states["fp16"]


def test_last_layer_state_is_the_classifier_alone():
    """Under last-layer only the classifier has gradients and optimizer state; every parameter is still held."""
    scratch = engine_step("resnet18", "scratch", 2, "fp32", "adam", h=32, w=32).state
    last = engine_step("resnet18", "last-layer", 2, "fp32", "adam", h=32, w=32).state
    assert last.params == scratch.params and last.buffers == scratch.buffers
    assert last.grads == 4 * (512 * 1000 + 1000)  # fc: 512 → 1000, float32
    assert last.optimizer == 2 * last.grads + 2 * 4  # exp_avg, exp_avg_sq, and a 0-d step per tensor


@pytest.mark.parametrize("arguments, option", [
    ({"batch": 0}, "batch: "), ({"batch": -3}, "batch: "), ({"batch": True}, "batch: "),
    ({"optimizer": "rmsprop"}, "optimizer: "), ({"dtype": "fp8"}, "dtype: "), ({"device": "tpu"}, "device: "),
    ({"strategy": "partial:0"}, "strategy: "), ({"strategy": "everything"}, "strategy: ")])
def test_parse_step_errors_name_their_option(arguments, option):
    with pytest.raises(CnncostError) as error:
        parse_step(**arguments)
    message = str(error.value)
    assert message.startswith(option) and "\n" not in message
