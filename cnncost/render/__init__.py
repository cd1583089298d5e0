"""Views of the engine's plain data: rich tables, text, LaTeX and JSON."""
