"""``cnncost train --binary``: a 1-output head, sigmoid + BCE, read by every class-score consumer as [0, z].

Independent references: torch's own losses (``binary_cross_entropy`` on sigmoid(z), cross-entropy with label
smoothing on [0, z]), the built module's parameters and FlopCounterMode's MACs against ``cnncost count``, the
storages ``saved_tensors_hooks`` sees (for the loss's memory rule), and a plain loop over the test images.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from cnncost import conventions, engine, finetune
from cnncost.cli import main
from cnncost.errors import CnncostError
from cnncost.trainstep import analyze_step, parse_step
from zoo.saved_tensors import saved_storages
from zoo.runtime import model
from zoo.training import freeze
from zoo.runtime.config import TrainConfig
from zoo.training.evaluate import load_run
from zoo.training.run import train

SMALL = {"m": 8, "n": 32}
SIZE = 16
CLASSES = ("cats", "dogs")  # sorted: cats is class 0, dogs class 1 (the positive one)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def two_class_folder(root, per_class: int = 24, test_per_class: int = 8, names=CLASSES):
    """train/ and test/ of PNGs: each class a noisy image around its own brightness (learnable in one epoch)."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, count in (("train", per_class), ("test", test_per_class)):
        for index, name in enumerate(names):
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(count):
                level = 60 + 130 * index / max(1, len(names) - 1)
                pixels = np.clip(rng.normal(level, 40, (SIZE, SIZE, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(folder / f"{i}.png")
    return root


def config(tmp_path, data, name="run", **overrides) -> TrainConfig:
    values = dict(arch="smallcnn_res", data=str(data), epochs=1, batch_size=16, img_size=SIZE, lr=3e-3,
                  hyperparameters=dict(SMALL), out=str(tmp_path / name), quiet=True, plots=False, binary=True)
    values.update(overrides)
    return TrainConfig(**values)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return two_class_folder(tmp_path_factory.mktemp("catsdogs") / "data")


# ---------------------------------------------------------------- the loss and the scores, as mathematics

@settings(max_examples=40)
@given(z=st.lists(st.floats(-30, 30), min_size=1, max_size=16), seed=st.integers(0, 2**16),
       smoothing=st.sampled_from([0.0, 0.1, 0.35]))
def test_cross_entropy_on_0_z_is_bce_on_z(z, seed, smoothing):
    """CE([0, z], y) with label smoothing ε == BCE-with-logits(z, y(1 − ε) + ε/2) == the run's loss; softmax([0, z])
    gives sigmoid(z) to class 1 and argmax picks it exactly when z > 0."""
    z = torch.tensor(z, dtype=torch.float64)
    y = torch.randint(0, 2, z.shape, generator=torch.Generator().manual_seed(seed))
    scores = model.binary_scores(z[:, None])
    ce = F.cross_entropy(scores, y, label_smoothing=smoothing)
    bce = F.binary_cross_entropy_with_logits(z, y.double() * (1 - smoothing) + smoothing / 2)
    torch.testing.assert_close(ce, bce, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(model.BinaryCrossEntropy(smoothing)(scores, y), ce, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(scores.softmax(1)[:, 1], torch.sigmoid(z), rtol=1e-9, atol=1e-12)
    assert torch.equal(scores.argmax(1), (z > 0).long())


# ---------------------------------------------------------------- the head and what the engine counts

def test_the_head_has_one_output_and_the_engine_counts_it(folder, tmp_path, capsys):
    """The classifier of a --binary run has 1 output; its parameters are the module's numel and `cnncost count
    --classes 1`'s, its MACs FlopCounterMode's / 2."""
    from torch.utils.flop_counter import FlopCounterMode

    prepared = model.prepare("smallcnn_res", SMALL, SIZE, 2, binary=True)
    head = prepared.model._leaves[prepared.classifier]
    assert head.out_features == 1
    numel = sum(p.numel() for p in prepared.model.parameters())
    assert int(conventions.totals(engine.analyze(prepared.network))["params"]) == numel
    with FlopCounterMode(display=False) as counter:
        prepared.model(torch.zeros(1, 3, SIZE, SIZE))
    assert main(["count", "smallcnn_res", "--m", "8", "--n", "32", "--hw", str(SIZE), "--classes", "1",
                 "--json"]) == 0
    totals = json.loads(capsys.readouterr().out)["totals"]
    assert totals["params"] == numel and totals["macs"] * 2 == counter.get_total_flops()
    metrics = train(config(tmp_path, folder))
    assert metrics["params"]["trainable"] == numel
    assert torch.load(tmp_path / "run" / "best.pt", weights_only=True)["model"]["fc2.weight"].shape == (1, 32)


def test_non_binary_data_is_refused_in_one_line(tmp_path, capsys):
    three = two_class_folder(tmp_path / "three", 2, 1, names=("a", "b", "c"))
    for data in (three, "synthetic"):
        code = main(["train", "smallcnn_res", "--data", str(data), "--binary", "--out", str(tmp_path / "out"),
                     "--quiet"])
        err = capsys.readouterr().err
        assert code == 2 and err.startswith("error: --binary: ") and "needs exactly 2" in err, err
        assert err.count("\n") == 1 and not (tmp_path / "out").exists()
    with pytest.raises(CnncostError, match="binary: .* outputs 2 values; a binary head has 1"):
        analyze_step(engine.analyze(model.describe("smallcnn_res", SMALL, SIZE, 2)[2]),
                     parse_step("scratch", 4, "adam", "fp32", "cpu", "binary"))


# ---------------------------------------------------------------- a run's losses, metrics and memory

def test_reported_losses_are_bce_of_the_saved_model(folder, tmp_path):
    """val_loss and test_loss equal torch's binary_cross_entropy(sigmoid(z), y) from best.pt's weights in a plain
    module (no cnncost scores); accuracy and the confusion matrix count z > 0 as class 1 (dogs); evaluate, and the
    class probabilities `show` reads, agree; the predicted saved bytes are the measured ones."""
    metrics = train(config(tmp_path, folder, lr=1e-2))  # one epoch: best.pt holds the weights validated
    assert metrics["classes"] == list(CLASSES)
    best = torch.load(tmp_path / "run" / "best.pt", weights_only=True)["model"]
    plain = model.prepare("smallcnn_res", SMALL, SIZE, 1).model  # 1 output, no [0, z] hook
    plain.load_state_dict(best)
    plain.eval()
    run = load_run(str(tmp_path / "run"), device="cpu")
    for split, loss_key in (("val", None), ("test", "test_loss")):
        images, labels = split_tensors(run, folder, split)
        with torch.no_grad():
            z = plain(images)[:, 0]
        bce = F.binary_cross_entropy(torch.sigmoid(z), labels.float())
        shown = metrics["epochs"][0]["val_loss"] if loss_key is None else metrics[loss_key]
        assert shown == pytest.approx(float(bce), rel=1e-5), split
    predicted = (z > 0).long()
    assert metrics["test_accuracy"] == pytest.approx(float((predicted == labels).double().mean()))
    assert metrics["confusion"] == [[int(((labels == t) & (predicted == p)).sum()) for p in (0, 1)] for t in (0, 1)]
    assert metrics["test_accuracy"] > 0.8  # the brightness is easy: chance is 0.5
    from zoo.inspect.attribution import predict
    from zoo.training.evaluate import evaluate_run

    probabilities = predict(run.model, images)
    torch.testing.assert_close(probabilities[:, 1], torch.sigmoid(z), rtol=1e-5, atol=1e-6)
    assert torch.equal(probabilities.argmax(1), predicted)
    evaluated = evaluate_run(str(tmp_path / "run"), str(folder), device="cpu")
    assert evaluated["confusion"] == metrics["confusion"] and evaluated["loss"] == pytest.approx(float(bce), rel=1e-5)
    assert metrics["memory"]["predicted_saved_bytes"] == metrics["memory"]["measured_saved_bytes"]


def split_tensors(run, folder, split: str) -> tuple:
    """(images, labels) of a split of ``folder`` as the run's network sees them."""
    from zoo.training.data import load_data
    from zoo.training.loaders import collate, make_dataset

    source = load_data(str(folder), val_fraction=run.config.val_fraction, seed=run.config.seed)
    mean, std = run.normalisation
    dataset = make_dataset(source, split, size=run.size, mean=mean, std=std, channels=3)
    images, labels, _ = collate([dataset[i] for i in range(len(dataset))])
    return images, labels


@pytest.mark.parametrize("dtype, smoothing", [("fp32", 0.0), ("fp32", 0.2), ("bf16", 0.0)])
def test_the_binary_losss_saved_tensors_are_modelled(dtype, smoothing):
    """The step's saved bytes with the BCE loss equal what saved_tensors_hooks sees in one forward and loss of the
    binary module (fp32, label smoothing, bf16 autocast on CPU)."""
    prepared = model.prepare("smallcnn_res", SMALL, SIZE, 2, binary=True)
    strategy = finetune.parse_strategy("scratch")
    plan = freeze.apply_strategy(prepared.model, prepared.network, prepared.table, strategy)
    freeze.set_training_mode(prepared.model, plan)
    images, labels = torch.randn(3, 3, SIZE, SIZE), torch.tensor([0, 1, 1])
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == "bf16")
    with saved_storages(prepared.model) as found:
        with autocast:
            scores = prepared.model(images)
        model.BinaryCrossEntropy(smoothing)(scores.float(), labels).backward()
    expected = analyze_step(prepared.table, parse_step("scratch", 3, "adam", dtype, "cpu", "binary"))
    assert sum(found.values()) == expected.saved_bytes
    assert expected.loss_saved_per_sample == 12 and expected.loss_saved_fixed == 0


def test_fine_tuning_replaces_the_head_with_one_unit(folder, tmp_path):
    """last-layer from a 10-class checkpoint: the backbone is the checkpoint's, the head a new 1-unit layer."""
    from zoo import build

    torch.manual_seed(1)
    pretrained = build("smallcnn_res", num_classes=10, h=SIZE, w=SIZE, **SMALL).state_dict()
    torch.save(pretrained, tmp_path / "pretrained.pth")
    train(config(tmp_path, folder, strategy="last-layer", weights=str(tmp_path / "pretrained.pth")))
    tuned = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["model"]
    assert tuned["fc2.weight"].shape == (1, 32) and tuned["fc2.bias"].shape == (1,)
    assert all(torch.equal(tuned[k], v) for k, v in pretrained.items() if not k.startswith("fc2."))
