"""``cnncost train --ema DECAY``: the moving average of the weights is the one the run validates, keeps and serves.

Independent references: the average written out by hand from the live weights after every optimizer step
(recorded by a global optimizer step hook, not by cnncost's EMA code), an uninterrupted run (for resume, bit
for bit), the bytes of torch's own ``AveragedModel`` of the built module (for the memory prediction), and a
plain loop over the validation images (for the metrics).
"""

from __future__ import annotations

import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_post_hook
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from cnncost import engine
from cnncost.cli import main
from zoo.runtime import model
from zoo.runtime import ema
from zoo.training import memory
from zoo.runtime.config import TrainConfig
from zoo.training.evaluate import load_run
from zoo.training.run import train

SMALL = {"m": 8, "n": 32}  # smallcnn_res: conv, BatchNorm (buffers to average), residual, dense
DECAY = 0.8

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def config(tmp_path, name: str, **overrides) -> TrainConfig:
    """A run of a few steps: about 50 training images in batches of 16, 16 px."""
    values = dict(arch="smallcnn_res", data="synthetic", epochs=2, batch_size=16, img_size=16, lr=3e-3,
                  hyperparameters=dict(SMALL), synthetic_size=64, out=str(tmp_path / name), quiet=True,
                  plots=False, ema=DECAY)
    values.update(overrides)
    return TrainConfig(**values)


class StepRecorder:
    """The live model's full state after every optimizer step, from torch's global step hook (the model is the one
    ``ema.start`` is given: the module the optimizer trains)."""

    def __init__(self, monkeypatch):
        self.model, self.states, self.epoch_ends = None, [], []
        original = ema.start

        def start(net, decay):
            self.model = net
            return original(net, decay)

        monkeypatch.setattr(ema, "start", start)

    def __enter__(self):
        self.handle = register_optimizer_step_post_hook(self._after_step)
        return self

    def __exit__(self, *exc):
        self.handle.remove()

    def _after_step(self, optimizer, args, kwargs):
        self.states.append({k: v.detach().clone() for k, v in self.model.state_dict().items()})

    def on_epoch_end(self, epoch, row):
        self.epoch_ends.append(len(self.states))


def hand_average(states: list, decay: float) -> dict:
    """W̄_1 = W_1, W̄_t = decay·W̄_(t-1) + (1 − decay)·W_t over the floating-point tensors, in float64."""
    average = {k: v.double() for k, v in states[0].items() if v.is_floating_point()}
    for state in states[1:]:
        average = {k: decay * v + (1 - decay) * state[k].double() for k, v in average.items()}
    return average


def assert_close_to(weights: dict, reference: dict) -> None:
    assert reference and set(reference) <= set(weights)
    for key, value in reference.items():
        torch.testing.assert_close(weights[key].double(), value, rtol=1e-5, atol=1e-6, msg=key)


@pytest.mark.parametrize("accumulate", [1, 2])
def test_average_is_the_hand_average_of_every_optimizer_step(tmp_path, monkeypatch, accumulate):
    """One update per optimizer step on both train paths (loop.train_epoch; steps._one_step with --accumulate 2,
    whose 2 micro-batches make one step): the checkpoint's average, its step counter, and best.pt equal the hand
    average of the recorded live weights, BatchNorm statistics included."""
    recorder = StepRecorder(monkeypatch)
    with recorder:
        metrics = train(config(tmp_path, "run", accumulate=accumulate), on_epoch_end=recorder.on_epoch_end)
    saved = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    steps, per_epoch = len(recorder.states), -(-metrics["data"]["train"] // 16)  # ceil: a short last step too
    assert recorder.epoch_ends == [per_epoch, 2 * per_epoch] and steps == 2 * per_epoch
    assert int(saved["average"]["n_averaged"]) == steps
    assert_close_to(ema.averaged_weights(saved["average"]), hand_average(recorder.states, DECAY))
    assert any(k.endswith("running_var") for k in hand_average(recorder.states, DECAY))
    # best.pt holds the average at the end of the best epoch, not the live weights of that moment.
    best_epoch = metrics["best"]["epoch"]
    best = torch.load(tmp_path / "run" / "best.pt", weights_only=True)["model"]
    assert_close_to(best, hand_average(recorder.states[:recorder.epoch_ends[best_epoch - 1]], DECAY))
    live = recorder.states[recorder.epoch_ends[best_epoch - 1] - 1]
    assert not torch.equal(best["fc2.weight"], live["fc2.weight"])


def test_validation_and_the_served_weights_are_the_average(tmp_path):
    """The last epoch's val_loss is the average's loss on the validation images (a plain loop), and load_run serves
    the average from checkpoint.pt (not its live ``model``) and best.pt's weights from best.pt."""
    metrics = train(config(tmp_path, "run", epochs=1))
    folder = tmp_path / "run"
    saved = torch.load(folder / "checkpoint.pt", weights_only=True)
    averaged = ema.averaged_weights(saved["average"])
    run = load_run(str(folder / "checkpoint.pt"), device="cpu")
    assert all(torch.equal(run.model.state_dict()[k], v) for k, v in averaged.items())
    assert not torch.equal(saved["model"]["fc2.weight"], averaged["fc2.weight"])
    best = torch.load(folder / "best.pt", weights_only=True)["model"]
    assert all(torch.equal(load_run(str(folder), device="cpu").model.state_dict()[k], v) for k, v in best.items())

    from zoo.training.data import load_data
    from zoo.training.loaders import collate, make_dataset
    from zoo.training.setup import model_mean_std

    source = load_data("synthetic", val_fraction=0.2, seed=0, synthetic_size=64)
    val = make_dataset(source, "val", size=16, seed=0, mean=model_mean_std(3)[0], std=model_mean_std(3)[1],
                       channels=3)
    images, labels, _ = collate([val[i] for i in range(len(val))])
    with torch.no_grad():
        loss = torch.nn.functional.cross_entropy(run.model(images), labels)
    assert metrics["epochs"][0]["val_loss"] == pytest.approx(float(loss), rel=1e-5)


def test_resumed_run_is_bit_identical_with_its_average(tmp_path):
    """Interrupted after epoch 1 and resumed == uninterrupted: live weights, the average and best.pt, bit for bit."""
    train(config(tmp_path, "straight", epochs=3))

    def stop_after_first(epoch, row):
        if epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(config(tmp_path, "resumed", epochs=3), on_epoch_end=stop_after_first)
    train(config(tmp_path, "resumed", epochs=3, resume=True))
    straight, resumed = (torch.load(tmp_path / name / "checkpoint.pt", weights_only=True)
                         for name in ("straight", "resumed"))
    for part in ("model", "average"):
        assert straight[part].keys() == resumed[part].keys()
        assert all(torch.equal(straight[part][k], resumed[part][k]) for k in straight[part]), part
    best = [torch.load(tmp_path / name / "best.pt", weights_only=True)["model"] for name in ("straight", "resumed")]
    assert all(torch.equal(best[0][k], best[1][k]) for k in best[0])
    assert [r["val_loss"] for r in straight["history"]] == [r["val_loss"] for r in resumed["history"]]


def test_predicted_memory_adds_the_averaged_copy_exactly(tmp_path):
    """The prediction grows by the bytes of torch's AveragedModel of the built module (every parameter and buffer,
    numel × element size, and its step counter), in the train-bytes, the peak bound and the run's metrics."""
    arch, _, network = model.describe("smallcnn_res", SMALL, 16, 10)
    table = engine.analyze(network)
    step = memory.run_step(config(tmp_path, "x"), "cpu", amp=False)
    plain, averaged = memory.step_cost(table, step), memory.step_cost(table, step, ema=True)
    module = model.prepare("smallcnn_res", SMALL, 16, 10).model
    copy = AveragedModel(module, multi_avg_fn=get_ema_multi_avg_fn(DECAY), use_buffers=True)
    held = sum(t.numel() * t.element_size() for t in list(copy.parameters()) + list(copy.buffers()))
    assert held == sum(p.numel() * 4 for p in module.parameters()) + sum(
        b.numel() * b.element_size() for b in module.buffers()) + 8  # + n_averaged, one int64
    assert averaged.train_bytes - plain.train_bytes == held
    assert averaged.peak_lower_bound(16) - plain.peak_lower_bound(16) == held
    assert averaged.saved_bytes == plain.saved_bytes  # the copy never runs a training forward
    assert memory.needed_bytes(table, 16, step, ema=True)[0] - memory.needed_bytes(table, 16, step)[0] == held
    metrics = train(config(tmp_path, "run", epochs=1))
    assert metrics["memory"]["predicted_train_bytes"] == averaged.train_bytes
    assert metrics["memory"]["predicted_saved_bytes"] == metrics["memory"]["measured_saved_bytes"]


@pytest.mark.parametrize("value", ["0", "1", "1.5", "-0.1", "nan", "inf"])
def test_a_decay_out_of_range_is_one_line(tmp_path, capsys, value):
    code = main(["train", "smallcnn_res", "--ema", value, "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: --ema: ") and "0 < DECAY < 1" in err and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()
