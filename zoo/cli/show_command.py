"""``cnncost show``: look inside a saved run or a zoo network.

Thin wrappers over ``zoo.inspect`` (which imports torch), one subcommand per view.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from cnncost.cli import options as o
from cnncost.cli.app import app, friendly

show_app = typer.Typer(no_args_is_help=True, help="Look inside a network: filters, activation maps, guided "
                                                  "backpropagation, attribution maps (Grad-CAM, saliency, "
                                                  "integrated gradients, occlusion), activation maximisation, "
                                                  "test predictions.")
app.add_typer(show_app, name="show")

Run = Annotated[str, typer.Argument(help="a run folder (its best.pt), a run's checkpoint.pt/best.pt, or a zoo "
                                         "network (zoo.vgg11, smallcnn_res, an architecture file)")]
Out = Annotated[str, typer.Option("--out", help="the PNG to write")]
Image = Annotated[str, typer.Option("--image", help="the image shown to the network (resized and centre-cropped "
                                                    "as in evaluation)")]
Images = Annotated[list[str], typer.Option("--image", help="an image shown to the network (resized and "
                                                         "centre-cropped as in evaluation); repeat for a grid")]
Target = Annotated[Optional[str], typer.Option("--target", help="classes explained, one row each: indices or a "
                                                                "run's class names, comma-separated; default: "
                                                                "each image's predicted class")]
Layer = Annotated[Optional[str], typer.Option("--layer", help="layer, by its engine name (features.0, "
                                                              "layer4.1.conv2)")]
Device = Annotated[str, typer.Option("--device", help="auto | cpu | cuda")]
Weights = Annotated[Optional[str], typer.Option("--weights", help="zoo network: a state_dict file (or "
                                                                  "'imagenet', the torch hub cache) loaded "
                                                                  "strictly; default: random init")]
ImgSize = Annotated[Optional[int], typer.Option("--img-size", help="zoo network: input side S (S×S); "
                                                                   "default: the network's")]
Seed = Annotated[int, typer.Option("--seed", help="zoo network: seed of the random init (and of maximize's noise)")]
Module = Annotated[Optional[str], typer.Option("--module", metavar="SPEC",
                                               help="a saved run of a user's module: name its module again "
                                                    "(package.module:factory or path/to/file.py:factory; its "
                                                    "code runs). A run file never imports code itself")]


# Network parameters show does not take: the input size is --img-size, the classes are the weights'.
NOT_SHOWN_OPTIONS = ("hw", "h", "w", "classes")
network_options = o.network_options(exclude=NOT_SHOWN_OPTIONS)


def _subject(run, device, weights, img_size, seed, given: o.Given, module=None):
    from zoo.inspect.source import open_subject

    return open_subject(run, device=device, weights=weights, img_size=img_size, seed=seed,
                        hyperparameters=_network_given(run, given), module=module)


def _network_given(run: str, given: o.Given) -> dict:
    """The network options and --set items as builder keywords, checked by the network's declarations; for a
    saved run, as they were given (open_subject refuses them: a run keeps its own)."""
    if not given.settings:
        return dict(given)
    from pathlib import Path

    if not run.endswith(".toml") and Path(run).expanduser().exists():
        return {**given, **o.settings(given.settings)}
    return given.for_arch(o.resolve_name(run))


@show_app.command()
@friendly
@network_options
def filters(run: Run, layer: Layer = None, out: Out = "filters.png", device: Device = "auto",
            weights: Weights = None, img_size: ImgSize = None, seed: Seed = 0,
            given: o.Given = o.FILLED, module: Module = None):
    """A conv layer's filters in a grid, each scaled on its own (RGB for the first layer, else per input channel)."""
    from zoo.inspect.views import show_filters

    typer.echo(show_filters(_subject(run, device, weights, img_size, seed, given, module), layer, out))


@show_app.command()
@friendly
@network_options
def activations(run: Run, image: Image, layers: Annotated[Optional[str], typer.Option(
                    "--layers", help="comma-separated layer names; default: the conv layers (at most 8, "
                                     "spread evenly)")] = None,
                out: Out = "activations.png", device: Device = "auto", weights: Weights = None,
                img_size: ImgSize = None, seed: Seed = 0, given: o.Given = o.FILLED,
                module: Module = None):
    """The activation maps of chosen layers for one image: one panel per layer, its channels tiled."""
    from zoo.inspect.views import show_activations

    subject = _subject(run, device, weights, img_size, seed, given, module)
    typer.echo(show_activations(subject, image, layers, out))


@show_app.command("guided-backprop")
@friendly
@network_options
def guided_backprop(run: Run, image: Images, layer: Layer = None,
                    neurons: Annotated[Optional[int], typer.Option(
                        "--neurons", help="channels shown: those with the largest activation; default 10, or "
                                          "all of a layer with fewer")] = None,
                    target: Annotated[Optional[str], typer.Option(
                        "--target", help="explain these classes' scores instead of a layer's channels: "
                                         "indices or a run's class names, comma-separated")] = None,
                    out: Out = "guided.png", device: Device = "auto", weights: Weights = None,
                    img_size: ImgSize = None, seed: Seed = 0, given: o.Given = o.FILLED,
                    module: Module = None):
    """Guided backpropagation (Captum; the generalised rule for non-ReLU activations) of a layer's most
    active channels for one image, or of class scores (--target) for several."""
    from zoo.inspect.attribution import run_classes
    from zoo.inspect.views import show_guided

    subject = _subject(run, device, weights, img_size, seed, given, module)
    typer.echo(show_guided(subject, image, layer, neurons, target, out, run_classes(run)))


def _attribution_command(method: str, summary: str, extra: str = ""):
    """Register `cnncost show METHOD`: one attribution view of ``zoo.inspect.attribution``."""

    def command(run: Run, image: Images, target: Target = None, layer: Layer = None,
                steps: Annotated[Optional[int], typer.Option("--steps", help="integrated-gradients: quadrature "
                                                                              "steps from the black image; "
                                                                              "default 50")] = None,
                window: Annotated[Optional[int], typer.Option("--window", help="occlusion: patch side in pixels; "
                                                                               "default S/8")] = None,
                stride: Annotated[Optional[int], typer.Option("--stride", help="occlusion: patch step in "
                                                                               "pixels; default half the "
                                                                               "window")] = None,
                out: Out = f"{method}.png", device: Device = "auto", weights: Weights = None,
                img_size: ImgSize = None, seed: Seed = 0, given: o.Given = o.FILLED, module: Module = None):
        from zoo.inspect.attribution import IG_STEPS, run_classes
        from zoo.inspect.views import show_attribution

        if method != "integrated-gradients" and steps is not None:
            raise _not_for(method, "--steps", "integrated-gradients")
        if method != "occlusion" and (window is not None or stride is not None):
            raise _not_for(method, "--window" if window is not None else "--stride", "occlusion")
        subject = _subject(run, device, weights, img_size, seed, given, module)
        typer.echo(show_attribution(subject, method, image, target, layer, out, run_classes(run),
                                    steps=IG_STEPS if steps is None else steps, window=window, stride=stride))

    command.__doc__ = summary + extra
    show_app.command(method)(friendly(network_options(command)))


def _not_for(method: str, option: str, owner: str):
    from cnncost.errors import CnncostError

    return CnncostError(f"{option}: an option of {owner}, not of {method}")


_attribution_command("gradcam", "Grad-CAM heat maps (Captum) of a conv layer for class scores, over the images.")
_attribution_command("guided-gradcam", "Guided Grad-CAM (Captum): guided backpropagation times Grad-CAM.")
_attribution_command("saliency", "Saliency maps (Captum): |gradient of a class score w.r.t. the input|.")
_attribution_command("integrated-gradients", "Integrated gradients (Captum) from a black image, with their "
                                             "completeness error.")
_attribution_command("occlusion", "Occlusion (Captum): the class score's drop when a sliding patch is "
                                  "greyed out.")


@show_app.command()
@friendly
@network_options
def maximize(run: Run, layer: Layer = None,
             filters_: Annotated[Optional[str], typer.Option("--filters", help="filter indices: 0-15, 3,7 or "
                                                                               "0-3,8; default: the first 16")] = None,
             steps: Annotated[int, typer.Option("--steps", help="gradient-ascent steps")] = 100,
             out: Out = "maximize.png", device: Device = "auto", weights: Weights = None,
             img_size: ImgSize = None, seed: Seed = 0, given: o.Given = o.FILLED,
             module: Module = None):
    """Images that maximise chosen filters of a conv layer: regularised gradient ascent from grey noise."""
    from zoo.inspect.views import show_maximize

    subject = _subject(run, device, weights, img_size, seed, given, module)
    typer.echo(show_maximize(subject, layer, filters_, steps, seed, out))


@show_app.command()
@friendly
def predictions(run: Annotated[str, typer.Argument(help="a run folder or its checkpoint.pt/best.pt")],
                data: Annotated[str, typer.Option("--data", help="image folder whose test/ (or val/) split "
                                                                 "is shown")],
                out: Out = "predictions.png", device: Device = "auto", module: Module = None):
    """The 10×3 grid of test images titled with predicted and true class (as `cnncost train` draws it)."""
    from zoo.inspect.views import show_predictions

    typer.echo(show_predictions(run, data, out, device, module))
