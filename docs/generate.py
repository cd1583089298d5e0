"""Regenerate the generated documentation: python docs/generate.py (from the repository root).

Writes docs/families/*.md (one page per zoo family, derived by the engine),
docs/cli.md (the CLI reference, from the typer app; hand-written notes kept)
and docs/README.md (the index). The logic lives in docs/generator/ (not shipped with the package).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's cnncost and docs.generator, even when another cnncost is installed


def main() -> int:
    """Write every page and list the ones that changed."""
    from docs.generator import write

    changed = write(ROOT)
    for path in changed:
        print(f"wrote {path.relative_to(ROOT)}")
    print(f"{len(changed)} page(s) changed" if changed else "every page is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
