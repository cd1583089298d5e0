"""The registration point for plugins: packages that add architecture names and commands.

A plugin names a function in the ``cnncost.plugins`` entry-point group of its pyproject.toml::

    [project.entry-points."cnncost.plugins"]
    zoo = "zoo.plugin:register"

``register(hooks)`` receives a ``Hooks`` and adds what the plugin provides: a name prefix and the
function that turns the rest of such a name into an ``Arch`` (``hooks.add_resolver("module:", ...)``),
and the modules whose import registers its commands on ``cnncost.cli.app.app``
(``hooks.add_commands("zoo.cli.verify_command")``). The core never imports a plugin by name.

Plugins are loaded when first needed — a name with a prefix the core does not read, a command the
core does not have, the list of commands — so ``cnncost count resnet50`` never loads one (the zoo
imports torch). A plugin that fails to load is remembered, and named in the error of whatever asked
for something only a plugin could give.
"""

from __future__ import annotations

from typing import Callable

from .arch import MODULE_PREFIX
from .errors import CnncostError

GROUP = "cnncost.plugins"
# What a prefix the core documents, but leaves to a plugin, needs when no plugin reads it.
NEEDS = {MODULE_PREFIX: "reading a PyTorch module needs torch and the zoo plugin"}
# What to install when a plugin failed to import one of these modules.
EXTRAS = {"torch": "pip install 'cnncost[torch]'"}
NONE_INSTALLED = ("no cnncost plugin is installed (installing cnncost registers the zoo's: "
                  "pip install 'cnncost[torch]', or pip install -e . in a checkout)")


class Hooks:
    """What the installed plugins registered, and which of them failed to load."""

    def __init__(self) -> None:
        self.resolvers: dict[str, Callable] = {}  # name prefix ("module:") -> function(rest of the name) -> Arch
        self.command_modules: list[str] = []  # imported when the CLI needs the plugins' commands
        self.failed: dict[str, str] = {}  # plugin (or command module) -> why it did not load
        self.commands_imported = False

    def add_resolver(self, prefix: str, resolve: Callable) -> None:
        """Names ``PREFIX...`` become ``resolve(rest)``; ``prefix`` is a word and a colon (``module:``)."""
        word = prefix.removesuffix(":")
        if not prefix.endswith(":") or not word.isidentifier():
            raise ValueError(f"a resolver prefix is a word and a colon, like 'module:' (got {prefix!r})")
        if prefix in self.resolvers:
            raise ValueError(f"two plugins read names starting {prefix!r}")
        self.resolvers[prefix] = resolve

    def add_commands(self, *modules: str) -> None:
        """Modules (dotted names) whose import registers commands on the CLI's app."""
        self.command_modules.extend(modules)


_HOOKS: list = []  # the loaded Hooks, once per process


def hooks() -> Hooks:
    """Every installed plugin registered (loaded on the first call)."""
    if not _HOOKS:
        _HOOKS.append(load(_entry_points()))
    return _HOOKS[0]


def _entry_points() -> list:
    """The installed distributions' entry points in ``GROUP`` (read from their metadata, nothing imported)."""
    from importlib.metadata import entry_points

    return list(entry_points(group=GROUP))


def load(points: list) -> Hooks:
    """A ``Hooks`` that every entry point in ``points`` has registered into, in name order."""
    loaded = Hooks()
    for point in sorted(points, key=lambda p: p.name):
        try:
            point.load()(loaded)
        except Exception as error:  # a broken plugin is reported where its work is asked for
            loaded.failed[point.name] = _why(error)
    return loaded


def _why(error: Exception) -> str:
    """One line saying why a plugin did not load, with what to install when a known extra is missing."""
    if not isinstance(error, ImportError):
        return f"{type(error).__name__}: {error}".splitlines()[0]
    reason = (str(error).splitlines() or [type(error).__name__])[0]
    return f"{reason} ({EXTRAS[error.name]})" if error.name in EXTRAS else reason


def resolver(prefix: str, name: str) -> Callable:
    """The function a plugin registered for names starting ``prefix``; a one-line error naming
    ``name`` when none did."""
    found = hooks().resolvers.get(prefix)
    if found is None:
        raise CnncostError(f"{name}: {NEEDS.get(prefix, f'no plugin reads {prefix} names')}; {unavailable()}")
    return found


def prefixes() -> tuple:
    """The name prefixes the loaded plugins read."""
    return tuple(hooks().resolvers)


def unavailable() -> str:
    """Why a plugin's name or command may be missing: the plugins that failed to load, else that none is
    installed, else that the installed ones do not provide it."""
    loaded = hooks()
    if loaded.failed:
        return "; ".join(f"the plugin {name} did not load: {why}" for name, why in loaded.failed.items())
    if not loaded.resolvers and not loaded.command_modules:
        return NONE_INSTALLED
    return "the installed plugins do not provide it"


def import_commands() -> bool:
    """Import the plugins' command modules (once per process); whether this call imported any.

    A module that fails to import is recorded as its plugin's failure, not raised.
    """
    import importlib

    loaded = hooks()
    if loaded.commands_imported:
        return False
    loaded.commands_imported = True
    for module in loaded.command_modules:
        try:
            importlib.import_module(module)
        except Exception as error:  # reported as the missing command's reason
            loaded.failed[module] = _why(error)
    return bool(loaded.command_modules)
