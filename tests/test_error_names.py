"""Library errors name parameters, never the CLI's flags (docs/architecture.md, "Contracts between the parts").

Only the command layers (cnncost/cli/, zoo/cli/) know the flags. A library raise that writes ``--data: ...`` or
mentions ``--resume`` in a ParameterError's complaint would print a flag to a Python caller and to a tune config;
this scan of the source finds any, and is shown able to fail on a small module of each kind.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COMMAND_LAYERS = (ROOT / "cnncost" / "cli", ROOT / "zoo" / "cli")
FLAG_AT_START = re.compile(r"^--[a-z][a-z0-9-]*[: ]")
FLAG_ANYWHERE = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def _text_parts(node: ast.AST) -> list:
    """The literal text of a message expression, in order: string constants, f-string parts, concatenations."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        return [part.value for part in node.values if isinstance(part, ast.Constant)] or [""]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _text_parts(node.left) + _text_parts(node.right)
    return [""]


def flag_named_errors(source: str, where: str) -> list:
    """'where:line: text' for each raise whose message starts with a flag, or ParameterError naming a flag."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name) or not node.args:
            continue
        if node.func.id == "ParameterError" and len(node.args) >= 2:
            text = "".join(_text_parts(node.args[1]))
            if FLAG_ANYWHERE.search(text):
                found.append(f"{where}:{node.lineno}: {text[:100]}")
        elif node.func.id.endswith("Error"):
            text = _text_parts(node.args[0])[0]
            if FLAG_AT_START.match(text):
                found.append(f"{where}:{node.lineno}: {text[:100]}")
    return found


def library_files() -> list:
    files = sorted((ROOT / "cnncost").rglob("*.py")) + sorted((ROOT / "zoo").rglob("*.py"))
    return [path for path in files if not any(path.is_relative_to(layer) for layer in COMMAND_LAYERS)]


def test_no_library_error_names_a_flag():
    files = library_files()
    assert len(files) > 150  # the scan sees the whole library
    found = [line for path in files
             for line in flag_named_errors(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("source", [
    'raise CnncostError(f"--data: {path} not found")',
    'raise CnncostError("--out: empty")',
    'raise ParameterError("out", f"{folder} already holds a run; continue it with --resume")',
    'raise ParameterError("weights", "drop " + "--weights")',
])
def test_the_scan_finds_a_flag_named_error(source):
    [line] = flag_named_errors(source, "x.py")
    assert line.startswith("x.py:1: ")


@pytest.mark.parametrize("source", [
    'raise ParameterError("out", f"{folder} already holds a run; continue it with {{param:resume}}")',
    'raise CnncostError(f"DIR: {out} holds no study")',
    'raise CnncostError(f"{path}: not a checkpoint (a --- line)")',
])
def test_the_scan_passes_parameter_named_errors(source):
    assert flag_named_errors(source, "x.py") == []
