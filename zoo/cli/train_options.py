"""``cnncost train``'s training options, generated from ``TrainConfig``'s field declarations (``fields.option``).

One option per declared field: its type from the field's annotation, its help from the declaration, its
spelling the field's flag (``batch_size`` -> ``--batch-size``) unless the declaration names its own, and a
``--x/--no-x`` pair for a switch whose default is not false. The ranges are checked by ``TrainConfig.check``
from the same declarations, so an option and its check cannot drift apart.
"""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from cnncost.cli.options import options_in_place
from zoo.runtime.config import TrainConfig
from zoo.runtime.fields import FIELD_DEFAULT, Option, declared, field_default, spellings, value_type


def train_options(command):
    """Give ``command`` one option per declared ``TrainConfig`` field in place of its ``settings`` parameter,
    which then receives {field: value} for every field (the option's default when not given)."""
    options = declared(TrainConfig)
    defaults = {name: _option_default(name, declaration) for name, declaration in options.items()}
    table = {name: _annotation(name, declaration, defaults[name]) for name, declaration in options.items()}
    return options_in_place(command, "settings", table, dict, defaults)


def _option_default(name: str, declaration: Option):
    """The option's default: the field's, unless the declaration gives the CLI its own (None: derived later)."""
    return field_default(TrainConfig, name) if declaration.cli_default == FIELD_DEFAULT else declaration.cli_default


def _annotation(name: str, declaration: Option, default: Any):
    kind = value_type(TrainConfig, name)
    annotation = Optional[kind] if default is None else kind
    info = typer.Option(*spellings(TrainConfig, name, default), help=declaration.help, metavar=declaration.metavar)
    return Annotated[annotation, info]
