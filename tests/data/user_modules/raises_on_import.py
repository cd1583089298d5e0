"""A module whose import fails in the user's own code, a few frames down."""


def _settings():
    raise KeyError("missing setting")  # line 5: the line cnncost must name


SETTINGS = _settings()
