"""``python -m cnncost``."""

from .cli import run

run()
