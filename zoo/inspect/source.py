"""What ``cnncost show`` looks inside, and the image it shows it.

A subject is either a saved run (its folder, whose ``best.pt`` is used, or a
``checkpoint.pt``/``best.pt`` file: rebuilt by ``runtime.runs.open_run``)
or a zoo network (``zoo.NAME``, a registered name, an architecture file),
built by the engine's description with a seeded random initialisation, or with
the weights of ``--weights`` loaded strictly. Either way the model is in eval
mode, float32, on the chosen device.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import torch

from cnncost import archs, engine, finetune
from cnncost.arch import ParameterError
from cnncost.archs.registry import MODULE_PREFIX, flag
from cnncost.errors import CnncostError

from ..from_spec import SpecModule
from ..runtime import images
from ..runtime.devices import check_device, pick_device
from ..runtime import model
from ..weights import mismatches, read_state_dict


class Subject(NamedTuple):
    """A network ready to be looked at."""

    model: SpecModule  # eval mode, float32, on ``device``
    name: str  # architecture name (vgg11, smallcnn_res, ...)
    table: Any  # engine.CostTable: every layer's input and output shape, in execution order
    size: int  # input side in pixels
    channels: int  # input channels (3: RGB, 1: grey)
    normalisation: tuple  # (mean, std) per channel, what the network's inputs were normalised with
    device: torch.device
    origin: str  # where the weights come from, for titles
    resize: str = "crop"  # how an image becomes size×size: the run's --resize (crop or plain)


def open_subject(source: str, *, device: str = "auto", weights: str | None = None, img_size: int | None = None,
                 hyperparameters: dict | None = None, seed: int = 0, module: str | None = None) -> Subject:
    """The run (a folder or run file that exists) or zoo network named by ``source``.

    ``module`` is for a saved run of a user's module: the user names the module again,
    because a run file never imports code by itself (``checkpoint.trusted_arch``).
    """
    check_device(device)
    if not source.endswith(".toml") and Path(source).expanduser().exists():  # an architecture file is no run
        _no_zoo_options(source, weights, img_size, hyperparameters)
        return _from_run(source, device, module)
    if not _is_network(source):
        raise CnncostError(f"RUN: {source!r} is neither a run folder or file nor a zoo network; "
                           f"zoo networks: {', '.join(archs.names())}")
    if module is not None:
        raise ParameterError("module", f"{source} is not a saved run; {{param:module}} names the module of a saved "
                                       "run (to look at a module untrained, give module:SPEC as RUN)")
    return _from_zoo(source, device, weights, img_size, hyperparameters or {}, seed)


def _is_network(source: str) -> bool:
    return (source.endswith(".toml") or source.startswith(MODULE_PREFIX)
            or source.removeprefix("zoo.") in archs.names())


def _no_zoo_options(source: str, weights, img_size, hyperparameters) -> None:
    """A saved run carries its weights, size and hyperparameters: options that would change them are errors."""
    given = [option for option, value in (("--weights", weights), ("--img-size", img_size)) if value is not None]
    given += [flag(key) for key in hyperparameters or {}]
    if given:
        raise CnncostError(f"{given[0]}: {source} is a saved run, which keeps its own weights, input size "
                           "and hyperparameters; this option is for zoo networks")


def _from_run(source: str, device: str, module: str | None) -> Subject:
    from ..runtime.runs import open_run

    run = open_run(source, device, module)
    path = Path(source).expanduser()
    return Subject(run.model.float(), run.prepared.arch.name, run.prepared.table, run.size,
                   run.prepared.network.input_shape[0], run.normalisation, run.device,
                   f"run {path}", run.config.resize)


def _from_zoo(name: str, device: str, weights: str | None, img_size: int | None, hyper: dict,
              seed: int) -> Subject:
    arch = archs.get(name)
    state, path = _weights(arch, weights)
    classes_param = arch.param("classes")
    if classes_param is not None:
        classes = classes_param.default
        _, _, network = model.describe(arch, hyper, img_size, classes, training=False)
        classes = _classes_in(state, network, classes)
        _, config, network = model.describe(arch, hyper, img_size, classes, training=False)
    else:  # a user's module fixes its own class count; it takes no --classes
        _, config, network = model.describe(arch, hyper, img_size, None, training=False)
    torch.manual_seed(seed)  # the random initialisation follows --seed
    net = SpecModule(network)
    if state is not None:
        _load_strictly(net, arch, config, state, path)
    chosen = pick_device(device)
    channels = network.input_shape[0]
    origin = f"{arch.name}, weights {path.name}" if path else f"{arch.name}, random init (seed {seed})"
    return Subject(net.to(chosen).eval(), arch.name, engine.analyze(network), config["h"], channels,
                   images.model_mean_std(channels), chosen, origin)


def _weights(arch, weights: str | None) -> tuple:
    """(state_dict, path) of ``--weights`` (a file, or 'imagenet' from the torch hub cache), or (None, None)."""
    if weights is None or weights == "none":
        return None, None
    path = model.weights_file(arch, weights)
    assert path is not None  # weights_file gives None only for "none", answered above
    return read_state_dict(path), path


def _classes_in(state: dict | None, network, default):
    """The class count of the file's classifier (its last Linear layer), else ``default``."""
    if state is None:
        return default
    head = state.get(finetune.classifier(network) + ".weight")
    return int(head.shape[0]) if head is not None and head.dim() == 2 else default


def _load_strictly(net: SpecModule, arch, config: dict, state: dict, path: Path) -> None:
    """Every tensor must fit; auxiliary-head tensors (torchvision's GoogLeNet, Inception-v3) are not used."""
    aux = model.auxiliary_prefixes(arch, config)
    state = {k: v for k, v in state.items() if not (aux and k.startswith(aux))}
    problems = mismatches(net, state)
    if problems:
        raise ParameterError("weights", f"{path.name} does not fit {arch.name}: {problems}")
    net.load_state_dict(state, strict=True)


def load_image(path: str, subject: Subject) -> torch.Tensor:
    """The image at ``path`` as the network sees it: decoded, eval transform (resize the shorter
    side, centre crop), normalised; a [1, C, S, S] tensor on the subject's device."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise ParameterError("image", f"no such file: {path}")
    if subject.channels not in (1, 3):
        raise ParameterError("image", f"{subject.name} takes {subject.channels} input channels, not an image")
    try:
        picture = images.decode(str(file), channels=subject.channels, min_side=images.eval_resize(subject.size))
    except Exception as error:  # noqa: BLE001 - PIL raises many kinds for a file that is not an image
        raise ParameterError("image", f"{path} is not a readable image ({type(error).__name__})") from None
    tensor = images.to_tensor(images.eval_transform(picture, subject.size, subject.resize))
    return images.normalise(tensor, *subject.normalisation).unsqueeze(0).to(subject.device)


def to_pixels(x: torch.Tensor, subject: Subject) -> torch.Tensor:
    """Normalised input(s) back to pixel values in [0, 1] (on the CPU, for drawing)."""
    return images.denormalise(x.detach().float().cpu(), *subject.normalisation)


def to_input(pixels: torch.Tensor, subject: Subject) -> torch.Tensor:
    """Pixel values [N, C, H, W] in [0, 1] normalised as the network expects (differentiable)."""
    mean = torch.tensor(subject.normalisation[0], device=pixels.device, dtype=pixels.dtype).view(1, -1, 1, 1)
    std = torch.tensor(subject.normalisation[1], device=pixels.device, dtype=pixels.dtype).view(1, -1, 1, 1)
    return (pixels - mean) / std
