"""The one error type users see: a single line, exit code 2 in the CLI."""


class CnncostError(ValueError):
    """Invalid input or configuration; ``str(error)`` is the whole message."""
