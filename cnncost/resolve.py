"""A user's architecture name to an ``Arch``, in one place: what may be written wherever a command or
the Python API asks for an architecture.

* a registered family: ``resnet50``, a Keras flavour such as ``keras_xception`` (``zoo.`` prefix
  accepted); importing ``cnncost.archs`` registers them all, and only such a name does it;
* an architecture file: a path ending in ``.toml`` (``cnncost.archfile``; no family is imported);
* ``PREFIX:SPEC`` for a prefix a plugin reads (``cnncost.plugins``): ``module:package.module:factory``
  or ``module:path/to/file.py:factory`` is a user's PyTorch module, read by the zoo plugin (torch).

The CLI resolves each name once and hands the ``Arch`` to the library; a library function given a
name (the Python callers' shorthand) resolves it here once, through ``cnncost.arch.as_arch``.
"""

from __future__ import annotations

import re

from .arch import MODULE_PREFIX, Arch

FILE_SUFFIX = ".toml"
# A name a plugin may read: a word and a colon first (``module:``, ``timm:``). A registered name has no
# colon, and a Windows drive (``C:``) is one letter, which no plugin prefix is taken to be.
PLUGIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]+:")


def resolve_arch(name: str) -> Arch:
    """The architecture ``name`` denotes; an unknown name is one line (``CnncostError``)."""
    prefix = _plugin_prefix(name)
    if prefix is not None:
        from . import plugins

        return plugins.resolver(prefix, name)(name.removeprefix(prefix))
    if name.endswith(FILE_SUFFIX):
        from .archfile import load_arch

        return load_arch(name)
    from .archs import registry  # importing the package registers every family

    return registry.lookup(name)


def _plugin_prefix(name: str) -> str | None:
    """The plugin prefix ``name`` starts with, or None: ``module:`` always (the zoo's documented form,
    so its absence is a clear error), another word only when a loaded plugin reads it."""
    if name.startswith(MODULE_PREFIX):
        return MODULE_PREFIX
    found = PLUGIN_NAME.match(name)
    if found is None or name.endswith(FILE_SUFFIX):
        return None
    from . import plugins

    return found.group() if found.group() in plugins.prefixes() else None
