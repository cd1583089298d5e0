r"""Small Markdown builders: tables, GitHub math (display and inline), numbers.

Display math uses GitHub's fenced ```math blocks and inline math its $`...`$
form: inside them Markdown does no escaping, so LaTeX's ``\\`` line breaks and
underscores reach MathJax intact (plain ``$$``/``$`` math loses them to
Markdown's backslash escapes on GitHub).
"""

from __future__ import annotations

import re

from cnncost import printer

_LONG_NUMBER = re.compile(r"\d{5,}")


def number(value: int) -> str:
    """An integer with digit groups: 159,114."""
    return f"{value:,}"


def tex(expr) -> str:
    """LaTeX of an engine value, long numbers in thin-spaced groups (25\\,557\\,032)."""
    from cnncost.symbolic import as_expr

    return _LONG_NUMBER.sub(lambda m: f"{int(m.group()):,}".replace(",", r"\,"), printer.latex(as_expr(expr)))


def inline(latex: str) -> str:
    """Inline GitHub math."""
    return f"$`{latex}`$"


def math_block(lines: list) -> str:
    """A display block; several lines become one ``aligned`` environment."""
    if len(lines) == 1:
        body = lines[0].replace("&", "")
    else:
        body = "\n".join([r"\begin{aligned}", " \\\\\n".join(lines), r"\end{aligned}"])
    return f"```math\n{body}\n```"


def prose(text: str) -> str:
    """Plain text (help strings) made safe for Markdown: no HTML tags, no emphasis markers."""
    return text.replace("<", "&lt;").replace(">", "&gt;").replace("*", r"\*")


def cell(text: str) -> str:
    """Table cell text: pipes escaped, never a line break."""
    return str(text).replace("|", r"\|").replace("\n", " ")


def table(headers: list, rows: list, right: tuple = ()) -> str:
    """A GitHub table; columns whose index is in ``right`` are right-aligned."""
    rule = ["---:" if i in right else "---" for i in range(len(headers))]
    lines = [headers, rule] + [[cell(c) for c in row] for row in rows]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)


def code(text: str) -> str:
    """Inline code."""
    return f"`{text}`"


def flags(given: dict) -> str:
    """CLI options for builder keywords: {'h': 32, 'w': 32, 'padding': 'same'} -> '--hw 32 --padding same'."""
    given = dict(given)
    parts = []
    if "h" in given and given.get("h") == given.get("w"):
        parts.append(f"--hw {given.pop('h')}")
        given.pop("w")
    for key, value in given.items():
        if not has_option(key):  # a family's own design variable: set through --set
            parts.append(f"--set {key}={str(value).lower() if isinstance(value, bool) else value}")
        elif isinstance(value, bool):
            parts.append(option_name(key) if value else "--no-" + key.replace("_", "-"))
        else:
            parts.append(f"{option_name(key)} {value}")
    return " ".join(parts)


def has_option(key: str) -> bool:
    """Whether the CLI has an option of its own for builder keyword ``key`` (the rest go through --set)."""
    from cnncost.cli.options import NETWORK_OPTIONS

    return key in NETWORK_OPTIONS


def option_name(key: str) -> str:
    """How a page writes the option for builder keyword ``key``: ``--in-channels``, or ``--set growth=…``."""
    return "--" + key.replace("_", "-") if has_option(key) else f"--set {key}="
