"""The registry of the zoo's families: each registered name is a builder plus its declared parameters.

The types (``Arch``, ``Param``) and the checks of parameter values live in the core
(``cnncost.arch``) and are re-exported here, so ``from cnncost.archs.registry import Param`` keeps
working. A family file registers its builders with ``register``; ``lookup`` finds a registered name.
Turning a user's name (a family, an architecture file, ``module:SPEC``) into an ``Arch`` is the
resolver's work (``cnncost.resolve``); ``get`` is that resolver, kept here for old callers.
"""

from __future__ import annotations

from typing import Callable

from ..arch import (MAX_DIGITS, MODULE_PREFIX, Arch, Param, ParameterError, as_arch,  # noqa: F401  (re-exported)
                    check_value, flag, input_size_params, keyword, resolve, spelled_as)
from ..errors import CnncostError

_REGISTRY: dict[str, Arch] = {}


def register(name: str, params: tuple, description: str, source: str,
             torchvision: str | None = None, legacy_key: Callable[[str], str] | None = None) -> Callable:
    """Decorator registering a builder under ``name``; duplicate names raise.

    ``torchvision`` names the torchvision model whose state_dict this network
    reproduces at its default hyperparameters (key in the reference manifest).
    """

    def decorate(build: Callable) -> Callable:
        if name in _REGISTRY:
            raise ValueError(f"architecture {name!r} is already registered")
        declared, builder = _with_heads(tuple(params), build)
        _REGISTRY[name] = Arch(name, builder, declared, description, source, torchvision, legacy_key=legacy_key)
        return build

    return decorate


def _with_heads(params: tuple, build: Callable) -> tuple:
    """An image network's parameters and builder with the classifier-top options added
    (``cnncost.heads``: include_top, head), unless the network declares them itself."""
    declared = {p.name for p in params}
    if "h" not in declared:
        return params, build
    from .. import heads  # imported when the first image family registers

    extra = tuple(p for p in heads.PARAMS if p.name not in declared)
    if not extra:
        return params, build

    def build_with_head(**keywords):
        chosen = {p.name: keywords.pop(p.name, p.default) for p in extra}
        return heads.with_head(build(**keywords), classes=keywords.get("classes"), **chosen)

    # typeshed declares __wrapped__ only on functools.wraps' wrappers, not on a plain function
    build_with_head.__wrapped__ = build  # type: ignore[attr-defined]  # the family's own builder (family(), below, reads its module)
    return params + extra, build_with_head


def family(arch: Arch) -> str:
    """The module that registered ``arch`` (``cnncost.archs.resnet``): one file per family."""
    build = getattr(arch.build, "__wrapped__", arch.build)
    return getattr(build, "func", build).__module__


def lookup(name: str) -> Arch:
    """The registered architecture ``name`` (``zoo.`` prefix accepted); an unknown name is one line
    listing the known ones."""
    key = name.removeprefix("zoo.")
    if key not in _REGISTRY:
        raise CnncostError(f"unknown architecture {name!r}; known: {', '.join(names())}")
    return _REGISTRY[key]


def get(name: str) -> Arch:
    """Any architecture name, as the resolver reads it (``cnncost.resolve.resolve_arch``): a zoo
    name, an architecture file (``*.toml``) or ``module:SPEC`` (through the zoo plugin)."""
    return as_arch(name)


def names() -> list:
    """Registered architecture names in natural order (resnet18 before resnet101)."""
    import re

    return sorted(_REGISTRY, key=lambda n: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", n)])
