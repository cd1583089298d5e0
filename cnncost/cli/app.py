"""The ``cnncost`` command line: parse, call the library, render. Nothing else."""

from __future__ import annotations

import functools
import sys
from typing import cast

import click
import typer
from typer.core import TyperGroup

from ..errors import CnncostError


class PluginGroup(TyperGroup):
    """The root command group: a command it does not have may come from a plugin (``cnncost.plugins``).

    The plugins' command modules are imported only when such a command, or the list of all commands
    (``--help``), is asked for: ``cnncost count`` never loads a plugin. A name that is still unknown
    says why when a plugin failed to load or none is installed.
    """

    def get_command(self, ctx: click.Context, name: str):
        """The command ``name``, importing the plugins' commands if it is not one of the core's."""
        command = super().get_command(ctx, name)
        if command is None and self._add_plugin_commands():
            command = super().get_command(ctx, name)
        return command

    def list_commands(self, ctx: click.Context) -> list:
        """Every command, the plugins' included."""
        self._add_plugin_commands()
        return super().list_commands(ctx)

    def resolve_command(self, ctx: click.Context, args: list):
        """click's resolution; an unknown command's error also says why no plugin provided it."""
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as error:
            from .. import plugins

            if plugins.hooks().failed or not plugins.hooks().command_modules:
                # click's stubs mark message Final, yet it is a plain attribute; the error is rewritten on its way up
                error.message = f"{error.message.rstrip('.')}: {plugins.unavailable()}"  # type: ignore[misc]
            raise

    def _add_plugin_commands(self) -> bool:
        """Import the plugins' command modules (once per process) and add the commands they registered on
        ``app`` to this group; whether any command was added."""
        from .. import plugins

        plugins.import_commands()
        registered = _registered()
        if getattr(self, "_synced", None) == registered:
            return False
        self._synced = registered
        # a group of every command registered on app, plugins' too (typer's return type is the base Command)
        built = cast(click.Group, typer.main.get_command(app))
        added = [name for name in built.commands if name not in self.commands]
        for name in added:
            self.add_command(built.commands[name], name)
        return bool(added)


def _registered() -> tuple:
    """How many commands and groups are registered on ``app`` (grows when a plugin's module is imported)."""
    return len(app.registered_commands), len(app.registered_groups)


app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, cls=PluginGroup,
                  help="Exact parameter and operation counts of CNNs, as formulas and numbers.")


def _print_version(requested: bool) -> None:
    """``--version``: the installed distribution's version, then exit 0."""
    if not requested:
        return
    from importlib.metadata import PackageNotFoundError, version

    try:
        number = version("cnncost")
    except PackageNotFoundError:  # run from a source tree that was never installed
        from .. import __version__ as number
    typer.echo(f"cnncost {number}")
    raise typer.Exit(0)


@app.callback()
def _root(show_version: bool = typer.Option(False, "--version", is_eager=True, callback=_print_version,
                                            help="print cnncost's version and exit")) -> None:
    """Exact parameter and operation counts of CNNs, as formulas and numbers."""


def fail(message: str) -> None:
    """Print one error line to stderr and exit with code 2."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def friendly(command):
    """Turn CnncostError into one line on stderr and exit code 2."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        from ..arch import spelled_as
        from .options import flag

        try:
            # The library names parameters by keyword (m: ...); here they are the options (--m: ...).
            with spelled_as(flag, "an option"):
                return command(*args, **kwargs)
        except CnncostError as error:
            with spelled_as(flag, "an option"):
                fail(str(error))

    return wrapper


_BUILT: dict = {}  # (commands, groups registered) -> the click command typer built for them


def _click_command():
    """typer's click command for ``app``, built once per set of registered commands (building it takes
    ~0.1 s, most of an in-process call; a command registered later builds it again)."""
    key = _registered()
    if key not in _BUILT:
        _BUILT.clear()
        _BUILT[key] = typer.main.get_command(app)
    return _BUILT[key]


def main(argv: list | None = None) -> int:
    """Entry point: usage errors become one line and exit code 2, never a traceback."""
    from .. import cli  # noqa: F401  (importing the package registers every command)

    command = _click_command()
    try:
        result = command.main(args=argv, prog_name="cnncost", standalone_mode=False)
    except typer.Exit as done:
        return done.exit_code
    except typer.Abort:
        typer.echo("error: aborted", err=True)
        return 1
    except Exception as error:  # click's UsageError/BadParameter: one line, exit 2
        if hasattr(error, "format_message") and hasattr(error, "exit_code"):
            message = error.format_message()
            if not message:  # no arguments at all: click has printed the help, nothing is wrong
                return 0
            typer.echo(f"error: {message}", err=True)
            return 2
        raise
    return result if isinstance(result, int) else 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
