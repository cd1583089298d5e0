"""Command-line interface."""

from .app import app, main, run

__all__ = ["app", "main", "run"]
