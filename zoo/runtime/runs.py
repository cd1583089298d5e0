"""A saved run rebuilt from its run file: the network its config describes, with the saved weights.

``cnncost evaluate`` (``zoo.training.evaluate``) and ``cnncost show`` (``zoo.inspect.source``) both open runs
this way. Nothing the file names is imported: a run of a user's module needs the module named again by the
user (``checkpoint.trusted_arch``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from cnncost.errors import CnncostError

from ..weights import mismatches
from . import checkpoint, model
from .config import TrainConfig
from .devices import check_device, pick_device
from .images import model_mean_std


class SavedRun(NamedTuple):
    """A saved run rebuilt: its network with the saved weights, in eval mode on ``device``."""

    model: Any  # SpecModule in eval mode, on ``device``
    prepared: Any  # model.Prepared (architecture, builder keywords, network, engine table)
    config: TrainConfig
    classes: list
    device: Any  # torch.device
    normalisation: tuple  # (mean, std) the run's images were normalised with
    size: int  # input side in pixels


def open_run(run_file: str, device: str = "auto", module: str | None = None) -> SavedRun:
    """Rebuild a run's network from its checkpoint.pt/best.pt (or its folder: best.pt) with its weights.

    Every problem (no run file, a file of another kind, weights that do not fit the network its config
    describes) is a one-line ``CnncostError``.
    """
    check_device(device)
    path = Path(run_file).expanduser()
    if path.is_dir():
        if not (path / checkpoint.BEST).exists():
            raise CnncostError(f"{path}: not a run folder (it has no {checkpoint.BEST}; give a run folder "
                               f"or its {checkpoint.BEST}/{checkpoint.CHECKPOINT})")
        path = path / checkpoint.BEST
    saved = checkpoint.load(path)
    config = checkpoint.saved_config(saved, path)
    arch = checkpoint.trusted_arch(config.arch, module, path)
    try:  # a --binary run: its 1-output head, the module outputting the scores [0, z] as in training
        prepared = model.prepare(arch, config.hyperparameters, config.img_size, len(saved["classes"]),
                                 "none", config.dropout, binary=config.binary)
    except CnncostError as error:  # the config names a network this version cannot build
        raise CnncostError(f"{path}: cannot rebuild the run's network {config.arch} ({error})") from None
    weights = checkpoint.served_weights(saved)  # --ema: the average's weights, whichever run file is given
    problems = mismatches(prepared.model, weights)
    if problems:  # another network, another class count, or an edited file
        raise CnncostError(f"{path}: its weights do not fit {prepared.arch.name} with {len(saved['classes'])} "
                           f"classes as its config describes: {problems}")
    prepared.model.load_state_dict(weights)
    chosen = pick_device(device)
    net = prepared.model.to(chosen).eval()
    channels = prepared.network.input_shape[0]
    return SavedRun(net, prepared, config, list(saved["classes"]), chosen, model_mean_std(channels),
                    prepared.config["h"])
