"""Documentation generators: one page per zoo family, the CLI reference, the docs index.

``python docs/generate.py`` writes the pages; ``tests/test_docs.py`` regenerates
them and compares with the committed files, so the docs never drift from the
engine. Every formula and number on a generated page is computed here by the
engine; only the prose around them is written by hand.

The generator is not part of the shipped package: only docs/generate.py and the tests import it
(``docs.generator``, from the repository root); no command does.
"""

from .build import pages, stale, write

__all__ = ["pages", "stale", "write"]
