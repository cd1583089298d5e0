"""One function per ``cnncost show`` view: resolve the layers, compute, draw, say what was written.

Each returns the one line the command prints. ``subject`` is a
``source.Subject``; ``out`` the PNG to write (atomically).
"""

from __future__ import annotations

from pathlib import Path

from cnncost.errors import CnncostError

from . import activations, figures, filters, guided, layers, maximize
from .source import load_image, to_pixels

ACTIVATION_CHANNELS = 64  # channels tiled per activation panel (the first ones)


def check_out(out: str) -> Path:
    """The output file, whose folder must exist (nothing is created on the way)."""
    path = Path(out).expanduser()
    if not path.parent.is_dir():
        raise CnncostError(f"--out: the folder {path.parent} does not exist")
    if path.is_dir():
        raise CnncostError(f"--out: {path} is a folder; give a file name such as {path / 'show.png'}")
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
            raise CnncostError(f"--layers: {names!r} names no layer; layers: {layers.listing(valid)}")
        note = ""
    else:
        chosen, total = activations.default_layers(subject)
        if not chosen:
            raise CnncostError(f"--layers: {subject.name} has no conv layers; name layers from: "
                               f"{layers.listing(valid)}")
        note = f"{len(chosen)} of {total} conv layers, spread evenly (--layers chooses)" if total > len(chosen) else ""
    outputs = activations.activations(subject.model, x, chosen)
    panels = [(name, tuple(outputs[name].shape), *activations.channel_maps(outputs[name], ACTIVATION_CHANNELS))
              for name in chosen]
    figures.draw_activations(panels, to_pixels(x, subject)[0], subject.name, path, note)
    return f"wrote {path}: activations of {len(chosen)} layers ({', '.join(chosen)})" + (f"; {note}" if note else "")


def show_guided(subject, image: str, layer: str | None, neurons: int | None, out: str) -> str:
    """Guided backpropagation of the ``neurons`` strongest channels of ``layer`` (default: the last conv).

    ``neurons`` None is the default, ``guided.NEURONS``, or all channels of a layer with fewer
    (and the line says so); an explicit count the layer does not have is an error.
    """
    path = check_out(out)
    layer = _layer_or_last_conv(subject, layer, layers.spatial_names(subject), "layer with a spatial output")
    guided.check_gates(subject, layer)
    channels = layers.output_shape(subject, layer)[0]
    note = ""
    if neurons is None:
        neurons = min(guided.NEURONS, channels)
        if neurons < guided.NEURONS:
            note = f"; {layer} has only {channels} channels, so all are shown (default --neurons {guided.NEURONS})"
    x = load_image(image, subject)
    result = guided.guided_backprop(subject.model, x, layer, neurons)
    figures.draw_guided(to_pixels(x, subject)[0], guided.for_display(result.gradients), result.channels,
                        result.peaks, layer, subject.name, path)
    return (f"wrote {path}: guided backpropagation of {layer}, {len(result.channels)} strongest channels "
            f"({', '.join(map(str, result.channels))}){note}")


def show_maximize(subject, layer: str | None, filter_text: str | None, steps: int, seed: int, out: str) -> str:
    """Gradient-ascent images for filters ``filter_text`` (default: the first 16) of ``layer`` (default: last conv)."""
    path = check_out(out)
    convs = layers.conv_names(subject)
    layer = _layer_or_last_conv(subject, layer, convs, "conv layer")
    count = layers.output_shape(subject, layer)[0]
    chosen = layers.parse_indices(filter_text or f"0-{min(count, 16) - 1}", count, layer)
    if steps < 1:
        raise CnncostError(f"--steps: {steps} is out of range (need an integer ≥ 1)")
    with progress_bar(f"maximising {len(chosen)} filters of {layer}", steps) as bar:
        ascent = maximize.maximize(subject, layer, chosen, steps=steps, seed=seed, progress=bar.advance)
    figures.draw_maximized(ascent, layer, subject.name, maximize.METHOD, path)
    gained = int((ascent.after > ascent.before).sum())
    return (f"wrote {path}: {len(chosen)} images maximising filters of {layer} ({steps} steps; "
            f"mean activation raised for {gained} of {len(chosen)})")


def show_predictions(run: str, data: str, out: str, device: str = "auto", module: str | None = None) -> str:
    """The 10×3 grid of test predictions, exactly as ``cnncost train`` draws it (``module``: see
    ``training.evaluate.load_run``)."""
    from ..training.evaluate import check_device, evaluate_run
    from ..training.report import PREDICTION_GRID, save_prediction_grid
    from ..training.setup import model_mean_std

    path = check_out(out)
    check_device(device)
    if not Path(run).expanduser().exists():
        raise CnncostError(f"RUN: {run} is not a run folder or file; predictions need a trained run")
    result = evaluate_run(run, data, device=device, keep=PREDICTION_GRID, module=module)
    images = result["kept"][0]
    channels = images.shape[1] if images is not None and images.dim() == 4 else 3
    if not save_prediction_grid(result["kept"], model_mean_std(channels), result["classes"], path):
        raise CnncostError(f"--data: no readable test images in {data}")
    shown = min(PREDICTION_GRID, result["count"])
    return (f"wrote {path}: {shown} test predictions of {result['arch']} "
            f"(test accuracy {result['top1']:.4f} on {result['count']:,} images)")


def progress_bar(description: str, steps: int):
    """A transient progress bar on stderr, like training's (``TrainConsole.task_bar``): drawn only
    on a terminal, gone when done, so stdout keeps its one line and logs stay clean."""
    from rich.console import Console

    from ..training.console import TrainConsole

    return TrainConsole(console=Console(stderr=True)).task_bar(description, steps, transient=True, unit="steps/s")


def _layer_or_last_conv(subject, layer: str | None, valid: list, kind: str) -> str:
    """``layer`` checked against ``valid``; by default the last conv layer in execution order."""
    if layer is None:
        convs = layers.conv_names(subject)
        if not convs and valid:
            raise CnncostError(f"--layer: {subject.name} has no conv layers; name one of its {layers.plural(kind)}: "
                               f"{layers.listing(valid)}")
        layer = convs[-1] if convs else ""
    return layers.resolve(subject, layer, valid, kind)
