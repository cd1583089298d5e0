"""The network a run trains: built from its description, pretrained weights loaded, classifier replaced.

The classifier (the last Linear layer, see ``cnncost.finetune``) is built for
the dataset's classes from the start; pretrained weights fill every other
layer, strictly: any missing, unexpected or wrong-shaped tensor outside the
classifier and the auxiliary heads is a one-line error naming it. Nothing is
ever downloaded: ``--weights imagenet`` only looks in the torch hub cache.

``--binary`` (a 2-class dataset): the classifier gets one output, the logit z of class 1 (the second
class name in sorted order), in the description, so the engine counts the head the module runs. The
module's output is then turned into the two class scores [0, z] (a forward hook: no parameter, no
state_dict key): softmax([0, z]) is (1 − sigmoid(z), sigmoid(z)) and argmax is z > 0, so every reader
of class scores (metrics, predictions, ``cnncost evaluate`` and ``show``) reads the sigmoid head
unchanged, and the loss, ``BinaryCrossEntropy``, is BCE with logits on z.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import nn

from cnncost import archs, engine, finetune
from cnncost import layers as L
from cnncost.arch import Arch, ParameterError, as_arch
from cnncost.walk import children
from cnncost.errors import CnncostError

from ..from_spec import SpecModule
from ..weights import current_keys, mismatches, read_state_dict

# torchvision's checkpoint file names (its download URLs end in these; the hub cache keeps the name).
TORCHVISION_FILES = {
    "alexnet": "alexnet-owt-7be5be79.pth",
    "vgg11": "vgg11-8a719046.pth", "vgg13": "vgg13-19584684.pth",
    "vgg16": "vgg16-397923af.pth", "vgg19": "vgg19-dcbb9e9d.pth",
    "vgg11_bn": "vgg11_bn-6002323d.pth", "vgg13_bn": "vgg13_bn-abd245e5.pth",
    "vgg16_bn": "vgg16_bn-6c64b313.pth", "vgg19_bn": "vgg19_bn-c79401a0.pth",
    "resnet18": "resnet18-f37072fd.pth", "resnet34": "resnet34-b627a593.pth",
    "resnet50": "resnet50-0676ba61.pth", "resnet101": "resnet101-63fe2227.pth",
    "resnet152": "resnet152-394f9c45.pth",
    "googlenet": "googlenet-1378be20.pth", "inception_v3": "inception_v3_google-0cc3c7bd.pth",
    "mobilenet_v2": "mobilenet_v2-b0353104.pth",
}
DOWNLOAD_BASE = "https://download.pytorch.org/models/"


class Prepared(NamedTuple):
    """A run's network: its description, the engine's table, the torch module."""

    arch: Any  # the registry Arch
    config: dict  # the builder keywords actually used
    network: L.Network
    table: Any  # engine.CostTable of ``network``
    model: SpecModule
    classifier: str  # name of the replaced final Linear layer


def describe(arch_name: str | Arch, hyperparameters: dict, img_size: int | None, classes: int | None,
             dropout: float | None = None, training: bool = True, dropout_at: tuple = ()) -> tuple:
    """(arch, builder keywords, Network) for training at img_size × img_size with ``classes`` outputs.

    ``classes=None`` keeps the architecture's own class count (a user's module, or a view
    that has no data to match). ``training=False`` (a view) skips the checks that only training
    needs: a classifier at the end.

    Auxiliary heads are left out (training uses the main logits only); an input
    too small for the network is a ParameterError naming ``img_size``, with the
    smallest valid size, which the engine derives.
    """
    arch = as_arch(arch_name)  # a caller that has resolved the name passes the Arch: resolved once
    given = dict(hyperparameters)
    side = arch.param("h")
    assert side is not None  # every image architecture declares its input size (arch.input_size_params)
    size = img_size or side.default
    given.update(h=size, w=size)
    if arch.param("classes") and classes is not None:
        given["classes"] = classes  # a user's module has no such option: its classes are its own
    if arch.param("aux_logits"):
        given["aux_logits"] = False
    if dropout is not None and arch.param("dropout"):
        given["dropout"] = dropout
    config = archs.resolve(arch, given)
    if training and config.get("include_top") is False and config.get("head") == "keep":
        raise ParameterError("include_top", "off leaves the network no classifier to train; "
                                            "add {param:head} gap or {param:head} flatten")
    network = arch.build(**config)
    if dropout_at:  # --dropout-at: new Dropout nodes, so the engine counts what the module runs
        from .dropout_at import insert_dropout

        assert dropout is not None  # TrainConfig.check: --dropout-at comes with its rate
        network = insert_dropout(network, tuple(dropout_at), dropout)
    if not arch.param("classes") and classes is not None:
        _check_outputs(arch.name, network, classes)
    if len(network.input_shape) == 3:
        need = max(engine.min_input_size(network))
        if size < need:
            raise ParameterError("img_size", f"{size} is too small for {arch.name} "
                                             f"(the smallest valid input is {need}×{need})")
    if training:  # a view (cnncost show) looks at any network; training needs a classifier
        _require_classifier(arch.name, network, classes)
    return arch, config, network


def _require_classifier(name: str, network, classes: int | None) -> None:
    """Training is for classifiers: one output of a score per class (YOLOv3's three detection maps are
    refused in one line: detection training is out of scope)."""
    outputs = engine.analyze(network).output_shape
    sides = any(isinstance(n, L.Auxiliary) and not n.training_only for n in _walk(network.layers))
    if sides or (classes is not None and len(outputs) != 1):
        scales = " at several scales" if sides else ""
        raise CnncostError(f"{name}: outputs {'×'.join(map(str, outputs))} maps{scales}, not one score per class; "
                           "cnncost train trains classifiers (detection training is out of scope)")


def _walk(nodes: tuple):
    for node in nodes:
        yield node
        for part in children(node):
            yield from _walk(part)


def head_outputs(classes: int, binary: bool) -> int:
    """Outputs of the classifier a run builds for ``classes`` classes: one (the logit of class 1) with
    ``--binary``, else one per class."""
    return 1 if binary else classes


def binary_scores(output):
    """The class scores [0, z] of a 1-output head's logits z [B, 1]: softmax gives sigmoid(z) to class 1
    and argmax picks class 1 exactly when z > 0 (a tie, z = 0, goes to class 0, as argmax breaks ties).
    Auxiliary outputs, if a tuple, pass through."""
    if isinstance(output, tuple):
        return (binary_scores(output[0]),) + output[1:]
    return torch.cat([torch.zeros_like(output), output], dim=1)


def _binary_hook(module, inputs, output):
    # A module-level function (not a closure): deep copies of the module (--ema's average) keep it.
    return binary_scores(output)


def make_binary(model: nn.Module) -> nn.Module:
    """``model`` (a 1-output classifier) made to output the class scores [0, z]; returned for chaining."""
    model.register_forward_hook(_binary_hook)
    return model


class BinaryCrossEntropy(nn.Module):
    """--binary's loss on the scores [0, z]: ``binary_cross_entropy_with_logits(z, y)`` with y = 1 for class 1,
    0 for class 0, smoothed to y·(1 − ε) + ε/2 by label smoothing ε. ``reduction`` as torch's ('mean', 'none')."""

    def __init__(self, label_smoothing: float = 0.0, reduction: str = "mean"):
        super().__init__()
        self.label_smoothing = label_smoothing
        self.reduction = reduction

    def forward(self, scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The loss of scores [B, 2] (column 1 is z) against class indices [B]."""
        target = labels.to(scores.dtype)
        if self.label_smoothing:
            target = target * (1 - self.label_smoothing) + self.label_smoothing / 2
        return nn.functional.binary_cross_entropy_with_logits(scores[:, 1], target, reduction=self.reduction)


def _check_outputs(name: str, network, classes: int) -> None:
    """A fixed-output network (a user's module) must already have one output per class of the data (one output
    with ``--binary``: ``classes`` is then 1)."""
    outputs = engine.analyze(network).output_shape
    if tuple(outputs) != (classes,) and classes == 1:
        raise ParameterError("binary", f"{name} outputs {'×'.join(map(str, outputs))} values; a binary head has 1 "
                                       "(make the module's last layer output 1: the logit of class 1)")
    if tuple(outputs) != (classes,):
        raise ParameterError("data", f"{name} outputs {'×'.join(map(str, outputs))} values but the data has "
                                     f"{classes} classes; make the module's last layer output {classes}")


def prepare(arch_name: str | Arch, hyperparameters: dict, img_size: int | None, classes: int,
            weights: str = "none", dropout: float | None = None, dropout_at: tuple = (),
            binary: bool = False) -> Prepared:
    """Build the module (seed torch first for a reproducible initialisation) and load weights. ``binary``: a
    1-output head whose module outputs the scores [0, z] (``classes`` must be 2)."""
    if binary and classes != 2:
        raise ParameterError("binary", f"the data has {classes:,} classes; a binary head needs exactly 2")
    arch, config, network = describe(arch_name, hyperparameters, img_size, head_outputs(classes, binary), dropout,
                                     dropout_at=dropout_at)
    model = SpecModule(network)
    if binary:
        make_binary(model)
    if dropout is not None and not arch.param("dropout"):
        _set_dropout(model, dropout, arch.name)
    head = finetune.classifier(network)
    path = weights_file(arch, weights)
    if path is not None:
        load_backbone(model, arch, config, head, path)
    return Prepared(arch, config, network, engine.analyze(network), model, head)


def _set_dropout(model: torch.nn.Module, rate: float, name: str) -> None:
    # Every variant (Dropout2d, AlphaDropout, ...): a user's module may use any of them.
    layers = [m for m in model.modules() if isinstance(m, torch.nn.modules.dropout._DropoutNd)]
    if not layers:
        raise ParameterError("dropout", f"{name} has no dropout layer to set")
    for layer in layers:
        layer.p = rate


def weights_file(arch, weights: str) -> Path | None:
    """The checkpoint to load: None for ``none``, a hub-cache file for ``imagenet``, else the path."""
    if weights == "none":
        return None
    if weights != "imagenet":
        return Path(weights).expanduser()
    file = TORCHVISION_FILES.get(arch.name)
    if file is None:
        raise ParameterError("weights", f"imagenet: {arch.name} has no torchvision weights; "
                                        + "pass {listed} PATH or train with {param:strategy} scratch", ("weights",))
    folder = Path(torch.hub.get_dir()) / "checkpoints"
    if not (folder / file).is_file():
        raise ParameterError("weights", f"imagenet: {folder / file} not found; nothing is downloaded — put "
                                        f"torchvision's {file} ({DOWNLOAD_BASE}{file}) there, or pass "
                                        "{param:weights} PATH")
    return folder / file


def load_backbone(model: SpecModule, arch, config: dict, head: str, path: Path) -> None:
    """Load every tensor but the classifier's (when its class count differs) from ``path``, strictly.

    Auxiliary-head tensors in the file (torchvision's GoogLeNet and
    Inception-v3 checkpoints carry them) are accepted and not used, and so are the tensors of the
    network's own top when ``--head``/``--no-include-top`` took it off. Legacy key names are
    renamed first (DenseNet's published files).
    """
    state = current_keys(model, read_state_dict(path))
    aux = auxiliary_prefixes(arch, config) + replaced_top(arch, config)
    state = {k: v for k, v in state.items() if not k.startswith(aux)}
    expected = model.state_dict()
    replaced = {k for k in expected if k.startswith(head + ".")}
    if all(k in state and state[k].shape == expected[k].shape for k in replaced):
        replaced = set()  # same classes: the pretrained classifier is kept
    state = {k: v for k, v in state.items() if k not in replaced}
    body = {k: v for k, v in expected.items() if k not in replaced}
    problems = mismatches(_Keys(body), state)
    if problems:
        raise ParameterError("weights", f"{path.name} does not fit {arch.name}: {problems}")
    missing, unexpected = model.load_state_dict(state, strict=False)
    if set(missing) != replaced or unexpected:  # mismatches() above rules this out: a bug if seen
        raise RuntimeError(f"{arch.name}: loading left {missing} missing and {unexpected} unexpected")


def replaced_top(arch, config: dict) -> tuple:
    """Module-path prefixes of the layers of the network's own top, when ``--head`` or
    ``--no-include-top`` took it off (empty otherwise)."""
    if config.get("include_top", True) and config.get("head", "keep") == "keep":
        return ()
    original = arch.build(**{**config, "include_top": True, "head": "keep"})
    names = [node.name for node in original.layers]
    return tuple(leaf.name + "." for leaf in L.leaves(original.layers[names.index(original.top):]))


def auxiliary_prefixes(arch, config: dict) -> tuple:
    """Module-path prefixes of the architecture's auxiliary heads (empty when it has none)."""
    if not arch.param("aux_logits"):
        return ()
    network = arch.build(**{**config, "aux_logits": True})
    return tuple(node.name + "." for node in _auxiliaries(network.layers))


def _auxiliaries(nodes: tuple) -> list:
    found = []
    for node in nodes:
        if isinstance(node, L.Auxiliary) and node.training_only:
            found.append(node)
        else:
            for part in children(node):
                found += _auxiliaries(part)
    return found


class _Keys:
    """Just enough of a module for ``weights.mismatches``: a fixed state_dict."""

    def __init__(self, state: dict):
        self._state = state

    def state_dict(self) -> dict:
        """The fixed state."""
        return self._state
