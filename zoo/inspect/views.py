"""One function per ``cnncost show`` view: resolve the layers, compute, draw, say what was written.

Each returns the one line the command prints. ``subject`` is a
``source.Subject``; ``out`` the PNG to write (atomically).
"""

from __future__ import annotations

from pathlib import Path

import torch

from cnncost.arch import ParameterError
from cnncost.errors import CnncostError

from . import activations, attribution, figures, filters, guided, layers, maximize
from .source import load_image, to_pixels

ACTIVATION_CHANNELS = 64  # channels tiled per activation panel (the first ones)


def check_out(out: str) -> Path:
    """The output file, whose folder must exist (nothing is created on the way)."""
    path = Path(out).expanduser()
    if not path.parent.is_dir():
        raise ParameterError("out", f"the folder {path.parent} does not exist")
    if path.is_dir():
        raise ParameterError("out", f"{path} is a folder; give a file name such as {path / 'show.png'}")
    return path


def show_filters(subject, layer: str | None, out: str) -> str:
    """The filters of ``layer`` (default: the first conv layer)."""
    path = check_out(out)
    convs = layers.conv_names(subject)
    layer = layers.resolve(subject, layer or (convs[0] if convs else ""), convs, "conv layer")
    shown = filters.filter_pictures(subject.model._leaves[layer].weight, filters.layout_of(subject, layer))
    figures.draw_filters(shown, layer, subject.name, subject.origin, path)
    kh, kw = shown.pictures.shape[2:]
    what = (f"{len(shown.pictures)} of {shown.filters} filters × {shown.pictures.shape[1]} of {shown.channels} "
            "input channels" if shown.layout == "channels" else f"{len(shown.pictures)} of {shown.filters} filters")
    return f"wrote {path}: {layer} filters, {what}, {kh}×{kw}, {shown.layout}"


def show_activations(subject, image: str, names: str | None, out: str) -> str:
    """The activation maps of ``names`` (comma-separated; default: the conv layers, at most 8) for ``image``."""
    path = check_out(out)
    x = load_image(image, subject)
    valid = layers.leaf_names(subject)
    if names is not None:
        chosen = [layers.resolve(subject, name, valid, "layer", "--layers") for name in layers.parse_names(names)]
        if not chosen:
            raise ParameterError("layers", f"{names!r} names no layer; layers: {layers.listing(valid)}")
        note = ""
    else:
        chosen, total = activations.default_layers(subject)
        if not chosen:
            raise ParameterError("layers", f"{subject.name} has no conv layers; name layers from: "
                                           f"{layers.listing(valid)}")
        note = f"{len(chosen)} of {total} conv layers, spread evenly (--layers chooses)" if total > len(chosen) else ""
    outputs = activations.activations(subject.model, x, chosen)
    panels = [(name, tuple(outputs[name].shape), *activations.channel_maps(outputs[name], ACTIVATION_CHANNELS))
              for name in chosen]
    figures.draw_activations(panels, to_pixels(x, subject)[0], subject.name, path, note)
    return f"wrote {path}: activations of {len(chosen)} layers ({', '.join(chosen)})" + (f"; {note}" if note else "")


def show_guided(subject, images: list, layer: str | None, neurons: int | None, target: str | None, out: str,
                classes: list | None = None) -> str:
    """Guided backpropagation: of a class score with ``target`` (``show_attribution``), else of the
    ``neurons`` strongest channels of ``layer`` (default: the last conv) for one image.

    ``neurons`` None is the default, ``guided.NEURONS``, or all channels of a layer with fewer
    (and the line says so); an explicit count the layer does not have is an error.
    """
    if target is not None:
        for name, value in (("layer", layer), ("neurons", neurons)):
            if value is not None:
                raise ParameterError(name, "with {param:target}, guided backpropagation explains a class score "
                                           "(from the output); drop {param:target} to explain a layer's channels")
        return show_attribution(subject, "guided-backprop", images, target, None, out, classes)
    path = check_out(out)
    if len(images) != 1:
        raise ParameterError("image", f"guided backpropagation of a layer's channels takes one image, not "
                                      f"{len(images)}; with {{param:target}} CLASS it takes several")
    layer = _layer_or_last_conv(subject, layer, layers.spatial_names(subject), "layer with a spatial output")
    channels = layers.output_shape(subject, layer)[0]
    note = ""
    if neurons is None:
        neurons = min(guided.NEURONS, channels)
        if neurons < guided.NEURONS:
            note = f"; {layer} has only {channels} channels, so all are shown (default --neurons {guided.NEURONS})"
    x = load_image(images[0], subject)
    result = guided.neuron_guided(subject, x, layer, neurons)
    figures.draw_guided(to_pixels(x, subject)[0], guided.for_display(result.gradients), result.channels,
                        result.peaks, layer, subject.name, path, result.rule)
    return (f"wrote {path}: guided backpropagation ({result.rule}) of {layer}, {len(result.channels)} strongest "
            f"channels ({', '.join(map(str, result.channels))}){note}")


def show_attribution(subject, method: str, images: list, target: str | None, layer: str | None, out: str,
                     classes: list | None = None, steps: int = attribution.IG_STEPS, window: int | None = None,
                     stride: int | None = None) -> str:
    """An attribution view (``attribution.METHODS``) of ``images`` for each class of ``target``
    (default: each image's predicted class): one column per image, one row per target."""
    kind = attribution.METHODS[method]
    path = check_out(out)
    if kind.uses_layer:
        layer = _layer_or_last_conv(subject, layer, layers.spatial_names(subject), "layer with a spatial output")
    elif layer is not None:
        raise ParameterError("layer", f"{kind.title} explains the class score from the input; only gradcam and "
                                      "guided-gradcam take a layer")
    if method == "integrated-gradients" and steps < 1:
        raise ParameterError("steps", f"{steps} is out of range (need an integer ≥ 1)")
    window, stride = attribution.check_window(window, stride, subject.size)
    if not images:
        raise ParameterError("image", "give at least one image")
    x = torch.cat([load_image(image, subject) for image in images])
    count = attribution.predict(subject.model, x[:1]).shape[1] if classes is None else len(classes)
    rows = attribution.parse_targets(target, classes, count)
    maps = attribution.attribute(subject, method, x, rows, layer, steps=steps, window=window, stride=stride)
    rule = guided.rule_label(guided.gates_before(subject, None))
    title = _attribution_title(subject, kind, layer, rows, classes, rule, steps, window, stride)
    figures.draw_attribution(to_pixels(x, subject), maps, kind, title, _image_titles(images, maps, classes),
                             _cell_titles(maps, classes), path)
    what = kind.title + (f" ({rule})" if method.startswith("guided") else "") + (f" of {layer}" if layer else "")
    line = (f"wrote {path}: {what}, {len(images)} image{'s' if len(images) > 1 else ''} × {len(rows)} "
            f"target{'s' if len(rows) > 1 else ''} ({_targets_text(rows, maps, classes)})")
    if maps.completeness is not None:
        line += (f"; completeness: |Σ attributions − Δscore| ≤ {float(maps.completeness.abs().max()):.2g} "
                 "(Δscore = score − score of black)")
    return line


def _targets_text(rows: list, maps, classes) -> str:
    """'predicted: cross, bar' or 'cross, 3'."""
    if rows == [attribution.PREDICTED]:
        return "predicted: " + ", ".join(attribution.class_label(c, classes) for c in maps.targets[0])
    return ", ".join(attribution.class_label(c, classes) for c in rows)


def _image_titles(images: list, maps, classes) -> list:
    """Each column's title: the image's file name and the network's prediction."""
    return [f"{Path(image).name}\npredicted {attribution.class_label(c, classes)}"
            for image, c in zip(images, maps.targets[0] if maps.targets else [])]


def _cell_titles(maps, classes) -> list:
    """Each cell's title: its target class and probability (integrated gradients: the completeness terms)."""
    titles = []
    for row, cells in enumerate(maps.targets):
        line = []
        for i, c in enumerate(cells):
            text = f"target {attribution.class_label(c, classes)} (p {float(maps.probabilities[row, i]):.2f})"
            if maps.completeness is not None:
                total = float(maps.values[row, i].sum())
                text += f"\nΣ {total:.3g} vs Δscore {total - float(maps.completeness[row, i]):.3g}"
            line.append(text)
        titles.append(line)
    return titles


def _attribution_title(subject, kind, layer, rows, classes, rule, steps, window, stride) -> str:
    """The figure's title: network, method, layer and targets, then how the maps were made and scaled."""
    targets = ("each image's predicted class" if rows == [attribution.PREDICTED]
               else "one row per class: " + ", ".join(attribution.class_label(c, classes) for c in rows))
    how = {
        "gradcam": "ReLU of the layer's maps weighted by their mean gradient, upsampled bilinearly",
        "guided-gradcam": f"guided backpropagation ({rule}) × Grad-CAM of {layer}",
        "saliency": "|gradient of the class score w.r.t. the input|, largest over channels",
        "integrated-gradients": f"{steps} steps from a black image; summed over channels (Σ = Δscore)",
        "occlusion": f"{window}×{window} patches every {stride} px set to the mean colour; mean score drop",
        "guided-backprop": f"{rule}: only positive gradients pass back through each activation",
    }[kind.name]
    scale = ("each picture centred on grey and scaled by its deviation" if kind.picture
             else "one colour scale for all cells")
    return (f"{subject.name} · {kind.title}" + (f" of {layer}" if layer else "") + f" · target: {targets}\n"
            f"score: the class {attribution.score_kind(subject)}; {how}; {scale}")


def show_maximize(subject, layer: str | None, filter_text: str | None, steps: int, seed: int, out: str) -> str:
    """Gradient-ascent images for filters ``filter_text`` (default: the first 16) of ``layer`` (default: last conv)."""
    path = check_out(out)
    convs = layers.conv_names(subject)
    layer = _layer_or_last_conv(subject, layer, convs, "conv layer")
    count = layers.output_shape(subject, layer)[0]
    chosen = layers.parse_indices(filter_text or f"0-{min(count, 16) - 1}", count, layer)
    if steps < 1:
        raise ParameterError("steps", f"{steps} is out of range (need an integer ≥ 1)")
    with progress_bar(f"maximising {len(chosen)} filters of {layer}", steps) as bar:
        ascent = maximize.maximize(subject, layer, chosen, steps=steps, seed=seed, progress=bar.advance)
    figures.draw_maximized(ascent, layer, subject.name, maximize.METHOD, path)
    gained = int((ascent.after > ascent.before).sum())
    return (f"wrote {path}: {len(chosen)} images maximising filters of {layer} ({steps} steps; "
            f"mean activation raised for {gained} of {len(chosen)})")


def show_predictions(run: str, data: str, out: str, device: str = "auto", module: str | None = None) -> str:
    """The 10×3 grid of test predictions, exactly as ``cnncost train`` draws it (``module``: see
    ``runtime.runs.open_run``)."""
    from ..runtime.devices import check_device
    from ..runtime.images import model_mean_std
    # the grid is a test-split evaluation of the run, drawn as train draws it: training's own code, on purpose
    from ..training.evaluate import evaluate_run
    from ..training.report import PREDICTION_GRID, save_prediction_grid

    path = check_out(out)
    check_device(device)
    if not Path(run).expanduser().exists():
        raise CnncostError(f"RUN: {run} is not a run folder or file; predictions need a trained run")
    result = evaluate_run(run, data, device=device, keep=PREDICTION_GRID, module=module)
    images = result["kept"][0]
    channels = images.shape[1] if images is not None and images.dim() == 4 else 3
    if not save_prediction_grid(result["kept"], model_mean_std(channels), result["classes"], path):
        raise ParameterError("data", f"no readable test images in {data}")
    shown = min(PREDICTION_GRID, result["count"])
    return (f"wrote {path}: {shown} test predictions of {result['arch']} "
            f"(test accuracy {result['top1']:.4f} on {result['count']:,} images)")


def progress_bar(description: str, steps: int):
    """A transient progress bar on stderr, like training's (``TrainConsole.task_bar``): drawn only
    on a terminal, gone when done, so stdout keeps its one line and logs stay clean."""
    from rich.console import Console

    from ..runtime.progress import task_bar

    return task_bar(Console(stderr=True), description, steps, transient=True, unit="steps/s")


def _layer_or_last_conv(subject, layer: str | None, valid: list, kind: str) -> str:
    """``layer`` checked against ``valid``; by default the last conv layer in execution order."""
    if layer is None:
        convs = layers.conv_names(subject)
        if not convs and valid:
            raise ParameterError("layer", f"{subject.name} has no conv layers; name one of its {layers.plural(kind)}: "
                                          f"{layers.listing(valid)}")
        layer = convs[-1] if convs else ""
    return layers.resolve(subject, layer, valid, kind)
