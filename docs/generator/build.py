"""Which generated page goes where; write them, or list the ones that are out of date."""

from __future__ import annotations

from pathlib import Path


def family_pages(root: Path, slugs: tuple | None = None) -> dict:
    """docs/families/<slug>.md -> text, for every family (or those in ``slugs``)."""
    from .families import FAMILIES
    from .family_page import page

    chosen = [f for f in FAMILIES if slugs is None or f.slug in slugs]
    return {root / "docs" / "families" / f"{f.slug}.md": page(f) for f in chosen}


def pages(root: Path | str) -> dict:
    """Every generated page: path -> text. The CLI reference keeps the hand-written notes it finds."""
    from . import cli_reference, index

    root = Path(root)
    out = family_pages(root)
    cli_path = root / "docs" / "cli.md"
    out[cli_path] = cli_reference.page(cli_path.read_text(encoding="utf-8") if cli_path.exists() else "")
    out[root / "docs" / "README.md"] = index.page(root)
    return out


def write(root: Path | str) -> list:
    """Write every generated page under ``root``; returns the paths that changed."""
    changed = []
    for path, text in pages(root).items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


def stale(generated: dict) -> list:
    """The paths whose committed text differs from ``generated`` (path -> text)."""
    return [path for path, text in generated.items()
            if not path.exists() or path.read_text(encoding="utf-8") != text]
