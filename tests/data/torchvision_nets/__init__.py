"""torchvision's classification CNNs written as ordinary user modules (torchvision itself is never imported).

Each file defines the factories of one torchvision family, named as torchvision names
them (``resnet50()``, ``regnet_y_400mf()``, ...), builds what torchvision's
``<name>(weights=None)`` builds (same module names and nesting, so the same
``state_dict()`` keys and shapes) and sets ``input_size = (3, crop, crop)`` on each
factory. ``MODELS`` lists a file's canonical factories; ``VARIANTS`` maps extra
factories — the same network written in another everyday idiom (``F.relu``,
``torch.add``, ``x.view``) — to the model they equal.

Files that share blocks import ``ops`` relatively inside this package and as a
sibling module when loaded from their path (``cnncost count --module .../mobilenet.py:mobilenet_v2``).
"""

import importlib
from typing import Callable, Dict, Tuple

FILES = ("alexnet", "convnext", "densenet", "efficientnet", "googlenet", "inception", "mnasnet", "mobilenet",
         "regnet", "resnet", "shufflenet", "squeezenet", "vgg")


def _modules():
    return [importlib.import_module(f"{__name__}.{file}") for file in FILES]


def factories() -> Dict[str, Callable]:
    """Every canonical factory by torchvision model name."""
    found: Dict[str, Callable] = {}
    for module in _modules():
        for name in module.MODELS:
            found[name] = getattr(module, name)
    return found


def variants() -> Dict[str, Tuple[Callable, str]]:
    """Every variant factory by its name: (factory, the torchvision model it must equal)."""
    found: Dict[str, Tuple[Callable, str]] = {}
    for module in _modules():
        for name, model in module.VARIANTS.items():
            found[name] = (getattr(module, name), model)
    return found
