"""The zoo as a cnncost plugin: its ``module:`` names and its commands, registered through the
``cnncost.plugins`` entry point (pyproject.toml: ``zoo = "zoo.plugin:register"``).

cnncost never imports the zoo; it loads this plugin when a name starts ``module:``, a command is not
one of its own, or the command list is shown. Loading it imports no torch (nor do the command
modules): torch comes with the work, so ``cnncost --help`` stays light and, without torch, a zoo
command or a ``module:`` name says so in one line.
"""

from __future__ import annotations

from cnncost.arch import MODULE_PREFIX
from cnncost.errors import CnncostError

# The modules whose import registers the zoo's commands on cnncost's app (``cnncost.cli.app.app``).
# A command moved here from cnncost/cli/ is one more entry.
COMMANDS = ("zoo.cli.train_command", "zoo.cli.tune_command", "zoo.cli.show_command", "zoo.cli.verify_command")


def register(hooks) -> None:
    """Add the zoo's resolver and commands to ``hooks`` (a ``cnncost.plugins.Hooks``)."""
    hooks.add_resolver(MODULE_PREFIX, module_arch)
    hooks.add_commands(*COMMANDS)


def module_arch(spec: str):
    """The ``Arch`` of a user's PyTorch module: ``package.module:factory`` or ``path/to/file.py:factory``."""
    try:
        from .fx_import import arch_from_module
    except ImportError as error:  # torch itself (the user's own imports fail later, with their own message)
        raise CnncostError(f"{MODULE_PREFIX}{spec}: reading a PyTorch module needs torch: "
                           f"pip install 'cnncost[torch]' ({error})") from None
    return arch_from_module(spec)
