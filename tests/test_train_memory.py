"""``cnncost train`` uses the exact step figures: train-bytes and saved-bytes next to what the run measured,
training FLOPs per image from ``cnncost.trainstep``, and a memory check from the exact train-bytes.

Independent references: ``zoo.saved_tensors`` (the storages autograd saves, measured by torch's own hooks
during the real first training step) and torch's FlopCounterMode on a real step.
"""

import json

import pytest
import torch

from cnncost import engine, finetune
from cnncost.cli import main
from cnncost.errors import CnncostError
from cnncost.trainstep import analyze_step
from zoo import build
from zoo.saved_tensors import measure_step
from zoo.runtime import model
from zoo.training import flops, freeze, memory
from zoo.runtime.config import TrainConfig
from zoo.training.run import train

SMALL = {"m": 8, "n": 32}  # smallcnn_res: conv, BN, a residual block, dropout, dense

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def config(tmp_path, **overrides) -> TrainConfig:
    """A tiny CPU run on generated images (a few seconds)."""
    values = dict(arch="smallcnn_res", data="synthetic", epochs=1, batch_size=16, img_size=32,
                  out=str(tmp_path / "run"), hyperparameters=dict(SMALL), synthetic_size=40, quiet=True,
                  plots=False, device="cpu")
    values.update(overrides)
    return TrainConfig(**values)


def pretrained(tmp_path) -> str:
    """A checkpoint for the fine-tuning strategies (another class count: the classifier is replaced)."""
    torch.manual_seed(1)
    path = tmp_path / "pretrained.pth"
    torch.save(build("smallcnn_res", num_classes=1000, h=32, w=32, **SMALL).state_dict(), path)
    return str(path)


def exact_step(run: TrainConfig, strategy: str):
    """The StepCost the engine gives for ``run``'s step, computed here from the table the run trains."""
    _, _, network = model.describe(run.arch, run.hyperparameters, run.img_size, 10)
    return analyze_step(engine.analyze(network), memory.run_step(run, "cpu", bool(run.amp), strategy))


@pytest.mark.parametrize("strategy, extra", [
    ("scratch", {}),
    ("last-layer", {"cache": False}),  # the whole model runs: the backbone's forward saves nothing
    ("partial:1", {"optimizer": "sgd", "momentum": 0.9}),
])
def test_metrics_record_the_predicted_and_the_measured_saved_bytes(tmp_path, strategy, extra):
    weights = {} if strategy == "scratch" else {"weights": pretrained(tmp_path)}
    run = config(tmp_path, strategy=strategy, **weights, **extra)
    train(run)
    recorded = json.loads((tmp_path / "run" / "metrics.json").read_text())["memory"]
    optimizer = "momentum" if extra.get("optimizer") == "sgd" else "adam"
    assert recorded["step"] == {"strategy": strategy, "batch": 16, "optimizer": optimizer, "dtype": "fp32",
                                "device": "cpu"}
    assert recorded["cached_features"] is False and "measured_peak_bytes" not in recorded
    assert recorded["predicted_saved_bytes"] == recorded["measured_saved_bytes"] > 0
    expected = exact_step(run, strategy)
    assert recorded["predicted_saved_bytes"] == expected.saved_bytes
    assert recorded["predicted_train_bytes"] == expected.train_bytes > recorded["predicted_saved_bytes"]
    assert all(type(recorded[key]) is int for key in ("predicted_train_bytes", "predicted_saved_bytes",
                                                      "measured_saved_bytes"))


def test_the_probe_changes_nothing_the_run_computes(tmp_path, monkeypatch):
    """The same run with the saved-tensor probe switched off: bit-identical weights and losses."""
    from zoo.training import run as run_module

    first = train(config(tmp_path, out=str(tmp_path / "a")))
    monkeypatch.setattr(run_module._StepMemory, "first_step", lambda self, session, step, cached: step)
    second = train(config(tmp_path, out=str(tmp_path / "b")))
    assert first["memory"]["measured_saved_bytes"] > 0 and second["memory"] is None  # nothing probed
    assert [row["train_loss"] for row in first["epochs"]] == [row["train_loss"] for row in second["epochs"]]
    weights = [torch.load(tmp_path / name / "best.pt", weights_only=False)["model"] for name in "ab"]
    assert all(torch.equal(weights[0][key], weights[1][key]) for key in weights[0])


def test_the_console_prints_the_prediction_next_to_the_measurement(tmp_path, capsys):
    code = main(["train", "smallcnn_res", "--img-size", "32", "--m", "8", "--n", "32", "--synthetic-size", "40",
                 "--epochs", "1", "--batch-size", "16", "--device", "cpu", "--no-plots",
                 "--out", str(tmp_path / "run")])
    assert code == 0
    shown = " ".join(capsys.readouterr().out.split())  # the console wraps long lines
    recorded = json.loads((tmp_path / "run" / "metrics.json").read_text())["memory"]
    mib = recorded["predicted_train_bytes"] / 2**20
    assert f"memory: predicted train-bytes {mib:,.1f} MiB" in shown, shown
    assert f"measured saved tensors {recorded['measured_saved_bytes'] / 2**20:,.1f} MiB (first step)" in shown


def test_a_cached_last_layer_run_predicts_and_says_it_did_not_measure(tmp_path):
    recorded = train(config(tmp_path, strategy="last-layer", weights=pretrained(tmp_path)))["memory"]
    assert recorded["cached_features"] is True and recorded["measured_saved_bytes"] is None
    assert recorded["predicted_saved_bytes"] > 0


# ---------------------------------------------------------------- FLOPs per image


def prepared_with(arch: str, hyper: dict, size: int, strategy: str):
    """(prepared model, plan) with the strategy applied and the training modes set, as cnncost train does."""
    torch.manual_seed(0)
    prepared = model.prepare(arch, hyper, size, 10)
    plan = freeze.apply_strategy(prepared.model, prepared.network, prepared.table, finetune.parse_strategy(strategy))
    freeze.set_training_mode(prepared.model, plan)
    return prepared, plan


@pytest.mark.parametrize("strategy", ["partial:1", "partial:2", "scratch", "last-layer"])
def test_training_flops_equal_flop_counter_on_a_branching_network(strategy):
    """resnet18: partial:2 trains layer4.0, whose downsample shortcut is fed by the frozen layer3 and so needs
    no input gradient, though it runs after a trainable convolution."""
    prepared, plan = prepared_with("resnet18", {}, 32, strategy)
    counted = flops.training_flops(prepared.table, plan, batch_size=2)
    measured = measure_step(prepared.model, torch.randn(2, 3, 32, 32), torch.tensor([1, 7]))
    assert measured.flops == 2 * counted.train and counted.exact
    old = flops.approximate_training_flops(prepared.table, plan)
    assert counted.forward == old.forward
    if strategy == "partial:2":  # where execution order and dataflow disagree: 2 × MACs of the shortcut conv
        shortcut = next(row for row in prepared.table.layers if row.name == "layer4.0.downsample.0")
        assert old.train - counted.train == 2 * shortcut.macs > 0


def test_head_only_flops_equal_flop_counter_on_cached_features():
    """A cached last-layer step runs the classifier alone on stored features: forward and weight gradient."""
    from torch.utils.flop_counter import FlopCounterMode

    prepared, plan = prepared_with("resnet18", {}, 32, "last-layer")
    head = prepared.model._leaves[prepared.classifier]
    counter = FlopCounterMode(display=False)
    with counter:
        torch.nn.functional.cross_entropy(head(torch.randn(4, head.in_features)), torch.tensor([0, 1, 2, 3])).backward()
    assert counter.get_total_flops() == 4 * flops.training_flops(prepared.table, plan).head_only


def test_flops_per_image_do_not_depend_on_the_batch_or_the_dtype():
    prepared, plan = prepared_with("smallcnn_res", SMALL, 32, "partial:1")
    figures = {flops.training_flops(prepared.table, plan, batch, dtype)
               for batch in (2, 7, 32) for dtype in ("fp32", "bf16")}
    assert len(figures) == 1


# ---------------------------------------------------------------- the memory check


def table_and_step(batch: int, arch: str = "smallcnn_res", hyper: dict | None = None, optimizer: str = "adam"):
    """The engine table setup checks (model.describe, as for a run) and the run's step."""
    run = TrainConfig(arch, batch_size=batch, img_size=32, hyperparameters=dict(SMALL if hyper is None else hyper),
                      optimizer=optimizer)
    _, _, network = model.describe(run.arch, run.hyperparameters, run.img_size, 10)
    return engine.analyze(network), memory.run_step(run, "cpu", False)


def test_check_fits_refuses_a_huge_batch_in_one_line():
    table, step = table_and_step(10**9)
    with pytest.raises(CnncostError) as refused:
        memory.check_fits(table, 10**9, "cpu", 32, "smallcnn_res", step)
    text = str(refused.value)
    assert "\n" not in text and "batch_size 1000000000" in text and "held at once by the step, adam fp32" in text, text


def test_check_fits_uses_the_exact_step(monkeypatch):
    """A machine one byte short of what the exact step must hold at once refuses the run; one of exactly that
    size takes it."""
    table, step = table_and_step(64, optimizer="sgd")
    need = analyze_step(table, step).peak_lower_bound(64)
    assert need < memory.training_bytes(table, 64)  # the rough bound would refuse runs that fit
    monkeypatch.setattr(memory, "available_bytes", lambda device: need)
    memory.check_fits(table, 64, "cpu", 32, "smallcnn_res", step)
    monkeypatch.setattr(memory, "available_bytes", lambda device: need - 1)
    with pytest.raises(CnncostError, match="^img_size: .* with batch_size 64"):
        memory.check_fits(table, 64, "cpu", 32, "smallcnn_res", step)


def test_a_step_that_cannot_be_analysed_falls_back_to_the_rough_bound(monkeypatch):
    """resnet18 at 32×32, batch 1: layer4's BatchNorms see one value per channel (analyze_step refuses, as
    torch would); the check still runs, on the rough bound, and still refuses what that bound cannot hold."""
    table, step = table_and_step(1, "resnet18", {})
    with pytest.raises(CnncostError, match="one value per channel"):
        analyze_step(table, step)
    rough = memory.training_bytes(table, 1)
    assert memory.needed_bytes(table, 1, step) == (rough, "rough bound")
    monkeypatch.setattr(memory, "available_bytes", lambda device: rough)
    memory.check_fits(table, 1, "cpu", 32, "resnet18", step)
    monkeypatch.setattr(memory, "available_bytes", lambda device: rough - 1)
    with pytest.raises(CnncostError, match="rough bound"):
        memory.check_fits(table, 1, "cpu", 32, "resnet18", step)


@pytest.mark.parametrize("optimizer, momentum, expected", [
    ("sgd", 0.9, "momentum"), ("sgd", 0.0, "sgd"), ("adam", 0.9, "adam"), ("adamw", 0.9, "adamw")])
def test_the_optimizer_is_the_one_the_run_builds(optimizer, momentum, expected):
    """What make_optimizer builds: SGD keeps a momentum buffer only when its momentum is non-zero."""
    assert memory.step_optimizer(TrainConfig("smallcnn_res", optimizer=optimizer, momentum=momentum)) == expected
