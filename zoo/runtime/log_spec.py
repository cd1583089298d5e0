"""``--log SINKS`` as data: the sink names a run may log to, checked without building a sink.

A run's config checks its ``--log`` with these (``TrainConfig.check``); ``zoo.training.sinks`` builds the
sinks they name.
"""

from __future__ import annotations

from cnncost.arch import ParameterError

SINK_NAMES = ("console", "jsonl", "csv", "tensorboard")
TENSORBOARD_INSTALL = "pip install tensorboard"


def parse_names(text: object) -> tuple[str, ...]:
    """``--log``'s sink names (comma-separated, in ``SINK_NAMES``' order, each once); else the one-line error."""
    allowed = "a comma-separated list of " + ", ".join(SINK_NAMES)
    if not isinstance(text, str) or not text.strip():
        raise ParameterError("log", f"{text!r} is out of range (need {allowed})")
    names = [name.strip() for name in text.split(",")]
    unknown = [name for name in names if name not in SINK_NAMES]
    if unknown:
        raise ParameterError("log", f"{unknown[0]!r} is not a sink (need {allowed})")
    return tuple(name for name in SINK_NAMES if name in names)


def require_tensorboard() -> None:
    """``--log tensorboard`` needs the tensorboard package: its absence is one line, before anything runs."""
    import importlib.util

    if importlib.util.find_spec("tensorboard") is None:
        raise ParameterError("log", f"tensorboard needs the tensorboard package, which is not installed; "
                                    f"{TENSORBOARD_INSTALL} (or pip install 'cnncost[log]'), or leave tensorboard out "
                                    "of {param:log}")
