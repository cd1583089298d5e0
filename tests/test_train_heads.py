"""Training with a replaced classifier top (--head gap|flatten) and the ``head`` strategy.

References: torch itself (which tensors changed, bit for bit, against the checkpoint file) and
the parameter count of the new head written out by hand from its shapes.
"""

import pytest
import torch

from cnncost import finetune
from cnncost import layers as L
from zoo import build
from zoo.runtime import model
from zoo.runtime.config import TrainConfig
from zoo.training.run import train

SMALL = {"m": 8, "n": 32}

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _checkpoint(tmp_path) -> str:
    """A 'pretrained' smallcnn_res file with its own top (flatten, fc1, fc2) and 1000 classes."""
    torch.manual_seed(3)
    net = build("smallcnn_res", num_classes=1000, h=32, w=32, **SMALL)
    path = tmp_path / "pretrained.pth"
    torch.save(net.state_dict(), path)
    return str(path)


def test_head_strategy_trains_exactly_the_new_head(tmp_path):
    weights = _checkpoint(tmp_path)
    cfg = TrainConfig(arch="smallcnn_res", strategy="head", data="synthetic", epochs=1, batch_size=16, lr=1e-2,
                      img_size=32, out=str(tmp_path / "run"), hyperparameters={**SMALL, "head": "gap"},
                      synthetic_size=64, quiet=True, weights=weights, plots=False)
    train(cfg)
    start = torch.load(weights, weights_only=True)
    end = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["model"]
    assert not any(key.startswith(("fc1.", "fc2.")) for key in end)  # the old top is gone
    kept = {k: v for k, v in start.items() if not k.startswith(("fc1.", "fc2."))}
    assert all(torch.equal(end[k], v) for k, v in kept.items())  # frozen and loaded bit for bit
    assert set(end) - set(kept) == {"head.fc.weight", "head.fc.bias"}
    assert not torch.equal(end["head.fc.weight"], torch.zeros_like(end["head.fc.weight"]))


def test_head_strategy_counts_the_new_head():
    network = build("smallcnn_res", h=32, w=32, head="flatten", classes=5, **SMALL).network_name
    assert network == "smallcnn_res"
    from cnncost import archs

    spec = archs.get("smallcnn_res")
    net = spec.build(**archs.resolve(spec, {**SMALL, "h": 32, "w": 32, "head": "flatten", "classes": 5}))
    assert finetune.trainable_layers(net, finetune.parse_strategy("head")) == {"head.fc"}
    module = build("smallcnn_res", h=32, w=32, head="flatten", classes=5, **SMALL)
    features = module.get_submodule("head.fc").in_features
    assert sum(p.numel() for n, p in module.named_parameters() if n.startswith("head.")) == features * 5 + 5
    own = spec.build(**archs.resolve(spec, {**SMALL, "h": 32, "w": 32}))
    names = [node.name for node in own.layers]
    top = L.leaves(own.layers[names.index(own.top):])
    assert finetune.trainable_layers(own, finetune.parse_strategy("head")) == \
        {leaf.name for leaf in top if leaf.name.startswith("fc")}


def test_a_checkpoint_with_the_old_top_loads_under_a_new_head(tmp_path):
    weights = _checkpoint(tmp_path)
    prepared = model.prepare("smallcnn_res", {**SMALL, "head": "flatten"}, 32, 4, weights)
    loaded = prepared.model.state_dict()
    source = torch.load(weights, weights_only=True)
    assert all(torch.equal(loaded[k], v) for k, v in source.items() if k in loaded)
    assert prepared.classifier == "head.fc" and loaded["head.fc.weight"].shape[0] == 4


def test_training_a_network_without_its_top_is_refused_in_one_line(tmp_path, capsys):
    from cnncost.cli import main

    code = main(["train", "smallcnn_res", "--img-size", "32", "--m", "8", "--n", "32", "--synthetic-size", "40",
                 "--epochs", "1", "--no-include-top", "--out", str(tmp_path / "run"), "--quiet"])
    assert code == 2
    assert capsys.readouterr().err == ("error: --include-top: off leaves the network no classifier "
                                       "to train; add --head gap or --head flatten\n")
    assert not (tmp_path / "run").exists()


def test_head_then_full_trains_the_head_first_and_everything_after(tmp_path):
    """Keras users' recipe in one run: --strategy head, then --then full; torch says what changed."""
    weights = _checkpoint(tmp_path)
    base = dict(arch="smallcnn_res", strategy="head", data="synthetic", epochs=1, batch_size=16, lr=1e-2,
                img_size=32, hyperparameters={**SMALL, "head": "gap"}, synthetic_size=64, quiet=True,
                weights=weights, plots=False, then="full", then_epochs=1, then_lr=1e-3)
    stage_one = TrainConfig(**{**base, "out": str(tmp_path / "one"), "then": None, "then_epochs": 0,
                               "then_lr": None})
    train(stage_one)
    after_one = torch.load(tmp_path / "one" / "checkpoint.pt", weights_only=True)["model"]
    metrics = train(TrainConfig(**base, out=str(tmp_path / "run")))
    end = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["model"]
    assert [row["stage"] for row in metrics["epochs"]] == [1, 2]
    assert [s["strategy"] for s in metrics["stages"]] == ["head", "full"] and metrics["stages"][1]["lr"] == 1e-3
    assert metrics["params"]["frozen"] == 0  # the last stage trains everything
    # The second stage changed the backbone, which the first stage had kept frozen.
    backbone = [k for k in after_one if not k.startswith("head.") and k.endswith("weight")]
    assert any(not torch.equal(after_one[k], end[k]) for k in backbone)


def test_a_two_stage_run_resumed_in_its_second_stage_equals_the_whole_run(tmp_path):
    weights = _checkpoint(tmp_path)
    base = dict(arch="smallcnn_res", strategy="head", data="synthetic", epochs=1, batch_size=16, lr=1e-2,
                img_size=32, hyperparameters={**SMALL, "head": "gap"}, synthetic_size=64, quiet=True,
                weights=weights, plots=False, then="full", then_lr=1e-3)
    whole = train(TrainConfig(**base, then_epochs=2, out=str(tmp_path / "whole")))
    train(TrainConfig(**base, then_epochs=1, out=str(tmp_path / "split")))  # stops inside stage 2
    resumed = train(TrainConfig(**base, then_epochs=2, out=str(tmp_path / "split"), resume=True))
    a = torch.load(tmp_path / "whole" / "checkpoint.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "split" / "checkpoint.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [r["stage"] for r in resumed["epochs"]] == [r["stage"] for r in whole["epochs"]] == [1, 2, 2]


@pytest.mark.parametrize("args, message", [
    (["--then-epochs", "2"], "--then-epochs/--then-lr: give --then STRATEGY for the second stage"),
    (["--then", "scratch", "--then-epochs", "1"], "--then: scratch would discard the first stage"),
    (["--then", "full"], "--then-epochs: 0 is out of range"),
    (["--then", "fullest", "--then-epochs", "1"], "--then: 'fullest' is not a strategy"),
    (["--then", "full", "--then-epochs", "1", "--patience", "2"], "--patience: not with --then"),
])
def test_bad_second_stage_options_are_one_line(tmp_path, capsys, args, message):
    from cnncost.cli import main

    code = main(["train", "smallcnn_res", "--img-size", "32", "--m", "8", "--n", "32", "--synthetic-size", "40",
                 "--epochs", "1", "--out", str(tmp_path / "run"), "--quiet", *args])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: " + message) and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "run").exists()
