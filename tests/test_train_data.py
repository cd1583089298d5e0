"""cnncost train's data: folder scans, the stratified split, transforms, loaders, synthetic shapes.

Everything runs on CPU on images the tests draw themselves with PIL.
"""

import math
import os

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

from cnncost.errors import CnncostError  # noqa: E402
from zoo.runtime import images  # noqa: E402
from zoo.runtime.images import denormalise  # noqa: E402
from zoo.training import synthetic  # noqa: E402
from zoo.training.data import DataSource, Sample, load_data, stratified_split  # noqa: E402
from zoo.training.loaders import (  # noqa: E402
    IMAGENET_MEAN, IMAGENET_STD, Unreadable, collate, make_dataset, make_loader)



pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ---------------------------------------------------------------- folder fixtures


def write_image(path, colour=(200, 40, 90), size=(24, 18), mode="RGB", noise=False, **save):
    """A small image file at ``path``: constant ``colour``, or random noise (for augmentation tests)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if noise:
        rng = np.random.default_rng(len(str(path)))
        image = Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8), "RGB")
    else:
        image = Image.new(mode, size, colour)
    image.save(path, **save)
    return str(path)


def make_dataset_folder(root, test_name="val", per_class=5):
    """train/{ant,bee,cat}/ with PNG/JPEG/grey/RGBA images and junk, and a test folder next to it."""
    expected = []  # (path, label) of every training image, as the scan must find them
    for label, name in enumerate(["ant", "bee", "cat"]):
        for i in range(per_class):
            suffix = ".png" if i % 2 else ".JPG"  # upper-case suffixes count too
            expected.append((write_image(root / "train" / name / f"img{i}{suffix}"), label))
    expected.append((write_image(root / "train" / "ant" / "grey.png", 77, mode="L"), 0))
    expected.append((write_image(root / "train" / "ant" / "sub" / "deep.png"), 0))  # searched recursively
    expected.append((write_image(root / "train" / "bee" / "alpha.png", (10, 20, 30, 255), mode="RGBA"), 1))
    bad = root / "train" / "cat" / "bad.jpg"
    bad.write_bytes(b"this is not a jpeg \x00\xff" * 10)
    expected.append((str(bad), 2))
    junk = [root / "train" / "ant" / ".DS_Store", root / "train" / "bee" / "notes.txt",
            root / "train" / "README.md"]
    for path in junk:
        touch(path)
    write_image(root / "train" / ".ipynb_checkpoints" / "x.png")  # hidden folder: not a class
    # The test folder may lack a class; labels follow the training classes (cat is 2).
    tests = [(write_image(root / test_name / name / "t.png"), label) for name, label in [("ant", 0), ("cat", 2)]]
    return sorted(expected), tests, [str(p) for p in junk] + [str(root / "train" / ".ipynb_checkpoints")]


@pytest.fixture
def folder(tmp_path):
    """An iNaturalist-style folder and what its scan must find."""
    expected, tests, junk = make_dataset_folder(tmp_path / "data")
    return tmp_path / "data", expected, tests, junk


def touch(path, text="not an image"):
    """A non-image file at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def one_line_error(call, prefix, *phrases):
    """Assert ``call()`` raises a one-line CnncostError starting ``prefix`` and naming ``phrases``."""
    with pytest.raises(CnncostError) as error:
        call()
    message = str(error.value)
    assert "\n" not in message and message.startswith(prefix), message
    for phrase in phrases:
        assert phrase in message, message
    return message


# ---------------------------------------------------------------- the scan


def test_scan_finds_exactly_the_images_with_sorted_class_labels(folder):
    root, expected, tests, junk = folder
    source = load_data(str(root))
    assert source.kind == "folder" and source.root == str(root)
    assert source.classes == ["ant", "bee", "cat"]
    assert sorted(source.train + source.val) == expected  # bad.jpg is found: its content is checked later
    assert sorted(source.test) == sorted(tests) and source.test_folder == "val"
    assert sorted(source.skipped) == sorted(junk)
    assert all(isinstance(s, Sample) for s in source.train + source.val + source.test)
    assert source.summary() == "3 classes · train 16 · val 3 · test 2 (val/) · 4 non-image entries skipped"


@pytest.mark.parametrize("names, used", [(["val"], "val"), (["test"], "test"), (["val", "test"], "test"),
                                         ([], "")])
def test_test_folder_is_val_or_test_next_to_train(tmp_path, names, used):
    for name in ["x", "y"]:
        for i in range(3):
            write_image(tmp_path / "train" / name / f"{i}.png")
    for folder_name in names:
        write_image(tmp_path / folder_name / "y" / f"{folder_name}.png")
    source = load_data(str(tmp_path))
    assert source.test_folder == used
    assert [os.path.basename(p) for p, _ in source.test] == ([f"{used}.png"] if used else [])
    assert all(label == 1 for _, label in source.test)


def test_a_folder_of_class_folders_is_the_training_set(folder):
    root, expected, _, _ = folder
    source = load_data(str(root / "train"))  # pointed straight at train/: no test split
    assert sorted(source.train + source.val) == expected and source.test == [] and source.test_folder == ""


@pytest.mark.parametrize("build, phrases", [
    (lambda r: None, ["does not exist", "train/<class>/"]),
    (lambda r: touch(r), ["is a file"]),
    (lambda r: write_image(r / "val" / "a" / "1.png"), ["no train/ folder", "it has val/"]),
    (lambda r: write_image(r / "train" / "img.png"), ["no class folders"]),
    (lambda r: write_image(r / "train" / "cat" / "1.png"), ["one class only", "'cat'"]),
    (lambda r: (write_image(r / "train" / "a" / "1.png"), write_image(r / "train" / "a" / "2.png"),
                touch(r / "train" / "b" / "notes.txt"), write_image(r / "train" / "c" / "1.png")),
     ["empty class 'b'"]),
    (lambda r: (write_image(r / "train" / "a" / "1.png"), write_image(r / "train" / "a" / "2.png"),
                write_image(r / "train" / "b" / "1.png")), ["class 'b' has only 1 image", "at least 2"]),
    (lambda r: (write_image(r / "train" / "a" / "1.png"), write_image(r / "train" / "a" / "2.png"),
                write_image(r / "train" / "b" / "1.png"), write_image(r / "train" / "b" / "2.png"),
                write_image(r / "test" / "zebra" / "1.png")), ["class 'zebra'", "not a training class"]),
], ids=["missing", "file", "no-train", "no-classes", "one-class", "empty-class", "too-few", "unknown-test"])
def test_bad_folders_give_one_data_line(tmp_path, build, phrases):
    root = tmp_path / "data"
    build(root)
    one_line_error(lambda: load_data(str(root)), "data: ", *phrases)


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5, float("nan")])
def test_val_fraction_outside_0_1(folder, fraction):
    one_line_error(lambda: load_data(str(folder[0]), val_fraction=fraction), "val_fraction: ",
                   "(need 0 < value < 1)")
    one_line_error(lambda: load_data("synthetic", val_fraction=fraction), "val_fraction: ")


def test_synthetic_needs_two_images_per_class():
    one_line_error(lambda: load_data("synthetic", synthetic_size=19), "data: ", "at least 20")


# ---------------------------------------------------------------- the stratified split


@given(counts=st.lists(st.integers(2, 40), min_size=2, max_size=6),
       fraction=st.floats(0.01, 0.99), seed=st.integers(0, 2**40))
def test_stratified_split_properties(counts, fraction, seed):
    labels = [label for label, count in enumerate(counts) for _ in range(count)]
    train, val = stratified_split(labels, fraction, seed)
    assert sorted(train + val) == list(range(len(labels)))  # complete and disjoint
    assert train == sorted(train) and val == sorted(val)
    for label, count in enumerate(counts):
        in_val = sum(labels[i] == label for i in val)
        assert 1 <= in_val <= count - 1  # every class on both sides
        assert in_val == min(max(math.floor(fraction * count + 0.5), 1), count - 1)
    assert stratified_split(labels, fraction, seed) == (train, val)  # deterministic


def test_stratified_split_depends_on_seed_not_on_class_order():
    grouped = [0] * 30 + [1] * 30
    interleaved = [0, 1] * 30
    _, val_a = stratified_split(grouped, 0.2, seed=7)
    _, val_b = stratified_split(interleaved, 0.2, seed=7)
    ranks = lambda labels, val, c: sorted([i for i in range(60) if labels[i] == c].index(v)  # noqa: E731
                                          for v in val if labels[v] == c)
    for c in (0, 1):  # the same members of each class are chosen, however the classes are listed
        assert ranks(grouped, val_a, c) == ranks(interleaved, val_b, c)
    assert stratified_split(grouped, 0.2, seed=8)[1] != val_a
    assert len(val_a) == 12


def test_load_data_split_is_seeded(folder):
    a, b, c = (load_data(str(folder[0]), seed=s) for s in (1, 1, 2))
    assert a.val == b.val and a.train == b.train
    assert {label for _, label in a.val} == {0, 1, 2}
    assert a.val != c.val or a.train != c.train


# ---------------------------------------------------------------- transforms


def expected_pixel(rgb):
    return torch.tensor([(v / 255 - m) / s for v, m, s in zip(rgb, IMAGENET_MEAN, IMAGENET_STD)])


def one_image_source(path, label=0):
    return DataSource("folder", "x", ["a", "b"], [Sample(str(path), label)], [], [])


@pytest.mark.parametrize("mode, colour, rgb", [("RGB", (200, 40, 90), (200, 40, 90)), ("L", 77, (77, 77, 77)),
                                               ("RGBA", (10, 20, 30, 255), (10, 20, 30)),
                                               ("RGBA", (10, 20, 30, 0), (255, 255, 255))])
def test_constant_image_gives_known_normalised_values(tmp_path, mode, colour, rgb):
    path = write_image(tmp_path / "c.png", colour, size=(50, 30), mode=mode)
    image, label = make_dataset(one_image_source(path, 1), "train", 16)[0]
    assert image.shape == (3, 16, 16) and image.dtype == torch.float32 and label == 1
    assert torch.allclose(image, expected_pixel(rgb).view(3, 1, 1).expand(3, 16, 16), atol=1e-6)


def test_one_channel_and_palette_and_16_bit(tmp_path):
    palette = Image.new("P", (20, 20), 0)
    palette.putpalette([0, 0, 255] + [0] * 765)
    palette.save(tmp_path / "p.png")
    Image.fromarray(np.full((20, 20), 65535, dtype=np.uint16)).save(tmp_path / "deep.png")
    blue = make_dataset(one_image_source(tmp_path / "p.png"), "train", 8)[0][0]
    assert torch.allclose(blue[:, 0, 0], expected_pixel((0, 0, 255)), atol=1e-6)
    grey = make_dataset(one_image_source(tmp_path / "deep.png"), "train", 8, channels=1)[0][0]
    mean, std = sum(IMAGENET_MEAN) / 3, sum(IMAGENET_STD) / 3
    assert grey.shape == (1, 8, 8) and torch.allclose(grey, torch.full((1, 8, 8), (1 - mean) / std))


def test_eval_geometry():
    assert images.eval_resize(224) == 256 and images.eval_resize(32) == 37
    wide = Image.new("RGB", (40, 20))
    assert images.resize_shorter(wide, 18).size == (36, 18)
    assert images.eval_transform(wide, 16).size == (16, 16)
    left_right = Image.fromarray(np.repeat(np.arange(40, dtype=np.uint8)[None, :], 20, 0))
    crop = np.asarray(images.center_crop(left_right, 10))
    assert crop.shape == (10, 10) and crop[0, 0] == 15  # offsets round((40 - 10) / 2) = 15


def test_exif_orientation_is_applied(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    write_image(tmp_path / "r.jpg", size=(30, 12), exif=exif)
    assert images.decode(str(tmp_path / "r.jpg")).size == (12, 30)


def augmented(dataset, index):
    """Image ``index`` of an augmented dataset as training sees it (augment.apply on a batch of one)."""
    from zoo.training.augment import apply, plan_of

    image, label, key = dataset[index]
    return apply(plan_of([key]), image[None], torch.tensor([label]))[0][0]


def test_augmentation_is_a_function_of_seed_epoch_index(tmp_path):
    paths = [write_image(tmp_path / f"{i}.png", size=(40, 32), noise=True) for i in range(3)]
    source = DataSource("folder", "x", ["a"], [Sample(p, 0) for p in paths], [Sample(paths[0], 0)], [])
    dataset = make_dataset(source, "train", 16, augment=True, seed=3)
    first = augmented(dataset, 0)
    dataset[2], dataset[1]  # what ran before must not matter
    assert torch.equal(augmented(dataset, 0), first)
    assert torch.equal(augmented(make_dataset(source, "train", 16, augment=True, seed=3), 0), first)
    assert not torch.equal(augmented(make_dataset(source, "train", 16, augment=True, seed=4), 0), first)
    dataset.set_epoch(1)
    assert not torch.equal(augmented(dataset, 0), first)
    dataset.set_epoch(0)
    assert torch.equal(augmented(dataset, 0), first)
    plain = make_dataset(source, "val", 16)[0][0]  # augment never touches validation
    assert torch.equal(make_dataset(source, "val", 16, augment=True, seed=3)[0][0], plain)


def test_denormalise_inverts_normalise():
    pixels = torch.rand(2, 3, 5, 5)
    normalised = torch.stack([images.normalise(p, IMAGENET_MEAN, IMAGENET_STD) for p in pixels])
    assert torch.allclose(denormalise(normalised, IMAGENET_MEAN, IMAGENET_STD), pixels, atol=1e-6)
    assert torch.allclose(denormalise(normalised[0]), pixels[0], atol=1e-6)
    assert denormalise(torch.full((3, 2, 2), 100.0)).max() == 1.0


# ---------------------------------------------------------------- corrupt files and loaders


def test_corrupt_image_is_dropped_and_reported_once(folder):
    root, expected, _, _ = folder
    source = load_data(str(root), val_fraction=0.5)
    bad = str(root / "train" / "cat" / "bad.jpg")
    split = "train" if any(p == bad for p, _ in source.train) else "val"
    dataset = make_dataset(source, split, 12)
    assert isinstance(dataset[[p for p, _ in getattr(source, split)].index(bad)], Unreadable)
    seen, reported = 0, []
    for images_, labels, bad_paths in make_loader(dataset, 4, shuffle=True, seed=0):
        assert images_.shape[1:] == (3, 12, 12) and images_.shape[0] == labels.shape[0]
        seen += labels.shape[0]
        reported += bad_paths
    assert reported == [bad] and seen == len(dataset) - 1


def test_collate_of_only_bad_items():
    images_, labels, bad = collate([Unreadable("a.jpg", (3, 8, 8)), Unreadable("b.jpg", (3, 8, 8))])
    assert images_.shape == (0, 3, 8, 8) and labels.shape == (0,) and bad == ["a.jpg", "b.jpg"]


def batches(loader):
    return [(images_, labels.tolist()) for images_, labels, _ in loader]


def test_loader_order_is_a_function_of_seed_and_epoch():
    source = load_data("synthetic", synthetic_size=40)
    dataset = make_dataset(source, "train", 8)
    order = lambda **kw: [l for _, ls in batches(make_loader(dataset, 5, **kw)) for l in ls]  # noqa: E731
    assert order(shuffle=True, seed=1, epoch=0) == order(shuffle=True, seed=1, epoch=0)
    assert order(shuffle=True, seed=1, epoch=0) != order(shuffle=True, seed=1, epoch=1)
    assert order(shuffle=True, seed=1, epoch=0) != order(shuffle=True, seed=2, epoch=0)
    assert order(shuffle=False, seed=1) == [label for _, label in source.train]
    loader = make_loader(dataset, 5, shuffle=True, seed=1, epoch=3)
    assert batches(loader)[0][1] == batches(loader)[0][1]  # iterating again replays the epoch
    full = batches(make_loader(dataset, 5, shuffle=True, seed=1, epoch=3))
    resumed = batches(make_loader(dataset, 5, shuffle=True, seed=1, epoch=3, start_batch=2))
    assert [ls for _, ls in resumed] == [ls for _, ls in full[2:]]
    assert len(make_loader(dataset, 5, shuffle=True, seed=1, drop_last=True)) == len(dataset) // 5


def test_worker_processes_give_the_same_augmented_batches():
    """The images and the keys their augmentation is drawn from (augment.BatchPlan) are the same."""
    source = load_data("synthetic", synthetic_size=24)
    dataset = make_dataset(source, "train", 8, augment=True, seed=5)
    plain = lambda loader: [(x, y.tolist(), plan.keys) for x, y, _, plan in loader]  # noqa: E731
    alone = plain(make_loader(dataset, 4, shuffle=True, seed=0, epoch=2))
    workers = plain(make_loader(dataset, 4, shuffle=True, seed=0, epoch=2, workers=2))
    assert all(torch.equal(a[0], b[0]) and a[1:] == b[1:] for a, b in zip(alone, workers, strict=True))


# ---------------------------------------------------------------- synthetic shapes


def test_synthetic_is_deterministic_and_balanced():
    a, b = load_data("synthetic", synthetic_size=200, seed=4), load_data("synthetic", synthetic_size=200, seed=4)
    assert a == b and a.kind == "synthetic" and a.classes == synthetic.SHAPES
    assert (len(a.train), len(a.val), len(a.test)) == (160, 40, 50)
    for part in (a.train, a.val):
        assert np.bincount([label for _, label in part], minlength=10).tolist() == [len(part) // 10] * 10
    assert {i for i, _ in a.test}.isdisjoint(i for i, _ in a.train + a.val)
    same = np.asarray(synthetic.render(4, 7, 32)), np.asarray(synthetic.render(4, 7, 32))
    assert np.array_equal(*same)
    assert not np.array_equal(same[0], np.asarray(synthetic.render(5, 7, 32)))
    assert not np.array_equal(same[0], np.asarray(synthetic.render(4, 17, 32)))


def test_synthetic_is_learnable():
    """Logistic regression on 8×8-pooled pixels, 300 gradient steps (< 1 s), beats twice chance."""
    source = load_data("synthetic", synthetic_size=400, seed=1)
    whole = lambda split: next(iter(make_loader(make_dataset(source, split, 32), 1000,  # noqa: E731
                                                shuffle=False, seed=0)))
    (x_train, y_train, _), (x_test, y_test, _) = whole("train"), whole("test")
    features = lambda x: torch.nn.functional.adaptive_avg_pool2d(x, 8).flatten(1)  # noqa: E731
    f_train, f_test = features(x_train), features(x_test)
    weight = torch.zeros(f_train.shape[1], 10, requires_grad=True)
    bias = torch.zeros(10, requires_grad=True)
    for _ in range(300):  # plain gradient descent: torch.optim's first step costs seconds of imports
        loss = torch.nn.functional.cross_entropy(f_train @ weight + bias, y_train)
        grad_w, grad_b = torch.autograd.grad(loss, (weight, bias))
        with torch.no_grad():
            weight -= 0.5 * grad_w
            bias -= 0.5 * grad_b
    accuracy = ((f_test @ weight + bias).argmax(1) == y_test).float().mean().item()
    assert len(y_test) == 100 and accuracy > 2 * (1 / 10), accuracy


def test_random_batch():
    generator = torch.Generator().manual_seed(0)
    x, y = synthetic.random_batch(6, 3, 20, 7, generator)
    assert x.shape == (6, 3, 20, 20) and x.dtype == torch.float32
    assert y.shape == (6,) and y.dtype == torch.long and 0 <= y.min() and y.max() < 7
    again = synthetic.random_batch(6, 3, 20, 7, torch.Generator().manual_seed(0))
    assert torch.equal(x, again[0]) and torch.equal(y, again[1])
