"""Attribution maps on Captum: which pixels of an image a class score depends on.

Every method explains the score of one target class for one image (its logit, or the
probability where the network ends in a softmax, as Keras's tops do: ``score_kind``),
and gives one value per pixel, which the figures overlay on the image:

- **Grad-CAM** (Selvaraju et al. 2017): a layer's maps weighted by the mean
  gradient of the score over each map, summed over channels, ReLU'd, and
  upsampled bilinearly to the input (``LayerGradCam`` + ``LayerAttribution.interpolate``).
- **Guided Grad-CAM**: guided backpropagation (``guided.class_guided``, so the
  generalised rule holds for non-ReLU activations) times the upsampled Grad-CAM.
  Captum's ``GuidedGradCam`` does the same for ReLU networks, but it would apply
  the generalised hooks to its Grad-CAM gradients as well, so the product is
  taken here from the two Captum parts.
- **Saliency** (Simonyan et al. 2014): |∂ score / ∂ pixel|, the largest over
  colour channels.
- **Integrated gradients** (Sundararajan et al. 2017): the gradient averaged
  along the straight path from a black image to the image, times the
  difference; summed over channels, the map sums to score(image) − score(black)
  up to the quadrature error, which is reported (``completeness``).
- **Occlusion** (Zeiler and Fergus 2014): a square patch slides over the image,
  replaced by the data's mean colour (0 after normalisation); each pixel gets
  the mean drop of the score over the patches that cover it.

Targets are class indices; ``parse_targets`` reads them from the user's text,
by index or by a run's class name. The default target is each image's
predicted class.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import torch

from cnncost.arch import ParameterError

from . import guided
from .source import to_input

IG_STEPS = 50  # integrated gradients' quadrature points (Captum's default)
PREDICTED = None  # the target "each image's predicted class"


class Method(NamedTuple):
    """One attribution view: its command name, its title, and how its maps are drawn."""

    name: str
    title: str
    signed: bool  # the values can be negative (a diverging colour map centred on 0)
    picture: bool  # drawn as a gradient picture (no single value per pixel, so no colour bar)
    unit: str  # what the colour bar measures
    uses_layer: bool


METHODS = {method.name: method for method in (
    Method("gradcam", "Grad-CAM", False, False, "Grad-CAM (ReLU of weighted maps)", True),
    Method("guided-gradcam", "guided Grad-CAM", True, True, "", True),
    Method("saliency", "saliency", False, False, "|∂ score / ∂ input|, max over channels", False),
    Method("integrated-gradients", "integrated gradients", True, False, "attribution (score units)", False),
    Method("occlusion", "occlusion", True, False, "mean score drop when occluded", False),
    Method("guided-backprop", "guided backpropagation", True, True, "", False),
)}


class Maps(NamedTuple):
    """Attributions for every (target row, image) cell."""

    values: torch.Tensor  # [R, N, H, W] one value per pixel, or [R, N, C, H, W] pictures (``Method.picture``)
    targets: list  # [R][N] the class index explained in each cell
    probabilities: torch.Tensor  # [R, N] the network's probability of that class for that image
    completeness: torch.Tensor | None  # [R, N] integrated gradients: Σ attributions − (F(x) − F(baseline))


# ---------------------------------------------------------------- targets

def run_classes(source: str) -> list | None:
    """The class names a saved run was trained on (None for a zoo network: it has indices only)."""
    from ..runtime import checkpoint

    path = Path(source).expanduser()
    if source.endswith(".toml") or not path.exists():
        return None
    if path.is_dir():
        path = path / checkpoint.BEST
    return [str(name) for name in checkpoint.load(path)["classes"]]


def parse_targets(text: str | None, classes: list | None, count: int) -> list:
    """'3', 'cross' or '0,cross' -> class indices (checked against ``count`` classes); None -> [PREDICTED]."""
    if text is None:
        return [PREDICTED]
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts:
        raise ParameterError("target", f"{text!r} names no class (give class indices 0–{count - 1}"
                                       + (f" or names: {', '.join(classes)})" if classes else ")"))
    return list(dict.fromkeys(_one_target(part, classes, count) for part in parts))


def _one_target(part: str, classes: list | None, count: int) -> int:
    if classes and part in classes:
        return classes.index(part)
    if part.isdigit() and int(part) < count:
        return int(part)
    names = f" or a class name: {', '.join(classes)}" if classes else " (this network has no class names)"
    raise ParameterError("target", f"{part!r} is not a class; give an index 0–{count - 1}{names}")


def class_label(index: int, classes: list | None) -> str:
    """'cross' for a run's class, '7' for a zoo network's."""
    return classes[index] if classes and index < len(classes) else str(index)


# ---------------------------------------------------------------- methods

def score_kind(subject) -> str:
    """What the network outputs per class, the score every map explains: 'logit', or 'probability'
    ('log-probability') when its last layer is a Softmax or Sigmoid (LogSoftmax), as Keras's tops are."""
    from torch import nn

    last = [row.name for row in subject.table.layers if not row.auxiliary][-1]
    module = subject.model._leaves.get(last)
    if isinstance(module, (nn.Softmax, nn.Sigmoid)):
        return "probability"
    return "log-probability" if isinstance(module, nn.LogSoftmax) else "logit"


def predict(model, x: torch.Tensor, kind: str = "logit") -> torch.Tensor:
    """Class probabilities [N, K] from outputs of ``kind`` (``score_kind``): logits are softmaxed."""
    with torch.no_grad():
        output = model(x).float()
    return {"logit": output.softmax(1) if output.shape[1] > 1 else output.sigmoid(),
            "probability": output, "log-probability": output.exp()}[kind]


def gradcam(model, x: torch.Tensor, layer, targets: list) -> torch.Tensor:
    """Grad-CAM of module ``layer`` for class ``targets[i]`` of image ``x[i]``, upsampled: [N, H, W]."""
    from captum.attr import LayerAttribution, LayerGradCam

    with torch.enable_grad(), guided.captum_quietly():
        cam = LayerGradCam(model, layer).attribute(x, target=list(targets), relu_attributions=True)
    return LayerAttribution.interpolate(cam.detach(), tuple(x.shape[2:]), interpolate_mode="bilinear")[:, 0]


def guided_gradcam(model, x: torch.Tensor, layer, targets: list) -> torch.Tensor:
    """Guided backpropagation times the upsampled Grad-CAM: [N, C, H, W]."""
    return guided.class_guided(model, x, targets) * gradcam(model, x, layer, targets)[:, None]


def saliency(model, x: torch.Tensor, targets: list) -> torch.Tensor:
    """|gradient of the score w.r.t. the input|, largest over channels: [N, H, W]."""
    from captum.attr import Saliency

    with torch.enable_grad(), guided.captum_quietly():
        return Saliency(model).attribute(x.detach().clone(), target=list(targets), abs=True).detach().amax(1)


def black(subject, like: torch.Tensor) -> torch.Tensor:
    """The black image (pixels 0) as the network sees it: integrated gradients' baseline."""
    return to_input(torch.zeros_like(like), subject)


def integrated_gradients(subject, x: torch.Tensor, targets: list, steps: int = IG_STEPS) -> tuple:
    """(attributions summed over channels [N, H, W], completeness error [N]) from a black baseline."""
    from captum.attr import IntegratedGradients

    with torch.enable_grad(), guided.captum_quietly():
        values, delta = IntegratedGradients(subject.model).attribute(
            x.detach().clone(), baselines=black(subject, x), target=list(targets), n_steps=steps,
            return_convergence_delta=True)
    return values.detach().sum(1), delta.detach()


def occlusion(model, x: torch.Tensor, targets: list, window: int, stride: int) -> torch.Tensor:
    """Mean drop of the score over the ``window``² patches (every ``stride`` pixels) covering each pixel,
    a patch being replaced by 0 (the data's mean colour after normalisation): [N, H, W]."""
    from captum.attr import Occlusion

    channels = x.shape[1]
    with torch.no_grad():
        values = Occlusion(model).attribute(x, sliding_window_shapes=(channels, window, window),
                                            strides=(channels, stride, stride), baselines=0.0,
                                            target=list(targets), perturbations_per_eval=16)
    return values[:, 0]  # a patch spans every channel, so the channels carry the same value


def check_window(window: int | None, stride: int | None, size: int) -> tuple:
    """(window, stride) for occlusion: by default S/8 and half of that, each at least 1."""
    window = max(1, size // 8) if window is None else window
    if not 1 <= window <= size:
        raise ParameterError("window", f"{window} is out of range (1–{size}: the input side)")
    stride = max(1, window // 2) if stride is None else stride
    if not 1 <= stride <= window:
        raise ParameterError("stride", f"{stride} is out of range (1–{window}: the window, so that every "
                                       "pixel is covered)")
    return window, stride


def attribute(subject, method: str, x: torch.Tensor, rows: list, layer: str | None = None,
              steps: int = IG_STEPS, window: int = 4, stride: int = 2) -> Maps:
    """Maps of ``method`` for images ``x`` [N, C, H, W] and each target of ``rows``
    (class indices, or PREDICTED: each image's predicted class)."""
    model = subject.model
    probabilities = predict(model, x, score_kind(subject))
    predicted = probabilities.argmax(1).tolist()
    values, targets, chances, errors = [], [], [], []
    for row in rows:
        cells = predicted if row is PREDICTED else [row] * len(x)
        if method == "gradcam":
            maps = gradcam(model, x, model._leaves[layer], cells)
        elif method == "guided-gradcam":
            maps = guided_gradcam(model, x, model._leaves[layer], cells)
        elif method == "guided-backprop":
            maps = guided.class_guided(model, x, cells)
        elif method == "saliency":
            maps = saliency(model, x, cells)
        elif method == "integrated-gradients":
            maps, delta = integrated_gradients(subject, x, cells, steps)
            errors.append(delta.float().cpu())
        else:
            maps = occlusion(model, x, cells, window, stride)
        values.append(maps.float().cpu())
        targets.append(cells)
        chances.append(probabilities[torch.arange(len(x)), torch.tensor(cells, device=x.device)].cpu())
    return Maps(torch.stack(values), targets, torch.stack(chances), torch.stack(errors) if errors else None)
