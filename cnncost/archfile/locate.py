"""Line numbers of a TOML document's values, which ``tomllib`` does not report.

``tomllib`` has already accepted the text when this runs, so the scanner can
trust its syntax and only tracks where each value starts: table headers
(``[network]``, the n-th ``[[layers]]``, ``[[layers.body]]``), ``key = value``
lines (dotted keys included), array elements and inline-table keys, through
strings (multi-line ones too) and comments. The result maps a data path such
as ``("layers", 2, "body", 0, "out")`` to a 1-based line; a path the text does
not spell out (a missing field) falls back to its nearest enclosing value.
"""

from __future__ import annotations

import re

from ..errors import CnncostError

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SCALAR_END = re.compile(r"[,\]}#\n]")


class Source:
    """One architecture file: its name, and where each of its values starts."""

    def __init__(self, filename: str, text: str):
        self.filename = filename
        self.lines = _Scanner(text).scan()
        self.last_line = text.count("\n") + 1

    def line(self, path: tuple) -> int:
        """The line of the value at ``path``, or of its nearest enclosing value."""
        for end in range(len(path), 0, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return 1

    def error(self, path: tuple, problem: str) -> CnncostError:
        """``FILE:LINE: field: problem`` as the one error type users see."""
        return CnncostError(f"{self.filename}:{self.line(path)}: {show_path(path)}: {problem}")


def show_path(path: tuple) -> str:
    """A data path as users read it: ``layers[2].body[0].out``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "file"


class _Scanner:
    """A position-tracking walk over already-valid TOML text."""

    def __init__(self, text: str):
        self.text, self.pos, self.line = text, 0, 1
        self.found: dict = {}  # path -> line
        self.arrays: dict = {}  # path of an array of tables -> its length so far

    def scan(self) -> dict:
        """Every located path and its line."""
        table: tuple = ()
        while self._skip_blank():
            if self.text.startswith("[", self.pos):
                table = self._header()
            else:
                self._key_value(table)
        return self.found

    # --- low level --------------------------------------------------------

    def _advance(self, count: int) -> None:
        self.line += self.text.count("\n", self.pos, self.pos + count)
        self.pos += count

    def _skip_blank(self) -> bool:
        """Skip whitespace, newlines and comments; False at the end of the text."""
        while self.pos < len(self.text):
            c = self.text[self.pos]
            if c in " \t\r\n":
                self._advance(1)
            elif c == "#":
                end = self.text.find("\n", self.pos)
                self._advance((len(self.text) if end < 0 else end) - self.pos)
            else:
                return True
        return False

    def _record(self, path: tuple) -> None:
        self.found.setdefault(path, self.line)

    # --- tables and keys --------------------------------------------------

    def _header(self) -> tuple:
        """``[a.b]`` or ``[[a.b]]``: the concrete path of the table it opens."""
        double = self.text.startswith("[[", self.pos)
        self._advance(2 if double else 1)
        keys = self._keys()
        self._skip_blank()
        self._advance(2 if double else 1)
        path: tuple = ()
        for key in keys[:-1]:  # an array of tables on the way means its last element
            path += (key,)
            if path in self.arrays:
                path += (self.arrays[path] - 1,)
        path += (keys[-1],)
        if double:
            self._record(path)
            index = self.arrays.get(path, 0)
            self.arrays[path] = index + 1
            path += (index,)
        self._record(path)
        return path

    def _keys(self) -> list:
        """A dotted key: bare or quoted parts."""
        keys = []
        while True:
            self._skip_blank()
            c = self.text[self.pos]
            if c in "\"'":
                start = self.pos
                self._string()
                keys.append(_unquote(self.text[start:self.pos]))
            else:
                match = _BARE_KEY.match(self.text, self.pos)
                assert match is not None  # tomllib accepted the text: an unquoted key is a bare key
                keys.append(match.group())
                self._advance(match.end() - self.pos)
            self._skip_blank()
            if not self.text.startswith(".", self.pos):
                return keys
            self._advance(1)

    def _key_value(self, table: tuple) -> None:
        line = self.line
        path = table + tuple(self._keys())
        self.found.setdefault(path, line)
        self._skip_blank()
        self._advance(1)  # '='
        self._skip_blank()
        self._value(path)

    # --- values -----------------------------------------------------------

    def _value(self, path: tuple) -> None:
        c = self.text[self.pos]
        if c == "[":
            self._array(path)
        elif c == "{":
            self._inline_table(path)
        elif c in "\"'":
            self._string()
        else:
            match = _SCALAR_END.search(self.text, self.pos)
            self._advance((match.start() if match else len(self.text)) - self.pos)

    def _array(self, path: tuple) -> None:
        self._advance(1)
        index = 0
        while self._skip_blank() and self.text[self.pos] != "]":
            self._record(path + (index,))
            self._value(path + (index,))
            self._skip_blank()
            if self.text.startswith(",", self.pos):
                self._advance(1)
            index += 1
        self._advance(1)

    def _inline_table(self, path: tuple) -> None:
        self._advance(1)
        while self._skip_blank() and self.text[self.pos] != "}":
            line = self.line
            inner = path + tuple(self._keys())
            self.found.setdefault(inner, line)
            self._skip_blank()
            self._advance(1)  # '='
            self._skip_blank()
            self._value(inner)
            self._skip_blank()
            if self.text.startswith(",", self.pos):
                self._advance(1)
        self._advance(1)

    def _string(self) -> None:
        """Skip a basic, literal or multi-line string (escapes only in basic strings)."""
        quote = self.text[self.pos]
        delimiter = quote * 3 if self.text.startswith(quote * 3, self.pos) else quote
        at = self.pos + len(delimiter)
        while not self.text.startswith(delimiter, at):
            at += 2 if quote == '"' and self.text[at] == "\\" else 1
        at += len(delimiter)
        while len(delimiter) == 3 and self.text.startswith(quote, at):  # """a"""" ends with a quote
            at += 1
        self._advance(at - self.pos)


def _unquote(key: str) -> str:
    """A quoted key's text; escapes are rare in keys and left as written."""
    return key[1:-1]
