"""``--augment SPEC`` and ``--resize``: kornia's batch transforms against their definitions.

Independent references: torch.flip and torch.rot90, numpy's zero padding and slicing, plain arithmetic
for the jitter factors, mixup's blend and cutmix's box, torch's interpolate for a whole-image crop,
torch's own soft-target cross-entropy and BCE for the mixed loss, PIL's resize for ``--resize plain``,
and an uninterrupted run for ``--resume``.
"""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from cnncost.cli import main
from cnncost.errors import CnncostError
from zoo.runtime import augment_spec, images
from zoo.training import augment
from zoo.runtime.config import TrainConfig
from zoo.training.data import DataSource, Sample, load_data
from zoo.training.loaders import collate, make_dataset, make_loader
from zoo.training.loop import Runtime, on_device
from zoo.training.run import train

pytestmark = pytest.mark.usefixtures("one_torch_thread")

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
EVERYTHING = "hflip,vflip,rotate=0.1,crop=0.35,jitter=0.2,mixup=0.2,cutmix=1.0"


def recipe(spec: str, size: int = 8) -> augment.Recipe:
    return augment.recipe(spec, size, MEAN, STD)


def pixels(count: int, side: int, seed: int = 0) -> torch.Tensor:
    """A batch of random uint8 images [count, 3, side, side]."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (count, 3, side, side), generator=generator, dtype=torch.uint8)


def normalised(batch: torch.Tensor) -> torch.Tensor:
    """What the eval path makes of uint8 pixels: /255, then (x − mean) / std per channel."""
    return torch.stack([images.normalise(image.float() / 255, MEAN, STD) for image in batch])


def keys_with(spec: str, name: str, count: int = 6) -> tuple:
    """``count`` keys whose draws set flag ``name`` on some images and not on others."""
    for start in range(0, 10_000, count):
        keys = tuple(range(start, start + count))
        flags = {augment.draw(recipe(spec), key)[name] for key in keys}
        if flags == {True, False}:
            return keys
    raise AssertionError("no mixed draw found")


# ---------------------------------------------------------------- each transform against its definition


@pytest.mark.parametrize("name, dim", [("hflip", -1), ("vflip", -2)])
def test_flips_are_torch_flip_of_the_drawn_images(name, dim):
    keys = keys_with(name, name)
    batch = pixels(len(keys), 8)
    out = augment.crop_and_flip(batch, recipe(name), [augment.draw(recipe(name), key) for key in keys])
    for image, result, key in zip(batch, out, keys):
        expected = image.flip(dim) if augment.draw(recipe(name), key)[name] else image
        assert torch.equal(result, expected)


def test_a_quarter_turn_is_rot90():
    square = torch.rand(2, 3, 9, 9)
    turned = augment.rotate(square, torch.tensor([90.0, -90.0]))
    # Counter-clockwise as displayed, as Keras' positive factors; interior pixels (no fill involved).
    assert torch.allclose(turned[0, :, 1:-1, 1:-1], torch.rot90(square[0], 1, (-2, -1))[:, 1:-1, 1:-1], atol=1e-5)
    assert torch.allclose(turned[1, :, 1:-1, 1:-1], torch.rot90(square[1], -1, (-2, -1))[:, 1:-1, 1:-1], atol=1e-5)


def test_rotate_draws_a_fraction_of_a_full_turn():
    angles = [augment.draw(recipe("rotate=0.1"), key)["degrees"] for key in range(400)]
    assert max(abs(a) for a in angles) <= 36.0 and max(angles) > 30 and min(angles) < -30  # ±0.1 × 360°


def test_pad_crop_is_a_slice_of_the_zero_padded_image():
    spec, size, pad = "pad-crop=3", 8, 3
    keys = tuple(range(20, 26))
    batch = pixels(len(keys), size)
    params = [augment.draw(recipe(spec), key) for key in keys]
    out = augment.crop_and_flip(batch, recipe(spec), params)
    padded = np.pad(batch.numpy(), ((0, 0), (0, 0), (pad, pad), (pad, pad)))  # zeros: black
    for i, p in enumerate(params):
        x, y = p["offset"]
        assert 0 <= x <= 2 * pad and 0 <= y <= 2 * pad
        assert np.array_equal(out[i].numpy(), padded[i, :, y:y + size, x:x + size])
    assert len({p["offset"] for p in params}) > 1


def test_colour_factors_against_their_definitions():
    image = torch.rand(1, 3, 6, 6) * 0.8
    brightness = augment.colour(image, brightness=torch.tensor([1.3]))
    assert torch.allclose(brightness, (image * 1.3).clamp(0, 1), atol=1e-6)  # brightness scales every pixel
    grey = 0.299 * image[:, 0] + 0.587 * image[:, 1] + 0.114 * image[:, 2]
    contrast = augment.colour(image, contrast=torch.tensor([0.6]))
    assert torch.allclose(contrast, (0.6 * image + 0.4 * grey.mean()).clamp(0, 1), atol=1e-5)
    saturation = augment.colour(image, saturation=torch.tensor([0.5]))
    assert torch.allclose(saturation, (0.5 * image + 0.5 * grey[:, None]).clamp(0, 1), atol=1e-5)
    all_three = augment.colour(image, torch.tensor([1.0]), torch.tensor([1.0]), torch.tensor([1.0]))
    assert torch.allclose(all_three, image, atol=1e-6)
    one_channel = image[:, :1]  # greyscale: contrast pivots on its own mean, saturation does nothing
    assert torch.allclose(augment.colour(one_channel, contrast=torch.tensor([0.5]), saturation=torch.tensor([0.1])),
                          (0.5 * one_channel + 0.5 * one_channel.mean()).clamp(0, 1), atol=1e-6)
    draws = [augment.draw(recipe("jitter=0.2"), key) for key in range(200)]
    assert all(0.8 <= d[part] <= 1.2 for d in draws for part in augment.COLOURS)
    assert {tuple(augment.draw(recipe("brightness=0.3"), key)) for key in range(5)} == {("brightness",)}


def test_a_whole_image_crop_is_a_plain_resize():
    base = recipe("crop=1.0", size=8).base_side  # crop draws from the round(8·256/224) = 9 square
    assert base == 9
    assert {augment.draw(recipe("crop=1.0"), key)["box"] for key in range(50)} == {(0, 0, 9, 9)}
    batch = torch.rand(2, 3, 9, 9)
    out = augment.resized_crop(batch, [(0, 0, 9, 9)] * 2, 8)
    reference = torch.nn.functional.interpolate(batch, size=(8, 8), mode="bilinear", align_corners=False)
    assert torch.allclose(out, reference, atol=1e-6)
    levels = (batch * 255).round()
    as_bytes = augment.resized_crop(levels.to(torch.uint8), [(0, 0, 9, 9)] * 2, 8)
    exact = torch.nn.functional.interpolate(levels, size=(8, 8), mode="bilinear", align_corners=False)
    assert (as_bytes.float() - exact).abs().max() <= 1.0  # uint8 resize: rounded to a level


def test_crop_boxes_keep_the_area_and_aspect_asked_for():
    boxes = [augment.draw(recipe("crop=0.35", size=64), key)["box"] for key in range(300)]
    side = images.eval_resize(64)
    for left, top, width, height in boxes:
        assert 0 <= left and left + width <= side and 0 <= top and top + height <= side
        assert width * height >= 0.35 * side * side * 0.95  # rounding of the sides
        assert 3 / 4 * 0.9 <= width / height <= 4 / 3 * 1.1 or (width, height) == (side, side)


def batch_of(spec: str, keys: tuple, side: int, labels=None):
    """(inputs, labels, the applied result) of an augmented batch of random images."""
    inputs = pixels(len(keys), side, seed=7)
    labels = torch.arange(len(keys)) if labels is None else labels
    return inputs, labels, augment.apply(augment.BatchPlan(recipe(spec, side), keys), inputs, labels)


def test_mixup_blends_each_image_with_its_partner():
    keys = tuple(range(100, 108))
    inputs, labels, (out, targets) = batch_of("mixup=0.4", keys, 8)
    mix = augment.draw_mix(recipe("mixup=0.4"), keys, 8)
    weight, partner = mix["weight"], mix["partner"]
    plain = normalised(inputs)
    assert torch.allclose(out, weight * plain + (1 - weight) * plain[partner], atol=1e-5)
    assert targets.weight == weight and torch.equal(targets.first, labels)
    assert torch.equal(targets.second, labels[partner]) and sorted(partner) == list(range(len(keys)))


def test_cutmix_pastes_a_box_and_weighs_the_labels_by_its_area():
    keys = tuple(range(300, 306))
    inputs, labels, (out, targets) = batch_of("cutmix=1.0", keys, 16)
    mix = augment.draw_mix(recipe("cutmix=1.0", 16), keys, 16)
    left, top, right, bottom = mix["box"]
    assert targets.weight == pytest.approx(1 - (right - left) * (bottom - top) / 256)
    plain, partner = normalised(inputs), mix["partner"]
    inside = torch.zeros(16, 16, dtype=torch.bool)
    inside[top:bottom, left:right] = True
    assert torch.allclose(out[..., ~inside], plain[..., ~inside], atol=1e-6)  # outside the box: unchanged
    assert torch.allclose(out[..., inside], plain[partner][..., inside], atol=1e-6)
    assert torch.equal(targets.second, labels[partner])


def test_both_mixes_are_chosen_about_half_the_time():
    kinds = [augment.draw_mix(recipe("mixup=0.2,cutmix=1.0"), (start, start + 1), 8)["kind"]
             for start in range(0, 400, 2)]
    assert 70 < kinds.count("cutmix") < 130


@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_the_mixed_loss_is_torch_soft_target_cross_entropy(reduction):
    generator = torch.Generator().manual_seed(3)
    logits = torch.randn(6, 5, generator=generator)
    first, second = torch.tensor([0, 1, 2, 3, 4, 0]), torch.tensor([4, 4, 1, 3, 0, 2])
    criterion = torch.nn.CrossEntropyLoss(label_smoothing=0.1, reduction=reduction)
    mixed = augment.loss_of(criterion, logits, augment.Mixed(first, second, 0.3))
    soft = 0.3 * torch.nn.functional.one_hot(first, 5).float() + 0.7 * torch.nn.functional.one_hot(second, 5).float()
    assert torch.allclose(mixed, criterion(logits, soft), atol=1e-6)  # torch smooths soft targets the same way
    logit = logits[:, 0]  # one logit, BCE (--binary's loss): linear in its target too
    bce = torch.nn.BCEWithLogitsLoss(reduction=reduction)
    mixed_bce = augment.loss_of(lambda z, y: bce(z, y.float()), logit, augment.Mixed(first % 2, second % 2, 0.3))
    assert torch.allclose(mixed_bce, bce(logit, 0.3 * (first % 2).float() + 0.7 * (second % 2).float()), atol=1e-6)
    assert torch.equal(augment.labels_of(augment.Mixed(first, second, 0.3)), second)  # the dominant label
    assert torch.equal(augment.labels_of(augment.Mixed(first, second, 0.5)), first)


# ---------------------------------------------------------------- determinism and the training loop


def augmented_samples(dataset, batch_size: int, epoch: int = 0) -> dict:
    """{index: augmented image} of one epoch, through the loader and the loop's device step."""
    loader = make_loader(dataset, batch_size, shuffle=True, seed=1, epoch=epoch)
    order, runtime, seen = loader.sampler.order(), Runtime(torch.device("cpu"), False, False), []
    for inputs, labels, _, *plan in loader:
        out, _, _ = on_device(runtime, inputs, labels, plan)
        seen += list(out)
    return dict(zip(order, seen, strict=True))


def test_an_image_is_augmented_alike_whatever_the_batch_size():
    source = load_data("synthetic", synthetic_size=30)
    dataset = make_dataset(source, "train", 12, augment="hflip,vflip,rotate=0.2,crop=0.35,jitter=0.3", seed=4)
    alone, together = augmented_samples(dataset, 1), augmented_samples(dataset, 7)
    assert all(torch.equal(alone[i], together[i]) for i in alone)
    later = augmented_samples(dataset, 7, epoch=1)
    assert sum(not torch.equal(later[i], together[i]) for i in later) > len(later) // 2  # epochs differ
    again = make_dataset(source, "train", 12, augment="crop=0.35,jitter=0.3,hflip,vflip,rotate=0.2", seed=4)
    assert all(torch.equal(a, b) for a, b in zip(augmented_samples(again, 7).values(), together.values()))


def test_the_dataset_delivers_uint8_squares_and_keys():
    dataset = make_dataset(load_data("synthetic", synthetic_size=20), "train", 16, augment="crop", seed=2)
    image, label, key = dataset[3]
    assert image.dtype == torch.uint8 and image.shape == (3, 18, 18)  # round(16·256/224)
    assert key.key == dataset[3][2].key and key.key != dataset[4][2].key
    inputs, labels, bad, plan = collate([dataset[i] for i in range(4)])
    assert inputs.shape == (4, 3, 18, 18) and plan.keys == tuple(dataset[i][2].key for i in range(4))
    assert make_dataset(load_data("synthetic", synthetic_size=20), "val", 16, augment="crop")[0][0].dtype \
        == torch.float32  # validation is never augmented


def config(tmp_path, name, **overrides) -> TrainConfig:
    values = dict(arch="smallcnn_res", data="synthetic", epochs=2, batch_size=8, img_size=16, out=str(tmp_path / name),
                  hyperparameters={"m": 4, "n": 8}, synthetic_size=40, quiet=True, plots=False, augment=EVERYTHING)
    values.update(overrides)
    return TrainConfig(**values)


@pytest.mark.parametrize("accumulate", [1, 2])  # 2: the per-sample loss path (steps.py) on one process
def test_an_interrupted_augmented_run_resumes_bit_identically(tmp_path, accumulate):
    train(config(tmp_path, "straight", accumulate=accumulate))

    def stop(epoch, row):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(config(tmp_path, "resumed", accumulate=accumulate), on_epoch_end=stop)
    train(config(tmp_path, "resumed", accumulate=accumulate, resume=True))
    straight, resumed = (torch.load(tmp_path / run / "checkpoint.pt", weights_only=True) for run in ("straight",
                                                                                                    "resumed"))
    assert all(torch.equal(straight["model"][name], resumed["model"][name]) for name in straight["model"])
    assert [row["train_loss"] for row in straight["history"]] == [row["train_loss"] for row in resumed["history"]]
    saved = json.loads((tmp_path / "straight" / "metrics.json").read_text())
    assert saved["config"]["augment"] == "crop=0.35,hflip,vflip,rotate=0.1,jitter=0.2,mixup=0.2,cutmix=1.0"


def test_cached_and_streamed_augmented_runs_train_the_same_weights(tmp_path):
    train(config(tmp_path, "cached", epochs=1))
    train(config(tmp_path, "streamed", epochs=1, cache=False))
    cached, streamed = (torch.load(tmp_path / run / "checkpoint.pt", weights_only=True)["model"]
                        for run in ("cached", "streamed"))
    assert all(torch.equal(cached[name], streamed[name]) for name in cached)


def test_last_layer_with_augment_trains_on_augmented_images_not_cached_features(tmp_path, monkeypatch):
    from zoo import build

    torch.manual_seed(0)
    weights = tmp_path / "w.pth"
    torch.save(build("smallcnn_res", num_classes=10, h=16, w=16, m=4, n=8).state_dict(), weights)

    def no_cache(*args, **kwargs):
        raise AssertionError("features were cached although the images are augmented")

    monkeypatch.setattr("zoo.training.run.extract", no_cache)
    train(config(tmp_path, "head", strategy="last-layer", weights=str(weights), epochs=1, augment="hflip,jitter"))


def test_old_run_configs_with_a_boolean_augment_still_load():
    assert TrainConfig.from_dict({"arch": "x", "augment": True}).augment == augment_spec.DEFAULT
    assert TrainConfig.from_dict({"arch": "x", "augment": False}).augment == ""
    assert TrainConfig.from_dict({"arch": "x"}).resize == "crop"
    old = TrainConfig.from_dict({"arch": "x", "augment": True})
    assert TrainConfig("x", augment="default").changed_fields(old) == []
    assert TrainConfig("x", augment="contrast,hflip,crop,brightness").changed_fields(old) == []  # other order
    assert TrainConfig("x", augment="hflip").changed_fields(old) == ["augment"]


# ---------------------------------------------------------------- the command line


def captured(monkeypatch) -> list:
    seen = []
    monkeypatch.setattr("zoo.training.run.train", lambda given: seen.append(given))
    return seen


def test_bare_augment_is_the_default_recipe_and_a_spec_is_canonical(tmp_path, monkeypatch):
    seen = captured(monkeypatch)
    out = ["--out", str(tmp_path / "o")]
    assert main(["train", "scratch5", "--augment"] + out) == 0
    assert main(["train", "scratch5", "--augment", "--epochs", "2"] + out) == 0  # before another option
    assert main(["train", "scratch5", "--augment", "rotate=0.4,vflip,hflip", "--resize", "plain"] + out) == 0
    assert main(["train", "scratch5"] + out) == 0
    assert [c.augment for c in seen] == [augment_spec.DEFAULT, augment_spec.DEFAULT, "hflip,vflip,rotate=0.4", ""]
    assert augment_spec.DEFAULT == "crop=0.35,hflip,brightness=0.2,contrast=0.2"  # the recipe bare --augment had
    assert seen[1].epochs == 2 and seen[2].resize == "plain" and seen[0].resize == "crop"


HOSTILE = ["shear", "hflip=1", "rotate=", "rotate=0.6", "rotate=-0.1", "rotate=nan", "rotate=inf", "rotate=1e999",
           "crop=0", "crop=1.5", "pad-crop=0", "pad-crop=2.5", "pad-crop=99999999", "jitter=1", "mixup=0",
           "cutmix=-1", "mixup=1e9", "hflip,hflip", "crop,pad-crop=4", ",", "hflip,", "=0.3", "hflip;vflip",
           "crop=0x1", "crop=1_0", "rotate=٣", "jitter,brightness", "saturation=1.5", "contrast=0.2=0.3", "a" * 5000, "hflip\nvflip", "rotate=0.1\x00"]


@pytest.mark.parametrize("spec", HOSTILE)
def test_a_hostile_spec_is_one_line_and_exit_2(tmp_path, capsys, spec):
    code = main(["train", "scratch5", "--augment", spec, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: --augment: ") and err.count("\n") == 1, err
    assert len(err) < 300 and not (tmp_path / "o").exists()


def test_a_bad_resize_and_a_non_text_spec_are_one_line(tmp_path, capsys):
    assert main(["train", "scratch5", "--resize", "stretch", "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err == "error: --resize: 'stretch' is out of range (need one of crop, plain)\n"
    with pytest.raises(CnncostError, match=r"^augment: 3 is not a comma-separated list"):
        TrainConfig("x", augment=3).check()


def test_the_help_names_the_default_recipe():
    from zoo.runtime.config import AUGMENT_HELP

    assert AUGMENT_HELP.endswith("alone: " + augment_spec.DEFAULT)
    assert all(name in AUGMENT_HELP for name in augment_spec.KINDS)


# ---------------------------------------------------------------- --resize


def test_resize_plain_is_a_pil_resize_of_the_file(tmp_path):
    path = tmp_path / "wide.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (20, 44, 3), dtype=np.uint8), "RGB").save(path)
    source = DataSource("folder", "x", ["a"], [Sample(str(path), 0)], [Sample(str(path), 0)], [Sample(str(path), 0)])
    expected = np.asarray(Image.open(path).convert("RGB").resize((12, 12), Image.Resampling.BILINEAR))
    reference = images.normalise(torch.from_numpy(expected.copy()).permute(2, 0, 1).float() / 255, MEAN, STD)
    for split in ("val", "test"):
        assert torch.allclose(make_dataset(source, split, 12, resize="plain")[0][0], reference, atol=1e-6)
    trained = make_dataset(source, "train", 12, resize="plain", augment="hflip")[0][0]  # no crop: the eval image
    assert np.array_equal(trained.permute(1, 2, 0).numpy(), expected)
    cropped = make_dataset(source, "val", 12)[0][0]  # the default: shorter side, centre crop
    assert not torch.allclose(cropped, reference, atol=1e-3)


def test_a_run_resizes_every_split_as_asked(tmp_path, monkeypatch):
    import zoo.training.run as run

    asked, original = [], run.make_dataset
    monkeypatch.setattr(run, "make_dataset", lambda *a, **kw: asked.append((a[1], kw["resize"])) or original(*a, **kw))
    train(config(tmp_path, "plain", epochs=1, resize="plain", augment=""))
    assert asked == [("train", "plain"), ("val", "plain"), ("test", "plain")]


def test_evaluate_and_show_preprocess_as_the_run_did(tmp_path, monkeypatch):
    """A --resize plain run is evaluated and looked at with plain resizing, not the default centre crop."""
    import zoo.training.evaluate as evaluate
    from zoo.inspect import source as inspect_source

    run_folder = tmp_path / "plain"
    train(config(tmp_path, "plain", epochs=1, resize="plain", augment=""))
    asked, original = [], evaluate.make_dataset
    monkeypatch.setattr(evaluate, "make_dataset", lambda *a, **kw: asked.append(kw["resize"]) or original(*a, **kw))
    evaluate.evaluate_run(str(run_folder), "synthetic")
    assert asked == ["plain"]
    subject = inspect_source.open_subject(str(run_folder), device="cpu")
    path = tmp_path / "wide.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (20, 44, 3), dtype=np.uint8), "RGB").save(path)
    expected = np.asarray(Image.open(path).convert("RGB").resize((16, 16), Image.Resampling.BILINEAR))
    reference = images.normalise(torch.from_numpy(expected.copy()).permute(2, 0, 1).float() / 255,
                                 *subject.normalisation)
    assert torch.allclose(inspect_source.load_image(str(path), subject)[0], reference, atol=1e-6)
