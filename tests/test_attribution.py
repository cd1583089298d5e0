"""Attribution views on Captum, each against an independent reference on a tiny network.

References: integrated gradients' completeness (the maps sum to score(x) − score(black),
computed by two plain forward passes); Grad-CAM written out by hand from the conv's
output and the classifier's weights (no autograd); guided backpropagation against a
copy of the network whose activations are custom autograd Functions written from the
rule's definition (ReLU, and the generalised rule on SiLU with its derivative written
out); occlusion against brute-force re-evaluation of every occluded image; saliency
against torch.autograd.grad.
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

import zoo.cli.show_command  # noqa: F401  (registers `cnncost show`)
from cnncost.cli import main
from cnncost.errors import CnncostError
from zoo.inspect import attribution, figures, guided, views
from zoo.inspect.source import open_subject
from zoo.training import synthetic

from .guided_reference import GuidedReLU

# Tiny user modules: leaves are named by their Sequential index ("0", "1", ...).
RELU_NET = """\
import torch.nn as nn
def make():
    return nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.Conv2d(6, 5, 3, stride=2), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(5, 4))
"""
SILU_NET = RELU_NET.replace("nn.ReLU(), nn.Conv2d(6", "nn.SiLU(), nn.Conv2d(6")  # SiLU first, then ReLU
CAM_NET = """\
import torch.nn as nn
def make():
    return nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(4, 3))
"""


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny(tmp_path, source: str, name: str):
    """A SpecModule subject of the user module ``source`` (seeded random init, eval mode, CPU)."""
    (tmp_path / f"{name}.py").write_text(source)
    torch.manual_seed(0)
    return open_subject(f"module:{tmp_path}/{name}.py:make", device="cpu", img_size=16)


def images(count: int, size: int = 16) -> torch.Tensor:
    return torch.randn(count, 3, size, size, generator=torch.Generator().manual_seed(count))


@pytest.fixture(scope="module")
def relu_net(tmp_path_factory):
    return tiny(tmp_path_factory.mktemp("relu"), RELU_NET, "relu_net")


@pytest.fixture(scope="module")
def silu_net(tmp_path_factory):
    return tiny(tmp_path_factory.mktemp("silu"), SILU_NET, "silu_net")


# ---------------------------------------------------------------- integrated gradients

def test_integrated_gradients_sum_to_the_score_difference_from_black(relu_net):
    x = images(2)
    targets = [1, 3]
    values, delta = attribution.integrated_gradients(relu_net, x, targets, steps=64)
    with torch.no_grad():
        scores = relu_net.model(x)[[0, 1], targets]
        baseline = relu_net.model(attribution.black(relu_net, x))[[0, 1], targets]
    difference = scores - baseline
    assert difference.abs().min() > 1e-3  # not vacuous: the scores do differ from the baseline's
    torch.testing.assert_close(values.sum((1, 2)), difference, rtol=2e-2, atol=1e-4)
    torch.testing.assert_close(delta.float(), values.sum((1, 2)) - difference, rtol=1e-3, atol=1e-5)
    assert values.shape == (2, 16, 16)


# ---------------------------------------------------------------- Grad-CAM

def test_gradcam_equals_the_hand_computation(tmp_path):
    """score_c = Σ_k w_ck · mean_ij ReLU(A_kij) + b_c, so ∂score_c/∂A_kij = w_ck · [A_kij > 0] / (h·w)."""
    subject = tiny(tmp_path, CAM_NET, "cam_net")
    conv, linear = subject.model._leaves["0"], subject.model._leaves["4"]
    x = images(2)
    targets = [2, 0]
    maps = attribution.gradcam(subject.model, x, conv, targets)
    with torch.no_grad():
        A = F.conv2d(x, conv.weight, conv.bias, stride=2)  # [2, 4, 7, 7]
        positions = A.shape[2] * A.shape[3]
        w = linear.weight[targets]  # [2, 4]: each image's target row
        alpha = (w[:, :, None, None] * (A > 0) / positions).mean((2, 3))  # mean gradient per map
        cam = (alpha[:, :, None, None] * A).sum(1, keepdim=True).clamp(min=0)
        expected = F.interpolate(cam, size=(16, 16), mode="bilinear", align_corners=False)[:, 0]
    assert expected.abs().max() > 0
    torch.testing.assert_close(maps, expected, rtol=1e-4, atol=1e-7)


def test_guided_gradcam_is_captums_on_a_relu_network(relu_net):
    from captum.attr import GuidedGradCam

    x = images(2)
    ours = attribution.guided_gradcam(relu_net.model, x, relu_net.model._leaves["2"], [0, 2])
    with guided.captum_quietly():
        theirs = GuidedGradCam(relu_net.model, relu_net.model._leaves["2"]).attribute(
            x.clone().requires_grad_(True), target=[0, 2], interpolate_mode="bilinear")
    assert theirs.abs().max() > 0
    torch.testing.assert_close(ours, theirs.detach(), rtol=1e-5, atol=1e-8)


def test_saliency_is_the_largest_absolute_gradient_over_channels(relu_net):
    x = images(1).requires_grad_(True)
    (gradient,) = torch.autograd.grad(relu_net.model(x)[0, 3], x)
    torch.testing.assert_close(attribution.saliency(relu_net.model, x.detach(), [3]), gradient.abs().amax(1))


# ---------------------------------------------------------------- guided backpropagation

class GuidedSiLU(torch.autograd.Function):
    """The generalised rule on SiLU, its derivative written out: silu'(x)·max(g, 0),
    silu'(x) = σ(x)·(1 + x·(1 − σ(x)))."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * torch.sigmoid(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        sigma = torch.sigmoid(x)
        return sigma * (1 + x * (1 - sigma)) * grad.clamp(min=0)


class Wrapped(torch.nn.Module):
    def __init__(self, function):
        super().__init__()
        self.function = function

    def forward(self, x):
        return self.function.apply(x)


def reference(subject):
    """A copy of the network whose ReLU and SiLU leaves are the Functions above."""
    copied = copy.deepcopy(subject.model)
    for name, module in list(copied._leaves.items()):
        if isinstance(module, torch.nn.ReLU):
            copied.set_submodule(name, Wrapped(GuidedReLU))
        elif isinstance(module, torch.nn.SiLU):
            copied.set_submodule(name, Wrapped(GuidedSiLU))
    return copied


def reference_class_gradients(subject, x, targets):
    image = x.clone().requires_grad_(True)
    (expected,) = torch.autograd.grad(reference(subject)(image)[torch.arange(len(x)), targets].sum(), image)
    return expected


@pytest.mark.parametrize("net", ["relu_net", "silu_net"])
def test_class_guided_backprop_matches_the_rule_written_out(net, request):
    subject = request.getfixturevalue(net)
    x = images(3)
    targets = [0, 1, 3]
    ours = guided.class_guided(subject.model, x, targets)
    torch.testing.assert_close(ours, reference_class_gradients(subject, x, targets), rtol=1e-5, atol=1e-8)
    image = x.clone().requires_grad_(True)  # not vacuous: the plain gradient (hooks gone again) differs
    (plain,) = torch.autograd.grad(subject.model(image)[torch.arange(3), targets].sum(), image)
    assert not torch.allclose(plain, ours)


def test_neuron_guided_backprop_on_silu_matches_the_rule(silu_net):
    x = images(1)
    result = guided.neuron_guided(silu_net, x, "2", 3)
    assert result.rule == "generalised rule for SiLU"
    net = reference(silu_net)
    kept = {}
    net._leaves["2"].register_forward_hook(lambda m, i, o: kept.update(out=o))
    for channel, gradient in zip(result.channels, result.gradients):
        image = x.clone().requires_grad_(True)
        net(image)
        (expected,) = torch.autograd.grad(kept["out"][0, channel].max(), image)
        torch.testing.assert_close(gradient, expected[0], rtol=1e-5, atol=1e-8)


def test_class_guided_gradients_at_each_relu_are_positive_where_it_fired(relu_net):
    """What each ReLU passes back is what arrives at the conv that feeds it (that conv's grad_output,
    taken after Captum's tensor hook on the ReLU's input has rewritten it)."""
    outputs, passed = {}, {}
    feeds = {"1": "0", "3": "2"}  # ReLU -> the conv whose output it is given

    def keep_output(name):
        def hook(module, inputs, output):
            outputs[name] = output.detach()
        return hook

    def keep_gradient(name):
        def hook(module, grad_input, grad_output):
            passed[name] = grad_output[0]
        return hook

    leaves = relu_net.model._leaves
    handles = [leaves[relu].register_forward_hook(keep_output(relu)) for relu in feeds]
    handles += [leaves[conv].register_full_backward_hook(keep_gradient(relu)) for relu, conv in feeds.items()]
    try:
        guided.class_guided(relu_net.model, images(2), [1, 2])
    finally:
        for handle in handles:
            handle.remove()
    assert set(passed) == {name for name, m in leaves.items() if isinstance(m, torch.nn.ReLU)} == set(feeds)
    for name, grad in passed.items():
        assert (grad >= 0).all() and (grad[outputs[name] == 0] == 0).all() and (grad > 0).any(), name


def test_generalised_rule_passes_a_negative_slope_of_silu_but_no_negative_arrival():
    """At x = −3, silu'(x) < 0: a positive arriving gradient comes back negative; a negative one is cut."""
    module = torch.nn.Sequential(torch.nn.SiLU())
    module._leaves = {"0": module[0]}
    x = torch.tensor([-3.0, 2.0], requires_grad=True)
    with guided.generalised_gates(module):
        (up,) = torch.autograd.grad(module(x), x, torch.tensor([1.0, 1.0]))
        (down,) = torch.autograd.grad(module(x), x, torch.tensor([-1.0, -1.0]))
    sigma = torch.sigmoid(x.detach())
    torch.testing.assert_close(up, sigma * (1 + x.detach() * (1 - sigma)))
    assert up[0] < 0 < up[1]
    assert torch.equal(down, torch.zeros(2))


# ---------------------------------------------------------------- occlusion

def test_occlusion_equals_brute_force_re_evaluation(relu_net):
    """Windows start every ``stride`` pixels until one reaches the last pixel (the edge window is clipped);
    a pixel's value is the mean score drop over the windows that cover it."""
    x = images(2, 12)
    window, stride, targets = 4, 3, [2, 1]
    ours = attribution.occlusion(relu_net.model, x, targets, window, stride)
    starts = [0]
    while starts[-1] + window < 12:
        starts.append(starts[-1] + stride)
    assert starts == [0, 3, 6, 9]
    total, covered = torch.zeros(2, 12, 12), torch.zeros(12, 12)
    with torch.no_grad():
        score = relu_net.model(x)[[0, 1], targets]
        for top in starts:
            for left in starts:
                occluded = x.clone()
                occluded[:, :, top:top + window, left:left + window] = 0
                drop = score - relu_net.model(occluded)[[0, 1], targets]
                total[:, top:top + window, left:left + window] += drop[:, None, None]
                covered[top:top + window, left:left + window] += 1
    torch.testing.assert_close(ours, total / covered, rtol=1e-4, atol=1e-6)


# ---------------------------------------------------------------- targets, figure, command

def test_targets_by_index_or_class_name():
    classes = ["bar", "circle", "cross"]
    assert attribution.parse_targets(None, classes, 3) == [attribution.PREDICTED]
    assert attribution.parse_targets("cross, 0,cross", classes, 3) == [2, 0]
    with pytest.raises(CnncostError, match=r"target: 'star' is not a class; give an index 0–2 or a class name"):
        attribution.parse_targets("star", classes, 3)
    with pytest.raises(CnncostError, match=r"target: '5' is not a class; give an index 0–3 \(this network"):
        attribution.parse_targets("5", None, 4)


def test_heat_maps_share_one_colour_scale_with_a_bar(relu_net):
    x = images(2)
    maps = attribution.attribute(relu_net, "integrated-gradients", x, [0, 2], steps=8)
    assert maps.values.shape == (2, 2, 16, 16) and maps.targets == [[0, 0], [2, 2]]
    method = attribution.METHODS["integrated-gradients"]
    figure = figures.attribution_figure(x.sigmoid(), maps, method, "title", ["a", "b"],
                                        [["c", "d"], ["e", "f"]])
    heat = [image for axes in figure.axes for image in axes.images if image.get_cmap().name == "RdBu_r"]
    assert len(heat) == 4  # one per (target, image) cell, under the two input images
    top = float(maps.values.abs().max())
    assert all(image.get_clim() == (-top, top) for image in heat)
    assert any(axes.get_ylabel() == method.unit for axes in figure.axes)  # the colour bar, labelled


def picture(tmp_path):
    synthetic.render(0, 3, 32).save(tmp_path / "cross.png")
    return str(tmp_path / "cross.png")


def test_guided_backprop_command_on_silu_names_the_generalised_rule(tmp_path, capsys):
    (tmp_path / "net.py").write_text(SILU_NET)
    image, out = picture(tmp_path), tmp_path / "g.png"
    code = main(["show", "guided-backprop", f"module:{tmp_path}/net.py:make", "--image", image, "--image", image,
                 "--target", "1,2", "--out", str(out), "--img-size", "16", "--device", "cpu"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out == (f"wrote {out}: guided backpropagation (generalised rule for SiLU (ReLU rule for "
                            "ReLU)), 2 images × 2 targets (1, 2)\n")
    assert captured.err == "" and out.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("args, message", [
    (["saliency", "--layer", "2"], "--layer: saliency explains the class score from the input"),
    (["gradcam", "--steps", "9"], "--steps: an option of integrated-gradients, not of gradcam"),
    (["occlusion", "--window", "40"], "--window: 40 is out of range (1–16: the input side)"),
    (["occlusion", "--window", "4", "--stride", "5"], "--stride: 5 is out of range (1–4"),
    (["gradcam", "--layer", "5"], "--layer: '5' is a Flatten, not a layer with a spatial output"),
    (["integrated-gradients", "--target", "9"], "--target: '9' is not a class; give an index 0–3"),
    (["guided-backprop", "--image", "{image}"], "--image: guided backpropagation of a layer's channels takes one"),
    (["guided-backprop", "--target", "1", "--neurons", "2"], "--neurons: with --target, guided backpropagation"),
])
def test_bad_attribution_options_are_one_line(tmp_path, capsys, args, message):
    (tmp_path / "net.py").write_text(RELU_NET)
    image, out = picture(tmp_path), tmp_path / "x.png"
    command = ["show", args[0], f"module:{tmp_path}/net.py:make", "--image", image, "--out", str(out),
               "--img-size", "16", "--device", "cpu", *[a.format(image=image) for a in args[1:]]]
    code = main(command)
    captured = capsys.readouterr()
    assert code == 2 and captured.err.startswith("error: " + message) and captured.err.count("\n") == 1, captured.err
    assert not out.exists() and captured.out == ""


def test_several_images_make_a_grid_one_row_per_class(relu_net, tmp_path):
    image = picture(tmp_path)
    line = views.show_attribution(relu_net, "gradcam", [image, image, image], "0,3", None, str(tmp_path / "c.png"))
    assert line == f"wrote {tmp_path / 'c.png'}: Grad-CAM of 2, 3 images × 2 targets (0, 3)"


def test_a_softmax_top_is_explained_as_a_probability(tmp_path):
    """Keras's tops end in a softmax: their output is the probability, not softmaxed again."""
    subject = tiny(tmp_path, RELU_NET.replace("nn.Linear(5, 4))", "nn.Linear(5, 4), nn.Softmax(dim=1))"), "soft")
    assert attribution.score_kind(subject) == "probability"
    x = images(2)
    maps = attribution.attribute(subject, "saliency", x, [attribution.PREDICTED])
    with torch.no_grad():
        output = subject.model(x)
    torch.testing.assert_close(maps.probabilities[0], output.max(1).values)
    assert maps.targets == [output.argmax(1).tolist()]
