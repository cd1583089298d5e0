"""``cnncost train`` on CPU with generated data: it learns, freezes what it says, resumes exactly.

Independent references: torch itself (which tensors changed, bit for bit),
chance accuracy, an uninterrupted run (for resume), the uncached path (for the
feature cache), torch's FlopCounterMode (for the training FLOPs per image),
and torchvision-style module paths written out by hand (for partial:K).
"""

import json

import pytest
import torch

from cnncost import finetune
from cnncost.cli import main
from zoo import build
from zoo.runtime import model
from zoo.training import flops, freeze
from zoo.runtime.config import TrainConfig
from zoo.training.run import train

SMALL = {"m": 8, "n": 32}  # smallcnn_res: conv, BN, residual block, dropout, dense: every kind, tiny


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def config(tmp_path, name="run", **overrides) -> TrainConfig:
    values = dict(arch="smallcnn_res", strategy="scratch", data="synthetic", epochs=1, batch_size=32, lr=3e-3,
                  img_size=32, out=str(tmp_path / name), hyperparameters=dict(SMALL), synthetic_size=300,
                  quiet=True)
    values.update(overrides)
    return TrainConfig(**values)


def pretrained_file(tmp_path, arch="smallcnn_res", classes=1000, seed=1, **hyper) -> str:
    """A 'pretrained' checkpoint: a differently seeded network with another class count."""
    torch.manual_seed(seed)
    net = build(arch, num_classes=classes, h=32, w=32, **(hyper or SMALL))
    path = tmp_path / f"{arch}-pretrained.pth"
    torch.save(net.state_dict(), path)
    return str(path)


def test_scratch_learns_the_synthetic_shapes(tmp_path):
    metrics = train(config(tmp_path, epochs=3, synthetic_size=600))
    losses = [row["train_loss"] for row in metrics["epochs"]]
    assert losses[-1] < losses[0] * 0.75
    assert metrics["test_accuracy"] > 0.3  # chance is 0.1
    assert metrics["params"]["trainable"] == sum(p.numel() for p in build(
        "smallcnn_res", num_classes=10, h=32, w=32, **SMALL).parameters())
    folder = tmp_path / "run"
    for name in ("metrics.json", "curves.png", "confusion.png", "predictions.png", "filters.png",
                 "checkpoint.pt", "best.pt"):
        assert (folder / name).stat().st_size > 0, name
    saved = json.loads((folder / "metrics.json").read_text())
    assert len(saved["confusion"]) == 10 and sum(map(sum, saved["confusion"])) == saved["data"]["test"]
    assert saved["config"]["arch"] == "smallcnn_res" and len(saved["per_class"]) == 10
    assert saved["throughput"]["train_flops_per_image"] > saved["throughput"]["forward_flops_per_image"] > 0


def changed_tensors(before: dict, after: dict) -> set:
    return {key for key in before if not torch.equal(before[key], after[key])}


def test_last_layer_changes_only_the_classifier(tmp_path):
    weights = pretrained_file(tmp_path)
    cfg = config(tmp_path, strategy="last-layer", weights=weights, cache=False)
    train(cfg)
    start = torch.load(weights, weights_only=True)
    end = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["model"]
    # Everything but fc2 is bit-identical to the pretrained file, BatchNorm statistics included.
    assert changed_tensors({k: v for k, v in start.items() if not k.startswith("fc2.")}, end) == set()
    assert end["fc2.weight"].shape == (10, 32)


def test_cached_and_uncached_last_layer_train_the_same_head(tmp_path):
    weights = pretrained_file(tmp_path)
    train(config(tmp_path, "cached", strategy="last-layer", weights=weights, cache=True))
    train(config(tmp_path, "uncached", strategy="last-layer", weights=weights, cache=False))
    cached = torch.load(tmp_path / "cached" / "checkpoint.pt", weights_only=True)["model"]
    uncached = torch.load(tmp_path / "uncached" / "checkpoint.pt", weights_only=True)["model"]
    for key in ("fc2.weight", "fc2.bias"):
        torch.testing.assert_close(cached[key], uncached[key], rtol=1e-5, atol=1e-6)


# partial:K for smallcnn_res (conv1, conv2+bn2, res are its blocks): the module paths by hand.
@pytest.mark.parametrize("k, trains", [
    (1, {"res.", "fc1.", "fc2."}),
    (2, {"res.", "conv2.", "bn2.", "fc1.", "fc2."}),
])
def test_partial_unfreezes_exactly_the_last_blocks(tmp_path, k, trains):
    weights = pretrained_file(tmp_path)
    train(config(tmp_path, strategy=f"partial:{k}", weights=weights))
    start = torch.load(weights, weights_only=True)
    end = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["model"]
    changed = changed_tensors({k_: v for k_, v in start.items() if not k_.startswith("fc2.")}, end)
    expected = {key for key in start if key.startswith(tuple(trains)) and not key.startswith("fc2.")
                and not key.endswith("num_batches_tracked")}
    # Trainable layers change (their BatchNorm statistics too); frozen ones stay bit-identical.
    assert {key for key in changed if not key.endswith("num_batches_tracked")} == expected


def test_resnet_partial_matches_torchvision_block_paths():
    prepared = model.prepare("resnet18", {}, 32, 10)
    plan = freeze.apply_strategy(prepared.model, prepared.network, prepared.table, finetune.Strategy("partial", 2))
    trainable = {name for name, p in prepared.model.named_parameters() if p.requires_grad}
    block = ("conv1", "bn1", "conv2", "bn2")
    assert {name.rsplit(".", 1)[0] for name in trainable} == (
        {f"layer4.{i}.{layer}" for i in (0, 1) for layer in block}
        | {"layer4.0.downsample.0", "layer4.0.downsample.1", "fc"})
    assert plan.trainable_params == sum(p.numel() for n, p in prepared.model.named_parameters()
                                        if n.startswith(("layer4.", "fc.")))


def test_interrupted_run_resumed_equals_uninterrupted(tmp_path):
    train(config(tmp_path, "straight", epochs=2, augment=True, schedule="cosine"))

    def stop_after_first(epoch, row):
        if epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(config(tmp_path, "resumed", epochs=2, augment=True, schedule="cosine"), on_epoch_end=stop_after_first)
    train(config(tmp_path, "resumed", epochs=2, augment=True, schedule="cosine", resume=True))
    straight = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=True)
    resumed = torch.load(tmp_path / "resumed" / "checkpoint.pt", weights_only=True)
    assert changed_tensors(straight["model"], resumed["model"]) == set()
    assert [row["val_loss"] for row in straight["history"]] == [row["val_loss"] for row in resumed["history"]]


def test_resume_refuses_a_changed_configuration(tmp_path, capsys):
    train(config(tmp_path))
    code = main(["train", "smallcnn_res", "--img-size", "32", "--m", "8", "--n", "32", "--synthetic-size", "300",
                 "--epochs", "2", "--lr", "0.1", "--out", str(tmp_path / "run"), "--resume", "--quiet"])
    assert code == 2
    assert capsys.readouterr().err.strip().startswith("error: --resume: the run in")


def test_gpu_settings_run_on_cpu(tmp_path):
    """bf16 autocast and channels_last, the CUDA defaults, exercised on CPU."""
    metrics = train(config(tmp_path, amp=True, channels_last=True))
    assert metrics["throughput"]["dtype"] == "bf16"
    assert 0 <= metrics["test_accuracy"] <= 1


@pytest.mark.parametrize("strategy", ["scratch", "last-layer", "partial:1"])
def test_training_flops_match_torch_flop_counter(strategy):
    """forward + backward FLOPs per image = what torch's FlopCounterMode counts for one step."""
    from torch.utils.flop_counter import FlopCounterMode

    prepared = model.prepare("scratch5", {"m": 4, "k": 3, "n": 16}, 96, 10)
    plan = freeze.apply_strategy(prepared.model, prepared.network, prepared.table,
                                 finetune.parse_strategy(strategy))
    freeze.set_training_mode(prepared.model, plan)
    counted = FlopCounterMode(display=False)
    with counted:
        prepared.model(torch.randn(2, 3, 96, 96)).sum().backward()
    assert counted.get_total_flops() == 2 * flops.training_flops(prepared.table, plan).train


def run_cli(*args):
    return main(["train", *args, "--quiet"])


def image_folder(root, classes: dict):
    from PIL import Image

    for name, count in classes.items():
        folder = root / "train" / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            Image.new("RGB", (40, 40), (i * 20 % 255, 80, 160)).save(folder / f"{i}.png")
    return root


@pytest.mark.parametrize("make, args, message", [
    (lambda root: root / "missing", [], "--data: "),
    (lambda root: image_folder(root, {"only": 4}), [], "--data: "),
    (lambda root: image_folder(root, {"a": 4, "b": 0}), [], "--data: "),
    (lambda root: image_folder(root, {"a": 4, "b": 4}), ["--img-size", "3"], "--img-size: 3 is too small"),
    (lambda root: image_folder(root, {"a": 4, "b": 4}), ["--strategy", "partial:0"], "--strategy: "),
    (lambda root: image_folder(root, {"a": 4, "b": 4}), ["--strategy", "last-layer"], "--weights: "),
    (lambda root: image_folder(root, {"a": 4, "b": 4}), ["--epochs", "0"], "--epochs: "),
    (lambda root: image_folder(root, {"a": 4, "b": 4}), ["--weights", "nowhere.pth", "--strategy", "full"],
     "--weights: no such file"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, make, args, message):
    data = make(tmp_path / "data")
    out = tmp_path / "out"
    code = run_cli("smallcnn_res", "--data", str(data), "--out", str(out), *args)
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: " + message) and err.count("\n") == 1, err
    assert not out.exists()  # nothing half-written


def test_folder_training_and_evaluate(tmp_path, capsys):
    data = image_folder(tmp_path / "data", {"a": 6, "b": 6})
    for name in ("a", "b"):
        (data / "val" / name).mkdir(parents=True)
        image_folder(tmp_path / "scratch", {name: 2})
        for file in (tmp_path / "scratch" / "train" / name).iterdir():
            file.rename(data / "val" / name / file.name)
    assert run_cli("smallcnn_res", "--data", str(data), "--img-size", "32", "--m", "8", "--n", "32",
                   "--epochs", "1", "--out", str(tmp_path / "run")) == 0
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "run" / "best.pt"), "--data", str(data), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["count"] == 4 and result["classes"] == ["a", "b"]
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert result["top1"] == pytest.approx(saved["test_accuracy"])


def test_imagenet_weights_come_from_the_hub_cache_only(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    code = run_cli("resnet18", "--strategy", "last-layer", "--weights", "imagenet", "--out", str(tmp_path / "o"))
    err = capsys.readouterr().err
    assert code == 2 and "resnet18-f37072fd.pth" in err and str(tmp_path / "torch") in err
    assert "nothing is downloaded" in err


def test_auxiliary_tensors_of_a_checkpoint_are_accepted(tmp_path):
    """torchvision's GoogLeNet file carries aux1/aux2; fine-tuning loads the rest strictly."""
    torch.manual_seed(0)
    source = build("googlenet", num_classes=1000, aux_logits=True, h=64, w=64)
    path = tmp_path / "googlenet.pth"
    torch.save(source.state_dict(), path)
    prepared = model.prepare("googlenet", {}, 64, 5, str(path))
    loaded = prepared.model.state_dict()
    assert not any(key.startswith(("aux1.", "aux2.")) for key in loaded)
    assert all(torch.equal(loaded[key], value) for key, value in source.state_dict().items()
               if key in loaded and not key.startswith("fc."))


def test_wrong_checkpoint_names_the_mismatch(tmp_path):
    from cnncost.errors import CnncostError

    path = pretrained_file(tmp_path, "scratch5", m=4, k=1, n=8)
    with pytest.raises(CnncostError, match="^weights: scratch5-pretrained.pth does not fit smallcnn_res: "):
        model.prepare("smallcnn_res", SMALL, 32, 10, path)


def test_engine_mismatch_fails_loudly(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(finetune, "trainable_params", lambda table, names: (1, 2))
    code = run_cli("smallcnn_res", "--img-size", "32", "--synthetic-size", "100", "--out", str(tmp_path / "o"))
    assert code == 1 and "internal error" in capsys.readouterr().err


def test_compile_wraps_the_same_module(tmp_path):
    """--compile hands torch.compile's wrapper to the loop; it shares the module's parameters.

    (Compiling itself is not run here: inductor needs minutes of C++ builds on a CPU.)
    """
    from zoo.training import setup

    session = setup.start(config(tmp_path, compile=True))
    wrapped = session.step.forward
    assert wrapped is not session.prepared.model and wrapped._orig_mod is session.prepared.model
    assert not (tmp_path / "run").exists()  # setting up writes nothing


def test_default_run_folder_is_new_per_run(tmp_path, monkeypatch):
    from zoo.cli.train_command import default_out

    assert default_out("zoo.vgg19", "partial:2").startswith("runs/vgg19-partial2-")
    assert default_out("nets/my_net.toml", "scratch").startswith("runs/my_net-scratch-")
    monkeypatch.chdir(tmp_path)
    assert run_cli("smallcnn_res", "--img-size", "32", "--m", "8", "--n", "32", "--synthetic-size", "40",
                   "--epochs", "1") == 0
    (run,) = (tmp_path / "runs").iterdir()
    assert run.name.startswith("smallcnn_res-scratch-") and (run / "metrics.json").exists()


@pytest.mark.parametrize("schedule, warmup, expected", [
    # 10 steps per epoch, 4 epochs: 40 steps; factors at steps 0, 9, 10, 20, 39.
    ("constant", 1, [0.1, 1.0, 1.0, 1.0, 1.0]),
    ("step", 0, [1.0, 1.0, 1.0, 0.1, 0.1]),  # step_size 2 epochs, gamma 0.1
    ("cosine", 0, [1.0, None, None, 0.5, None]),
    ("onecycle", 0, [1 / 12, 10 / 12, 11 / 12, None, 1 / 28]),  # rises over 30% (12 steps), then falls
])
def test_schedules_by_hand(schedule, warmup, expected):
    from zoo.training.optim import lr_factor

    cfg = TrainConfig("scratch5", epochs=4, schedule=schedule, warmup_epochs=warmup, step_size=2, gamma=0.1)
    for step, want in zip((0, 9, 10, 20, 39), expected):
        if want is not None:
            assert lr_factor(step, 10, cfg) == pytest.approx(want), (step, want)
    if schedule == "cosine":
        factors = [lr_factor(step, 10, cfg) for step in range(40)]
        assert factors == sorted(factors, reverse=True) and factors[-1] < 0.01


@pytest.mark.parametrize("name, options, kind", [
    ("adam", {}, "Adam"), ("adamw", {"weight_decay": 0.05}, "AdamW"),
    ("sgd", {"momentum": 0.8, "nesterov": True}, "SGD"),
])
def test_optimizers(name, options, kind):
    from zoo.training.optim import make_optimizer

    parameter = torch.nn.Parameter(torch.zeros(3))
    optimizer = make_optimizer([parameter], TrainConfig("scratch5", optimizer=name, lr=0.5, **options))
    group = optimizer.param_groups[0]
    assert type(optimizer).__name__ == kind and group["lr"] == 0.5
    for key, value in options.items():
        assert group[key] == value


def test_early_stopping_after_patience_epochs(tmp_path):
    """With a vanishing learning rate validation accuracy cannot improve after epoch 1."""
    metrics = train(config(tmp_path, epochs=5, patience=1, lr=1e-12))
    assert [row["epoch"] for row in metrics["epochs"]] == [1, 2]
    assert metrics["best"]["epoch"] == 1


def test_every_optimisation_option_reaches_the_run(tmp_path, capsys):
    out = tmp_path / "run"
    assert run_cli("smallcnn_res", "--img-size", "32", "--m", "8", "--n", "32", "--synthetic-size", "60",
                   "--epochs", "2", "--optimizer", "sgd", "--momentum", "0.5", "--nesterov", "--weight-decay",
                   "0.001", "--schedule", "onecycle", "--clip-grad", "1.0", "--label-smoothing", "0.1",
                   "--dropout", "0.4", "--topk", "3", "--workers", "2", "--augment", "--out", str(out)) == 0
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["config"]["optimizer"] == "sgd" and saved["config"]["workers"] == 2
    assert saved["arch_config"]["dropout"] == 0.4 and saved["k"] == 3
    assert all(0 <= row["val_topk"] <= 1 for row in saved["epochs"])


def test_dropout_on_a_network_without_dropout_is_refused(tmp_path, capsys):
    assert run_cli("resnet18", "--img-size", "32", "--dropout", "0.3", "--out", str(tmp_path / "o")) == 2
    assert capsys.readouterr().err.startswith("error: --dropout: resnet18 has no dropout layer")


def test_headline_prints_trainable_and_frozen_counts(tmp_path, capsys):
    weights = pretrained_file(tmp_path)
    assert main(["train", "smallcnn_res", "--img-size", "32", "--m", "8", "--n", "32", "--synthetic-size", "40",
                 "--epochs", "1", "--strategy", "last-layer", "--weights", weights,
                 "--out", str(tmp_path / "run")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    head = 32 * 10 + 10  # fc2: n·classes + classes
    total = sum(p.numel() for p in build("smallcnn_res", num_classes=10, h=32, w=32, **SMALL).parameters())
    assert f"trainable {head:,} of {total:,}, frozen {total - head:,} (engine formula agrees)" in out
    assert "caching backbone features" in out and "test accuracy" in out


def test_imagenet_weights_load_from_the_hub_cache(tmp_path, monkeypatch):
    """The torchvision file name in $TORCH_HOME/hub/checkpoints is found and loaded strictly."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    folder = tmp_path / "torch" / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    torch.manual_seed(3)
    source = build("mobilenet_v2", num_classes=1000, h=32, w=32).state_dict()
    torch.save(source, folder / "mobilenet_v2-b0353104.pth")
    loaded = model.prepare("mobilenet_v2", {}, 32, 5, "imagenet").model.state_dict()
    assert loaded["classifier.1.weight"].shape == (5, 1280)
    assert all(torch.equal(loaded[key], value) for key, value in source.items() if not key.startswith("classifier.1"))
