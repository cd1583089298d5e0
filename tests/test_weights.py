"""Strict checkpoint loading, on checkpoint files the tests write themselves."""

import pytest
import torch

import zoo
from cnncost.errors import CnncostError


def _model(**kw):
    return zoo.build("scratch5", m=4, k=3, h=100, w=100, **kw)


def test_round_trip_loads_every_tensor(tmp_path):
    source, target = _model(), _model()
    path = tmp_path / "scratch5.pth"
    torch.save(source.state_dict(), path)
    zoo.load_weights(target, path)
    for key, value in source.state_dict().items():
        assert torch.equal(value, target.state_dict()[key])


def test_wrapped_checkpoint(tmp_path):
    path = tmp_path / "ckpt.pt"
    torch.save({"state_dict": _model().state_dict(), "epoch": 3}, path)
    zoo.load_weights(_model(), path)


def test_mismatch_names_missing_unexpected_and_wrong_shapes(tmp_path):
    state = _model().state_dict()
    del state["conv1.bias"]
    state["extra.weight"] = torch.zeros(2)
    state["fc2.weight"] = torch.zeros(3, 128)
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    target = _model()
    before = {k: v.clone() for k, v in target.state_dict().items()}
    with pytest.raises(CnncostError) as error:
        zoo.load_weights(target, path)
    message = str(error.value)
    assert "1 missing (conv1.bias)" in message and "1 unexpected (extra.weight)" in message
    assert "fc2.weight [3, 128] vs [10, 128]" in message and "\n" not in message
    assert all(torch.equal(before[k], v) for k, v in target.state_dict().items())  # untouched


def test_refuses_pickled_code(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"conv1.weight": object()}, path)  # not loadable with weights_only=True
    with pytest.raises(CnncostError, match="not a readable PyTorch checkpoint"):
        zoo.load_weights(_model(), path)


def test_missing_file(tmp_path):
    with pytest.raises(CnncostError, match="no such file"):
        zoo.load_weights(_model(), tmp_path / "nope.pth")


def test_a_checkpoint_written_before_batchnorm_counted_steps_loads(tmp_path):
    """torchvision's 2017 files (DenseNet) have no num_batches_tracked; torch's BatchNorm accepts
    that, and so does load_weights (the counters start at 0, as torch sets them)."""
    import torch

    import zoo

    torch.manual_seed(0)
    source = zoo.build("resnet18", h=64, w=64)
    state = {k: v for k, v in source.state_dict().items() if not k.endswith("num_batches_tracked")}
    path = tmp_path / "old.pth"
    torch.save(state, path)
    loaded = zoo.load_weights(zoo.build("resnet18", h=64, w=64), path)
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in state.items())
    assert all(int(v) == 0 for k, v in loaded.state_dict().items() if k.endswith("num_batches_tracked"))
    reference = torch.nn.BatchNorm2d(3)
    reference.load_state_dict({k: v for k, v in reference.state_dict().items() if k != "num_batches_tracked"})
