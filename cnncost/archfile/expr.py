"""Expressions in architecture files (``"2*m"``, ``"m*2^i"``, ``"(k - 1)//2"``), without eval.

A file's text is untrusted, so expressions are parsed by hand into a tiny tree
of tuples, once, when the file is loaded; building the network evaluates that
tree with Python ints (``cnncost count``: no sympy) or with sympy symbols
(``cnncost formula``: the operators dispatch to sympy, which this module never
imports). Grammar::

    expr  = term { ("+" | "-") term }
    term  = unary { ("*" | "/" | "//" | "%") unary }
    unary = { "+" | "-" } power
    power = atom [ ("^" | "**") unary ]      (right-associative; -2^2 = -4)
    atom  = INTEGER | NAME | "(" expr ")"

``/`` must divide exactly (a channel count is a whole number); ``//`` and ``%``
are floor division and remainder. Exponents may use only numbers, repeat
indices and fixed (non-symbolic) symbols, so every exponent is a known integer.
"""

from __future__ import annotations

import re
from typing import Any, NoReturn

MAX_CHARS, MAX_DEPTH, MAX_DIGITS, MAX_EXPONENT, MAX_BITS = 500, 50, 18, 64, 4096
_TOKEN = re.compile(r"\s*(?:(\d+)|([A-Za-z_][A-Za-z0-9_]*)|(\*\*|//|[-+*/%^()]))")


class ExprError(Exception):
    """A problem with one expression; the caller adds file, line and field."""


def parse(text: str) -> tuple:
    """The expression tree of ``text``; raises ExprError naming the column."""
    if len(text) > MAX_CHARS:
        raise ExprError(f"expression longer than {MAX_CHARS} characters")
    parser = _Parser(text, _tokens(text))
    tree = parser.expr(0)
    if parser.peek()[0] != "end":
        parser.fail("unexpected " + repr(parser.peek()[1]))
    return tree


def names(tree: tuple) -> set:
    """Every name the expression uses."""
    if tree[0] == "name":
        return {tree[1]}
    if tree[0] == "int":
        return set()
    return set().union(*(names(t) for t in tree[1:] if isinstance(t, tuple)))


def exponent_names(tree: tuple) -> set:
    """The names used inside exponents (they must have known integer values)."""
    if tree[0] in ("int", "name"):
        return set()
    if tree[0] == "^":
        return names(tree[2]) | exponent_names(tree[1])
    return set().union(*(exponent_names(t) for t in tree[1:] if isinstance(t, tuple)))


def evaluate(tree: tuple, env: dict) -> Any:
    """The value of the tree: an int, or a sympy expression where ``env`` holds symbols."""
    kind = tree[0]
    if kind == "int":
        return tree[1]
    if kind == "name":
        return env[tree[1]]
    if kind == "neg":
        return -evaluate(tree[1], env)
    a, b = evaluate(tree[1], env), evaluate(tree[2], env)
    return _bounded(_OPERATIONS[kind](a, b))


def show(tree: tuple) -> str:
    """The expression as text (fully bracketed where needed), for error messages."""
    kind = tree[0]
    if kind in ("int", "name"):
        return str(tree[1])
    if kind == "neg":
        return "-" + _operand(tree[1])
    return f"{_operand(tree[1])}{kind}{_operand(tree[2])}"


def _operand(tree: tuple) -> str:
    return show(tree) if tree[0] in ("int", "name") else f"({show(tree)})"


# --- arithmetic ----------------------------------------------------------------

def _is_int(value: Any) -> bool:
    return type(value) is int


def _exact(a: Any, b: Any) -> Any:
    """a / b, which must be a whole number when both are known."""
    _nonzero(b)
    if _is_int(a) and _is_int(b):
        if a % b:
            raise ExprError(f"{a}/{b} is not a whole number (/ must divide exactly; // rounds down)")
        return a // b
    return a / b  # symbolic: the engine records the divisibility condition


def _floor(a: Any, b: Any) -> Any:
    _nonzero(b)
    return a // b


def _mod(a: Any, b: Any) -> Any:
    _nonzero(b)
    return a % b


def _power(a: Any, b: Any) -> Any:
    if not _is_int(b) or not 0 <= b <= MAX_EXPONENT:
        raise ExprError(f"exponent {b} is out of range (need a whole number 0 to {MAX_EXPONENT})")
    return a ** b


def _nonzero(b: Any) -> None:
    if _is_int(b) and b == 0:
        raise ExprError("division by zero")


def _bounded(value: Any) -> Any:
    """Refuse numbers so large they could only come from a runaway expression."""
    if _is_int(value) and value.bit_length() > MAX_BITS:
        raise ExprError(f"a value has more than {MAX_BITS} bits")
    return value


_OPERATIONS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
               "/": _exact, "//": _floor, "%": _mod, "^": _power}


# --- parsing -------------------------------------------------------------------

def _tokens(text: str) -> list:
    """(kind, value, column) triples ending with an 'end' token."""
    tokens: list[tuple[str, Any, int]] = []
    at = 0
    while at < len(text.rstrip()):
        match = _TOKEN.match(text, at)
        if not match:
            bad = len(text) - len(text[at:].lstrip()) + 1
            raise ExprError(f"unexpected {text[bad - 1]!r} at column {bad} in {text!r}")
        number, name, op = match.groups()
        assert match.lastindex is not None  # a match always holds one of the three groups
        column = match.start(match.lastindex) + 1
        if number is not None:
            if len(number) > MAX_DIGITS:
                raise ExprError(f"number longer than {MAX_DIGITS} digits in {text!r}")
            tokens.append(("int", int(number), column))
        elif name is not None:
            tokens.append(("name", name, column))
        else:
            tokens.append(("op", "^" if op == "**" else op, column))
        at = match.end()
    return tokens + [("end", "end of expression", len(text) + 1)]


class _Parser:
    """Recursive descent over the token list."""

    def __init__(self, text: str, tokens: list):
        self.text, self.tokens, self.at = text, tokens, 0

    def peek(self) -> tuple:
        """The next token."""
        return self.tokens[self.at][:2]

    def fail(self, problem: str) -> NoReturn:
        """Raise an ExprError at the current token's column."""
        column = self.tokens[self.at][2]
        raise ExprError(f"{problem} at column {column} in {self.text!r}")

    def _take_op(self, ops: tuple) -> str | None:
        kind, value = self.peek()
        if kind == "op" and value in ops:
            self.at += 1
            return value
        return None

    def expr(self, depth: int) -> tuple:
        """expr = term { (+|-) term }."""
        tree = self.term(depth)
        while op := self._take_op(("+", "-")):
            tree = (op, tree, self.term(depth))
        return tree

    def term(self, depth: int) -> tuple:
        """term = unary { (*|/|//|%) unary }."""
        tree = self.unary(depth)
        while op := self._take_op(("*", "/", "//", "%")):
            tree = (op, tree, self.unary(depth))
        return tree

    def unary(self, depth: int) -> tuple:
        """unary = { +|- } power."""
        negative = False
        while op := self._take_op(("+", "-")):
            negative ^= op == "-"
        tree = self.power(depth)
        return ("neg", tree) if negative else tree

    def power(self, depth: int) -> tuple:
        """power = atom [ ^ unary ]."""
        tree = self.atom(depth)
        if self._take_op(("^",)):
            return ("^", tree, self.unary(self._deeper(depth)))
        return tree

    def atom(self, depth: int) -> tuple:
        """atom = integer | name | ( expr )."""
        kind, value = self.peek()
        if kind in ("int", "name"):
            self.at += 1
            return (kind, value)
        if self._take_op(("(",)):
            tree = self.expr(self._deeper(depth))
            if not self._take_op((")",)):
                self.fail("expected ')'")
            return tree
        self.fail("unexpected " + repr(value) if kind != "end" else "unexpected end of expression")

    def _deeper(self, depth: int) -> int:
        if depth + 1 > MAX_DEPTH:
            self.fail(f"nested deeper than {MAX_DEPTH}")
        return depth + 1
