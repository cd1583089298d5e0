"""Training-recipe options of the reports (issue 20): early stopping on any monitored metric, gradient clipping
by value."""

import pytest
import torch

from zoo.training import loop, run
from zoo.runtime.config import TrainConfig
from zoo.runtime.checkpoint import load


def tiny(tmp_path, **changes) -> TrainConfig:
    return TrainConfig(arch="smallcnn_res", img_size=32, hyperparameters={"m": 4, "n": 16}, synthetic_size=40,
                       batch_size=8, device="cpu", plots=False, quiet=True, out=str(tmp_path / "run"), **changes)


@pytest.mark.parametrize("monitor, scripted, stops_after, best_epoch", [
    ("val_loss", [1.0, 0.8, 0.9, 0.85, 0.95, 0.7], 4, 2),  # lower is better: epochs 3 and 4 are no better
    ("val_acc", [0.1, 0.3, 0.3, 0.2, 0.4, 0.5], 4, 2),      # higher is better; a tie is not an improvement
    ("train_loss", [3.0, 2.0, 1.0, 0.5, 0.4, 0.3], 6, 6),   # always improving: runs every epoch
    ("val_f1", [0.2, 0.5, 0.4, 0.6, 0.6, 0.6], 6, 4),       # macro F1, higher is better
])
def test_early_stopping_follows_the_monitored_metric(tmp_path, monkeypatch, monitor, scripted, stops_after,
                                                     best_epoch):
    """The real epoch runs; only the monitored value is replaced by a scripted sequence."""
    real = run._one_epoch

    def scripted_epoch(session, step, loaders, cached, epoch, console):
        row = real(session, step, loaders, cached, epoch, console)
        return {**row, monitor: scripted[epoch]}

    monkeypatch.setattr(run, "_one_epoch", scripted_epoch)
    metrics = run.train(tiny(tmp_path, epochs=6, patience=2, monitor=monitor))
    assert [row["epoch"] for row in metrics["epochs"]] == list(range(1, stops_after + 1))
    assert metrics["best"] == {"epoch": best_epoch, monitor: scripted[best_epoch - 1]}
    assert load(tmp_path / "run" / "best.pt")["epoch"] == best_epoch  # best.pt is the monitored best


def test_clip_value_clamps_every_gradient_element_after_the_norm_clip():
    weight = torch.nn.Parameter(torch.zeros(4))
    weight.grad = torch.tensor([5.0, -7.0, 0.1, 0.0])
    step = loop.Step(None, None, None, None, None, [weight], clip_value=1.0)
    loop.clip(step)
    assert weight.grad.tolist() == [1.0, -1.0, pytest.approx(0.1), 0.0]
    weight.grad = torch.tensor([3.0, -4.0, 0.0, 0.0])  # norm 5: scaled to norm 2.5, then clamped at 1
    loop.clip(step._replace(clip_grad=2.5))
    assert weight.grad.tolist() == [1.0, -1.0, 0.0, 0.0]


def test_clip_value_reaches_every_training_step(tmp_path, monkeypatch):
    seen = []
    real = torch.nn.utils.clip_grad_value_
    monkeypatch.setattr(torch.nn.utils, "clip_grad_value_", lambda p, v: (seen.append(v), real(p, v))[1])
    run.train(tiny(tmp_path, epochs=1, clip_value=0.25))
    assert seen == [0.25] * 4  # 32 training images, batch 8


def test_monitor_and_clip_value_are_checked_in_one_line(tmp_path):
    from cnncost.errors import CnncostError

    with pytest.raises(CnncostError, match=r"^monitor: 'accuracy' is out of range \(need one of val_acc"):
        tiny(tmp_path, monitor="accuracy").check()
    with pytest.raises(CnncostError, match=r"^clip_value: -1 is out of range"):
        tiny(tmp_path, clip_value=-1).check()


def test_dropout_at_puts_dropout_before_named_layers_and_the_engine_counts_it(tmp_path):
    """Report 004's ResNet-18 with dropout before conv1 and fc: the module runs it, checkpoint keys do not move,
    and the predicted saved bytes (the dropout masks included) equal the measured ones."""
    import json

    from cnncost import archs
    from cnncost import layers as L
    from zoo import build
    from zoo.runtime.dropout_at import insert_dropout

    config = TrainConfig(arch="resnet18", img_size=32, synthetic_size=40, batch_size=8, device="cpu", plots=False,
                         quiet=True, out=str(tmp_path / "run"), epochs=1, dropout=0.3, dropout_at="conv1,fc")
    run.train(config)
    memory = json.loads((tmp_path / "run" / "metrics.json").read_text())["memory"]
    assert memory["predicted_saved_bytes"] == memory["measured_saved_bytes"]
    saved = load(tmp_path / "run" / "best.pt")["model"]
    plain = build("resnet18", h=32, w=32, classes=10)
    assert set(saved) == set(plain.state_dict())  # dropout holds nothing: every key where it was
    spec = archs.get("resnet18")
    described = spec.build(**archs.resolve(spec, {"h": 32, "w": 32, "classes": 10}))
    network = insert_dropout(described, ("conv1", "fc"), 0.3)
    names = [leaf.name for leaf in L.leaves(network.layers)]
    assert names[:2] == ["conv1_dropout", "conv1"] and names[-2:] == ["fc_dropout", "fc"]
    from cnncost.errors import CnncostError

    with pytest.raises(CnncostError, match="dropout_at: 'conv9' is not a layer of this network"):
        insert_dropout(described, ("conv9",), 0.3)
    with pytest.raises(CnncostError, match="^dropout_at: give the rate with dropout P"):
        TrainConfig(arch="resnet18", dropout_at="fc").check()


def test_sync_bn_runs_print_no_memory_prediction_rather_than_a_wrong_one(tmp_path):
    """The engine models torch's BatchNorm; --sync-bn's BatchNorms save other tensors, so no figure is claimed."""
    import json

    from zoo.training.report import memory_line

    config = TrainConfig(arch="scratch5", img_size=32, hyperparameters={"m": 4, "n": 16, "padding": "same", "bn": True},
                         synthetic_size=40, batch_size=8, device="cpu", plots=False, quiet=True,
                         out=str(tmp_path / "run"), epochs=1, sync_bn=True)
    run.train(config)
    record = json.loads((tmp_path / "run" / "metrics.json").read_text())["memory"]
    assert record["predicted_train_bytes"] is None and record["measured_saved_bytes"] > 0
    assert memory_line(record).startswith("memory: no prediction")
