"""A module that ends the process while it is imported (as scripts with a main guard forgotten do)."""

import sys

sys.exit(0)  # line 5: the line cnncost must name


def make():
    """Never reached."""
    raise AssertionError("unreachable")
