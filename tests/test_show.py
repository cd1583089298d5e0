"""``cnncost show``: filters, activations, guided backpropagation, maximisation, predictions, on CPU.

Independent references: the raw conv weights (filters), the engine's per-layer
output shapes (activations, computed by the description walk, not by hooks),
a copy of the network whose ReLUs are a custom autograd Function implementing
the guided rule (guided backpropagation, against the hook implementation), and
the filter's own mean activation before and after (gradient ascent).
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

import zoo.cli.show_command  # noqa: F401  (registers `cnncost show`)
from cnncost.cli import main
from zoo import build
from zoo.inspect import activations, figures, filters, guided, layers, maximize, views
from zoo.inspect.source import load_image, open_subject
from zoo.training import synthetic
from zoo.runtime.config import TrainConfig
from zoo.training.run import train

from .checkpoint_helpers import shapes_folder
from .guided_reference import GuidedReLU

PNG = b"\x89PNG\r\n\x1a\n"
SMALL = {"m": 8, "n": 32}  # smallcnn_res: conv1 8, conv2 16, res.conv 16 filters at 32×32


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny convolutions run fastest on one thread (module scope: before the training fixture)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(run folder, [three generated images], data folder) of a tiny network trained for one epoch.

    Trained on the shapes written to disk (not ``--data synthetic``), so that the folder's classes
    (sorted by name) are the run's and ``show predictions`` can use its test split.
    """
    root = tmp_path_factory.mktemp("show")
    data = shapes_folder(root / "shapes", 20, 3)
    train(TrainConfig("smallcnn_res", hyperparameters=dict(SMALL), img_size=32, data=str(data), epochs=1,
                      out=str(root / "run"), quiet=True))
    pictures = []
    for i in range(3):
        synthetic.render(0, i, 64).save(root / f"image{i}.png")
        pictures.append(str(root / f"image{i}.png"))
    return root / "run", pictures, data


@pytest.fixture(scope="module")
def subject(trained):
    return open_subject(str(trained[0]), device="cpu")


def cli(capsys, *args) -> tuple:
    code = main(["show", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# ---------------------------------------------------------------- filters

def test_first_layer_filters_are_rgb_and_scaled_per_filter(subject):
    weight = subject.model._leaves["conv1"].weight.detach()
    shown = filters.filter_pictures(weight, filters.layout_of(subject, "conv1"))
    assert shown.layout == "rgb" and shown.pictures.shape == (8, 3, 3, 3)
    flat = weight.flatten(1)
    expected = (flat - flat.min(1, keepdim=True).values) / (flat.max(1, keepdim=True).values
                                                            - flat.min(1, keepdim=True).values)
    torch.testing.assert_close(shown.pictures.flatten(1), expected)
    assert (shown.pictures.flatten(1).amin(1) == 0).all() and (shown.pictures.flatten(1).amax(1) == 1).all()
    figure = figures.filters_figure(shown, "conv1", subject.name, subject.origin)
    # 8 filters in a 3 × 3 grid of 3×3 pictures with 1-pixel gaps: 3·(3+1)−1 = 11 pixels a side.
    assert figure.axes[0].images[0].get_array().shape == (11, 11, 3)


def test_later_layer_filters_are_one_kernel_per_input_channel(subject):
    shown = filters.filter_pictures(subject.model._leaves["res.conv"].weight, filters.layout_of(subject, "res.conv"))
    assert shown.layout == "channels" and shown.pictures.shape == (16, 16, 3, 3)
    figure = figures.filters_figure(shown, "res.conv", subject.name, subject.origin)
    assert figure.axes[0].images[0].get_array().shape == (16 * 4 - 1, 16 * 4 - 1, 3)  # rows filters, cols inputs


def test_filter_layouts_are_capped():
    wide = filters.filter_pictures(torch.randn(100, 70, 3, 3), "channels")
    assert wide.pictures.shape == (filters.MAX_ROWS, filters.MAX_COLUMNS, 3, 3)
    assert (wide.filters, wide.channels) == (100, 70)
    assert filters.filter_pictures(torch.randn(100, 3, 5, 5), "rgb").pictures.shape == (64, 3, 5, 5)
    assert filters.filter_pictures(torch.zeros(4, 1, 3, 3), "grey").pictures.eq(0.5).all()  # constant: grey


def test_vgg11_filters_without_training(tmp_path, capsys):
    out = tmp_path / "vgg.png"
    code, printed, err = cli(capsys, "filters", "zoo.vgg11", "--img-size", 32, "--out", out)
    assert code == 0, err
    assert printed == f"wrote {out}: features.0 filters, 64 of 64 filters, 3×3, rgb\n"
    assert out.read_bytes().startswith(PNG)


MODULE = """\
import torch.nn as nn
def make():
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))
"""


def test_a_users_module_is_shown_without_a_classes_option(tmp_path, capsys):
    """The user never passed --classes: a module's class count is its own (it used to say
    "--classes: not an option")."""
    (tmp_path / "net.py").write_text(MODULE)
    out = tmp_path / "f.png"
    code, printed, err = cli(capsys, "filters", f"module:{tmp_path}/net.py:make", "--out", out, "--device", "cpu")
    assert code == 0, err
    assert printed == f"wrote {out}: 0 filters, 8 of 8 filters, 3×3, rgb\n"
    subject = open_subject(f"module:{tmp_path}/net.py:make", device="cpu")
    assert dict(subject.model.named_parameters())["4.weight"].shape == (10, 8)


def test_architecture_file_is_a_network_not_a_run(tmp_path, capsys):
    out = tmp_path / "file.png"
    code, printed, err = cli(capsys, "filters", Path(__file__).parent.parent / "examples" / "tiny_resnet.toml",
                             "--out", out)
    assert code == 0, err
    assert printed == f"wrote {out}: stem.conv filters, 16 of 16 filters, 3×3, rgb\n"


def test_zoo_network_loads_its_weights_strictly(tmp_path):
    torch.manual_seed(3)
    net = build("smallcnn_res", num_classes=7, h=32, w=32, **SMALL)  # another class count: read from the file
    torch.save(net.state_dict(), tmp_path / "weights.pth")
    loaded = open_subject("zoo.smallcnn_res", weights=str(tmp_path / "weights.pth"), img_size=32,
                          hyperparameters=dict(SMALL), device="cpu")
    for key, value in net.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[key], value), key


# ---------------------------------------------------------------- activations

def test_activations_have_the_engines_shapes(subject, trained):
    x = load_image(trained[1][0], subject)
    assert x.shape == (1, 3, 32, 32)
    names = layers.leaf_names(subject)  # every leaf, the dense ones included
    outputs = activations.activations(subject.model, x, names)
    for row in subject.table.layers:
        assert tuple(outputs[row.name].shape) == tuple(row.output_shape), row.name


def test_activation_figure_has_one_panel_per_layer(subject, trained):
    x = load_image(trained[1][1], subject)
    chosen = ["conv1", "res.conv", "fc1"]
    outputs = activations.activations(subject.model, x, chosen)
    panels = [(name, tuple(outputs[name].shape), *activations.channel_maps(outputs[name], 64)) for name in chosen]
    assert [tuple(maps.shape) for _, _, maps, _ in panels] == [(8, 32, 32), (16, 8, 8), (1, 6, 6)]
    assert all(0 <= float(maps.min()) and float(maps.max()) <= 1 for _, _, maps, _ in panels)
    figure = figures.activations_figure(panels, x[0], subject.name)
    shown = [axes for axes in figure.axes if axes.images]
    assert len(shown) == len(chosen) + 1  # the input image, then one panel per layer
    # conv1: 8 maps of 32×32 in a 3-column grid, 8-pixel gaps: 3·40−8 = 112 wide, 3 rows.
    assert shown[1].images[0].get_array().shape == (112, 112, 3)


def test_default_activation_layers_spread_over_the_conv_layers():
    resnet = open_subject("resnet18", img_size=32, device="cpu")
    chosen, total = activations.default_layers(resnet)
    convs = layers.conv_names(resnet)
    assert total == len(convs) == 20 and len(chosen) == activations.PANELS
    assert chosen[0] == "conv1" and chosen[-1] == "layer4.1.conv2" and set(chosen) <= set(convs)


def test_activations_command(trained, tmp_path, capsys):
    out = tmp_path / "act.png"
    code, printed, err = cli(capsys, "activations", trained[0], "--image", trained[1][2], "--layers",
                             "conv1, res.conv", "--out", out)
    assert code == 0, err
    assert printed == f"wrote {out}: activations of 2 layers (conv1, res.conv)\n"
    assert out.read_bytes().startswith(PNG)


# ---------------------------------------------------------------- guided backpropagation

@pytest.mark.parametrize("layer", ["res.conv", "res.bn"])
def test_guided_gradients_at_every_relu_are_positive_where_the_relu_fired(subject, trained, layer):
    """Recorded by extra hooks: each ReLU's output, and the gradient it passes back, as it arrives at
    the leaf that feeds the ReLU (that leaf's grad_output: after Captum's hook on the ReLU's input)."""
    x = load_image(trained[1][0], subject)
    outputs: dict = {}
    passed: dict = {}
    order = [row.name for row in subject.table.layers]
    relus = [n for n, m in subject.model._leaves.items() if isinstance(m, torch.nn.ReLU)]
    feeds = {relu: order[order.index(relu) - 1] for relu in relus}  # smallcnn_res: conv/bn -> ReLU in a row

    def keep_gradient(name):
        def hook(module, grad_input, grad_output):
            passed[name] = grad_output[0]
        return hook

    def keep_output(name):
        def hook(module, inputs, output):
            if output.requires_grad:  # the grad-enabled pass (the first one only picks the channels)
                outputs[name] = output.detach()
        return hook

    handles = [subject.model._leaves[feeds[n]].register_full_backward_hook(keep_gradient(n)) for n in relus]
    handles += [subject.model._leaves[n].register_forward_hook(keep_output(n)) for n in relus]
    try:
        result = guided.neuron_guided(subject, x, layer, 5)
    finally:
        for handle in handles:
            handle.remove()
    expected = {"act1", "act2"} | ({"res.act"} if layer == "res.bn" else set())
    assert set(passed) == expected
    for name, grad in passed.items():
        output = outputs[name]
        assert (grad >= 0).all(), name
        assert (grad[output == 0] == 0).all(), name
        assert (grad > 0).any(), name
    assert result.gradients.shape == (5, 3, 32, 32) and torch.isfinite(result.gradients).all()
    assert result.gradients.abs().flatten(1).amax(1).gt(0).all()  # every channel reaches the input
    # No hooks are left behind: plain gradients come back afterwards.
    assert not any(m._backward_hooks or m._forward_hooks or m._forward_pre_hooks
                   for m in subject.model._leaves.values())


class GuidedReLUModule(torch.nn.Module):
    def forward(self, x):
        return GuidedReLU.apply(x)


def test_guided_backprop_equals_a_network_of_guided_relu_functions(subject, trained):
    x = load_image(trained[1][1], subject)
    result = guided.neuron_guided(subject, x, "res.conv", 4)
    reference = copy.deepcopy(subject.model)
    for name, module in list(reference._leaves.items()):
        if isinstance(module, torch.nn.ReLU):
            reference.set_submodule(name, GuidedReLUModule())  # the zoo's modules take surgery
    kept = {}
    reference._leaves["res.conv"].register_forward_hook(lambda m, i, o: kept.update(out=o))
    with torch.no_grad():
        subject.model(x)
        reference(x)
    peaks = kept["out"][0].flatten(1).amax(1)
    assert result.channels == peaks.argsort(descending=True)[:4].tolist()
    for channel, gradient in zip(result.channels, result.gradients):
        image = x.clone().requires_grad_(True)
        reference(image)
        (expected,) = torch.autograd.grad(kept["out"][0, channel].max(), image)
        torch.testing.assert_close(gradient, expected[0], rtol=1e-5, atol=1e-7)
    # Not vacuous: the ordinary gradient (the hooks are gone again) is a different picture.
    image = x.clone().requires_grad_(True)
    output = activations.forward_to(subject.model, image, ["res.conv"])["res.conv"]
    assert result.rule == "ReLU rule"
    (plain,) = torch.autograd.grad(output[0, result.channels[0]].max(), image)
    assert not torch.allclose(plain[0], result.gradients[0])


def test_guided_backprop_takes_silu_networks_with_the_generalised_rule(trained, tmp_path):
    """Issue 21: report 001's best model uses SiLU. The rule itself is checked in test_attribution.py."""
    silu = open_subject("scratch5", hyperparameters={"m": 4, "activation": "silu"}, img_size=94, device="cpu")
    line = views.show_guided(silu, [trained[1][0]], None, 2, None, str(tmp_path / "g.png"))
    assert line.startswith(f"wrote {tmp_path / 'g.png'}: guided backpropagation (generalised rule for SiLU) of ")
    assert (tmp_path / "g.png").read_bytes().startswith(PNG)


def test_guided_backprop_command(trained, tmp_path, capsys):
    out = tmp_path / "guided.png"
    code, printed, err = cli(capsys, "guided-backprop", trained[0] / "best.pt", "--image", trained[1][0],
                             "--neurons", 10, "--out", out)
    assert code == 0, err
    assert printed.startswith(f"wrote {out}: guided backpropagation (ReLU rule) of res.conv, 10 strongest "
                              "channels (")
    assert out.read_bytes().startswith(PNG)


def test_guided_backprop_default_neurons_fit_a_small_layer(trained, tmp_path, capsys):
    """conv1 has 8 channels: the default (10) shows all 8 and says so; an explicit 9 is an error."""
    out = tmp_path / "guided.png"
    code, printed, err = cli(capsys, "guided-backprop", trained[0], "--image", trained[1][0], "--layer", "conv1",
                             "--out", out)
    assert code == 0, err
    assert printed.startswith(f"wrote {out}: guided backpropagation (no activation on the path: "
                              "the plain gradient) of conv1, 8 strongest channels (")
    assert sorted(int(c) for c in printed.split("channels (")[1].split(")")[0].split(", ")) == list(range(8))
    assert printed.rstrip().endswith("conv1 has only 8 channels, so all are shown (default --neurons 10)")
    code, printed, err = cli(capsys, "guided-backprop", trained[0], "--image", trained[1][0], "--layer", "conv1",
                             "--neurons", 9, "--out", tmp_path / "nine.png")
    assert code == 2 and printed == ""
    assert err == "error: --neurons: 9 is out of range for conv1 (1–8: its channel count)\n"


@pytest.mark.parametrize("view", ["gradcam", "integrated-gradients"])
def test_attribution_views_on_a_run_take_its_class_names(trained, tmp_path, capsys, view):
    """--target by the run's class names (the folder's, sorted), one row per class, two images as columns."""
    out = tmp_path / f"{view}.png"
    code, printed, err = cli(capsys, view, trained[0], "--image", trained[1][0], "--image", trained[1][1],
                             "--target", "cross,bar", "--out", out)
    assert code == 0, err
    layer = " of res.conv" if view == "gradcam" else ""
    title = "Grad-CAM" if view == "gradcam" else "integrated gradients"
    assert printed.startswith(f"wrote {out}: {title}{layer}, 2 images × 2 targets (cross, bar)")
    assert out.read_bytes().startswith(PNG) and err == ""


# ---------------------------------------------------------------- activation maximisation

def test_gradient_ascent_raises_the_target_filters_mean_activation(subject):
    ascent = maximize.maximize(subject, "res.conv", [0, 5, 11], steps=8)
    assert ascent.images.shape == (3, 3, 32, 32)
    assert 0 <= float(ascent.images.min()) and float(ascent.images.max()) <= 1
    assert (ascent.after > ascent.before).all(), (ascent.before, ascent.after)
    figure = figures.maximize_figure(ascent, "res.conv", subject.name, maximize.METHOD)
    assert len([axes for axes in figure.axes if axes.images]) == 3


def test_blur_keeps_a_constant_image_and_the_mean():
    flat = torch.full((1, 3, 9, 9), 0.25)
    torch.testing.assert_close(maximize.blur(flat, 0.5), flat)
    noisy = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    assert maximize.blur(noisy, 1.0).std() < noisy.std()


def test_maximize_command(trained, tmp_path, capsys):
    out = tmp_path / "max.png"
    code, printed, err = cli(capsys, "maximize", trained[0], "--layer", "conv2", "--filters", "0-1,7",
                             "--steps", 3, "--out", out)
    assert code == 0, err
    assert printed.startswith(f"wrote {out}: 3 images maximising filters of conv2 (3 steps;")
    assert out.read_bytes().startswith(PNG)


def test_gradient_ascent_reports_every_step(subject):
    steps = []
    maximize.maximize(subject, "conv2", [0], steps=5, progress=lambda: steps.append(1))
    assert len(steps) == 5


@pytest.mark.parametrize("terminal", [True, False])
def test_maximize_shows_a_progress_bar_on_a_terminal_only(trained, tmp_path, capsys, monkeypatch, terminal):
    """Like training's bars: drawn on stderr when it is a terminal, gone when done; stdout keeps its
    one line, and a log (not a terminal) gets no bar at all."""
    monkeypatch.setenv("TTY_COMPATIBLE", "1" if terminal else "0")  # rich's switch for "is a terminal"
    monkeypatch.setenv("TERM", "xterm")
    out = tmp_path / "max.png"
    code, printed, err = cli(capsys, "maximize", trained[0], "--layer", "conv2", "--filters", "0",
                             "--steps", 3, "--out", out)
    assert code == 0, err
    assert printed.count("\n") == 1 and printed.startswith(f"wrote {out}: 1 images maximising")
    if terminal:
        assert "maximising 1 filters of conv2" in err
    else:
        assert err == ""


# ---------------------------------------------------------------- predictions

def test_predictions_command_draws_the_training_grid(trained, tmp_path, capsys):
    out = tmp_path / "pred.png"
    code, printed, err = cli(capsys, "predictions", trained[0], "--data", trained[2], "--out", out,
                             "--device", "cpu")
    assert code == 0, err
    assert printed.startswith(f"wrote {out}: 30 test predictions of smallcnn_res (test accuracy ")
    assert out.read_bytes().startswith(PNG)


# ---------------------------------------------------------------- the command line

def test_show_help_lists_every_view(capsys):
    code, printed, _ = cli(capsys, "--help")
    assert code == 0
    for view in ("filters", "activations", "guided-backprop", "maximize", "predictions", "gradcam",
                 "guided-gradcam", "saliency", "integrated-gradients", "occlusion"):
        assert view in printed
        assert cli(capsys, view, "--help")[0] == 0


def bad_file(root):
    path = root / "not-an-image.png"
    path.write_text("hello")
    return path


@pytest.mark.parametrize("args, message", [
    (["filters", "{run}", "--layer", "nope"],
     "--layer: 'nope' is not a layer of smallcnn_res; conv layers: conv1, conv2, res.conv"),
    (["filters", "{run}", "--layer", "act1"], "--layer: 'act1' is a ReLU, not a conv layer of smallcnn_res"),
    (["activations", "{run}", "--image", "{root}/missing.png"], "--image: no such file: "),
    (["activations", "{run}", "--image", "{bad}"], "--image: "),
    (["activations", "{run}", "--image", "{image}", "--layers", "conv1,fc9"], "--layers: 'fc9' is not a layer"),
    (["guided-backprop", "{run}", "--image", "{image}", "--layer", "fc1"],
     "--layer: 'fc1' is a Linear, not a layer with a spatial output"),
    (["guided-backprop", "{run}", "--image", "{image}", "--neurons", "17"],
     "--neurons: 17 is out of range for res.conv (1–16: its channel count)"),
    (["maximize", "{run}", "--filters", "0-99"], "--filters: 0-99 is out of range for res.conv (0–15)"),
    (["maximize", "{run}", "--filters", "x"], "--filters: 'x' is not a list of indices"),
    (["filters", "zoo.smallcnn_res", "--weights", "{run}/best.pt"],
     "--weights: best.pt does not fit smallcnn_res: "),
    (["filters", "zoo.smallcnn_res", "--weights", "{bad}"], "--weights: "),
    (["filters", "{run}", "--weights", "{run}/best.pt"], "--weights: "),
    (["filters", "{run}", "--device", "tpu"], "--device: 'tpu' is not one of auto, cpu, cuda"),
    (["filters", "nonexistent"], "RUN: 'nonexistent' is neither a run folder or file nor a zoo network"),
    (["filters", "{run}", "--out", "{root}/no/such/folder/x.png"], "--out: the folder "),
])
def test_bad_input_is_one_line_and_exit_2(trained, tmp_path, capsys, args, message):
    values = {"run": trained[0], "image": trained[1][0], "root": tmp_path, "bad": bad_file(tmp_path)}
    out = tmp_path / "x.png"
    args = [a.format(**values) for a in args] + ([] if "--out" in args else ["--out", str(out)])
    code, printed, err = cli(capsys, *args)
    assert code == 2 and err.startswith("error: " + message) and err.count("\n") == 1, err
    assert not out.exists() and printed == ""
