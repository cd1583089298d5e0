"""Moved to ``zoo.runtime.files``; zoo.tune.report and zoo.cli.train_command still import these from here."""

from ..runtime.files import jsonable, write_atomic  # noqa: F401 - re-exported for those two callers
