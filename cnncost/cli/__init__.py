"""Command-line interface: importing it registers every core command on ``app``.

(With a single registered command typer would make it the default and read its
name as an argument, so all commands are always registered together.) The plugins'
commands (the zoo's ``train``, ``evaluate``, ``tune``, ``show`` and ``verify``) are added when
one of them, or the command list, is first asked for (``app.PluginGroup``, ``cnncost.plugins``).
"""

from . import (check_command, commands, memory_command, plot_command, summary_command,  # noqa: F401
               sweep_command, zoo_commands)  # importing registers the commands
from .app import app, main, run

__all__ = ["app", "main", "run"]
