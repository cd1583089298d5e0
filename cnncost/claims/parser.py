"""Parse a claimed formula or number into a sympy expression, without eval.

Claim text is untrusted, so a hand-written tokenizer and recursive-descent
parser build the result from sympy constructors only: never eval, exec,
sympify or sympy's own parsers. Length, nesting, literal size, exponents and
overall size are bounded *before* anything expensive is built.

Grammar (EBNF; ``juxt`` is multiplication by adjacency, same precedence as ``*``)::

    claim    = expr END
    expr     = term { ("+" | "-") term }
    term     = unary { ("*" | "/") unary | juxt power }
    unary    = { "+" | "-" } power
    power    = atom { ("^" | "**") exponent | SUPERSCRIPT }
    exponent = ( INT | ("(" | "[") exponent (")" | "]") ) [ ("^" | "**") exponent ]
    NUMBER   = digits [ "." digits ] [ ("e" | "E") [ "+" | "-" ] digits ]   (no e/E among the names)
    atom     = NUMBER | NAME | FUNC ("(" expr ")" | "[" expr "]")
             | "(" expr ")" | "[" expr "]" | "⌊" expr "⌋" | "⌈" expr "⌉"

A juxtaposed operand may not start with a number: ``2mk`` is fine, ``k 2`` and
``233 603`` are errors (the latter is most likely a space-grouped number).
``H/2W`` is ``(H/2)·W``: juxtaposition is plain left-to-right multiplication.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

import sympy

from cnncost.errors import CnncostError

MAX_CHARS, MAX_DEPTH, MAX_EXPONENT, MAX_DIGITS = 2000, 100, 64, 60
# sympy re-derives assumptions through nested floors (roughly quadratic): 99 levels take
# seconds, 32 a tenth of one; real formulas nest one floor per pooling/stride, ~5-10.
MAX_ROUNDING_DEPTH = 32
# Rough bound on degree and on digits of any number built (sum over products,
# times exponents), so e.g. ((10^60)^64)^64 or k^64^... never gets computed.
MAX_SIZE = 1000

_SUPERSCRIPTS = "⁰¹²³⁴⁵⁶⁷⁸⁹"
# Digit groups (233,603,072; 1,47,200; 159_114): a separator only directly between digits.
_NUMBER = re.compile(r"[0-9]+(?:[,_][0-9]+)*(?:\.[0-9]+)?")
_SUPERSCRIPT = re.compile(f"[{_SUPERSCRIPTS}]+")
_PLAIN = str.maketrans(_SUPERSCRIPTS, "0123456789", ",_")
_OPS = {"+": "+", "-": "-", "−": "-", "–": "-", "*": "*", "×": "*", "·": "*", "⋅": "*",
        "/": "/", "÷": "/", "^": "^"}
_CLOSER = {"(": ")", "[": "]", "⌊": "⌋", "⌈": "⌉"}
_FUNCS = {"floor": sympy.floor, "ceil": sympy.ceiling, "ceiling": sympy.ceiling}


class Token(NamedTuple):
    """kind: int, num, sup, name, func, op, open, close or end; col is 1-based."""

    kind: str
    # the kind decides the type (str for op, open, close, name and func; int for sup; an exact sympy number for
    # int and num), which one annotation cannot say: Any, narrowed by the parser's checks of kind
    value: Any
    col: int


def _show(text: str, col: int) -> str:
    """The text around ``col`` on one line (control characters escaped)."""
    lo = max(0, col - 41)
    snippet = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text[lo:lo + 80])
    return ("…" if lo else "") + snippet + ("…" if lo + 80 < len(text) else "")


def _error(text: str, col: int, problem: str, detail: str = "") -> CnncostError:
    return CnncostError(f'claim: {problem} at column {col}{detail} in "{_show(text, col)}"')


def _number(text: str, match: re.Match) -> Token:
    """A literal: integer, decimal (exact), or a superscript exponent."""
    raw, col = match.group(), match.start() + 1
    whole, _, fraction = raw.translate(_PLAIN).partition(".")
    if len(whole + fraction) > MAX_DIGITS:
        raise _error(text, col, f"number longer than {MAX_DIGITS} digits")
    if raw[0] in _SUPERSCRIPTS:
        return Token("sup", int(whole), col)
    value = sympy.Rational(int(whole + fraction), 10 ** len(fraction))
    return Token("int" if value.is_Integer else "num", value, col)


# Scientific notation (1.8e9, 2E-3) directly after a number literal, when e/E is not a name.
_EXPONENT = re.compile(r"[eE][+-]?[0-9]+")


def _scientific(text: str, token: Token, end: int, symbols: dict) -> tuple[Token, int]:
    """``token`` times 10^exponent when text[end:] starts with one; (token, end after it)."""
    match = _EXPONENT.match(text, end)
    if token.kind not in ("int", "num") or not match or match.group()[0] in symbols:
        return token, end
    exponent = int(match.group()[1:])
    if abs(exponent) > MAX_DIGITS:
        raise _error(text, end + 1, f"exponent of 10 beyond ±{MAX_DIGITS}")
    value = token.value * sympy.Rational(10) ** exponent
    return Token("int" if value.is_Integer else "num", value, token.col), match.end()


def _words(text: str, i: int, j: int, symbols: dict) -> list[Token]:
    """Split the letter run text[i:j] into allowed names and function names.

    Longest name first, backtracking only where that leaves an unsplittable rest
    (a right-to-left table, so no recursion and linear time); 'ceiling' thus
    wins over c·e·i·l·i·n·g even where those letters are all symbols.
    """
    word, names = text[i:j], sorted({*symbols, *_FUNCS}, key=len, reverse=True)
    choice: list = [None] * len(word) + [""]
    for at in range(len(word) - 1, -1, -1):
        choice[at] = next((nm for nm in names
                           if word.startswith(nm, at) and choice[at + len(nm)] is not None), None)
    if choice[0] is None:
        at = 0  # follow longest matches to the first place where no name fits
        while (nm := next((nm for nm in names if word.startswith(nm, at)), None)):
            at += len(nm)
        raise _error(text, i + at + 1, f"unknown name {word[at:]!r}",
                     f" (allowed: {', '.join(symbols)})")
    tokens, at = [], 0
    while at < len(word):
        nm = choice[at]
        kind = "func" if nm in _FUNCS and nm not in symbols else "name"
        tokens.append(Token(kind, nm if kind == "func" else symbols[nm], i + at + 1))
        at += len(nm)
    return tokens


def tokenize(text: str, symbols: dict) -> list[Token]:
    """The tokens of ``text``, ending with an 'end' token at column len+1."""
    tokens, i = [], 0
    while i < len(text):
        c, col = text[i], i + 1
        if c.isspace():
            i += 1
        elif match := _NUMBER.match(text, i) or _SUPERSCRIPT.match(text, i):
            token, i = _scientific(text, _number(text, match), match.end(), symbols)
            tokens.append(token)
        elif c.isalpha():  # str.isalpha, not regex \w: that would take '²' and '_' too
            j = i
            while j < len(text) and text[j].isalpha():
                j += 1
            tokens += _words(text, i, j, symbols)
            i = j
        else:
            two = text.startswith("**", i)
            if two or c in _OPS:
                tokens.append(Token("op", "^" if two else _OPS[c], col))
            elif c in _CLOSER or c in _CLOSER.values():
                tokens.append(Token("open" if c in _CLOSER else "close", c, col))
            else:
                raise _error(text, col, f"unexpected {c!r}")
            i += 1 + two
    return tokens + [Token("end", None, len(text) + 1)]


class _Parser:
    """Precedence climbing over a token list; each rule returns (expr, size)."""

    def __init__(self, text: str, tokens: list[Token]):
        self.text, self.tokens, self.pos, self.depth, self.rounding = text, tokens, 0, 0, 0

    def peek(self) -> Token:
        """The next token without consuming it."""
        return self.tokens[self.pos]

    def take(self) -> Token:
        """Consume and return the next token."""
        self.pos += 1
        return self.tokens[self.pos - 1]

    def fail(self, token: Token, problem: str):
        """Raise a one-line error pointing at a column."""
        raise _error(self.text, token.col, problem)

    def unexpected(self, token: Token):
        """Raise the error for an unexpected token."""
        what = "end of formula" if token.kind == "end" else repr(self.text[token.col - 1])
        self.fail(token, f"unexpected {what}")

    def is_op(self, chars: str) -> bool:
        """Whether the next token is one of these operators."""
        token = self.peek()
        return token.kind == "op" and token.value in chars

    def bounded(self, token: Token, size: int) -> int:
        """Check the size bound before building an expression."""
        if size > MAX_SIZE:
            self.fail(token, f"formula too large (size bound {MAX_SIZE})")
        return size

    def enter(self, token: Token):
        """One level deeper in brackets or exponents, within the nesting limit."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.fail(token, f"nesting deeper than {MAX_DEPTH}")

    def expr(self):
        """expr = term { (+|-) term }."""
        first, size = self.term()
        terms = [first]
        while self.is_op("+-"):
            sign = self.take().value
            term, term_size = self.term()
            terms.append(term if sign == "+" else sympy.Mul(sympy.Integer(-1), term))
            size = max(size, term_size)
        return sympy.Add(*terms), size  # one Add: pairwise Adds would be quadratic

    def term(self):
        """term = unary { (*|/) unary | juxtaposed power }."""
        first, size = self.unary()
        factors = [first]
        while True:
            token = self.peek()
            if token.kind == "op" and token.value in "*/":
                self.take()
                factor, factor_size = self.unary()
                if token.value == "/":
                    if factor == 0:
                        self.fail(token, "division by zero")
                    factor = sympy.Pow(factor, sympy.Integer(-1))
            elif token.kind in ("name", "func", "open"):
                factor, factor_size = self.power()
            elif token.kind in ("int", "num"):
                self.fail(token, "a number after an operand needs an operator ('*', '+', ...)")
            else:
                return sympy.Mul(*factors), size
            size = self.bounded(token, size + factor_size)
            factors.append(factor)

    def unary(self):
        """unary = { +|- } power."""
        negative = False
        while self.is_op("+-"):  # a loop, not recursion: '----k' cannot exhaust the stack
            negative ^= self.take().value == "-"
        value, size = self.power()
        return (sympy.Mul(sympy.Integer(-1), value) if negative else value), size

    def power(self):
        """power = atom { ^ exponent | superscript }."""
        value, size = self.atom()
        while True:
            token = self.peek()
            if token.kind == "sup":
                exponent = self.take().value
                if exponent > MAX_EXPONENT:
                    self.fail(token, f"exponent larger than {MAX_EXPONENT}")
            elif self.is_op("^"):
                exponent = self.exponent(self.take())
            else:
                return value, size
            size = self.bounded(token, size * max(exponent, 1))  # checked before Pow is built
            value = sympy.Pow(value, sympy.Integer(exponent))

    def exponent(self, hat: Token) -> int:
        """A literal exponent or tower of them; every level is checked before the next."""
        self.enter(hat)
        token = self.take()
        if token.kind == "int":
            value = int(token.value)
        elif token.kind == "open" and token.value in "([":
            value = self.exponent(token)
            if self.peek().kind != "close":  # e.g. k^(1/2): say why, not just "expected ')'"
                self.fail(self.peek(), "exponent must be a non-negative integer literal")
            self.close(token)
        else:
            self.fail(token, "exponent must be a non-negative integer literal")
        if self.is_op("^"):
            value **= self.exponent(self.take())  # the right side is already ≤ MAX_EXPONENT
        if value > MAX_EXPONENT:
            self.fail(token, f"exponent larger than {MAX_EXPONENT}")
        self.depth -= 1
        return value

    def atom(self):
        """atom = number | name | function call | bracketed expression | floor/ceil brackets."""
        token = self.take()
        if token.kind in ("int", "num"):
            p, q = token.value.p, token.value.q
            return token.value, len(str(p)) + (len(str(q)) if q != 1 else 0)
        if token.kind == "name":
            return token.value, 1
        if token.kind == "func":
            opener = self.take()
            if opener.kind != "open" or opener.value not in "([":
                self.fail(opener, f"expected '(' after {token.value}")
            return self.rounded(_FUNCS[token.value], token, opener)
        if token.kind == "open" and token.value in "⌊⌈":
            return self.rounded(_FUNCS["floor" if token.value == "⌊" else "ceil"], token, token)
        if token.kind == "open":
            return self.group(token)
        self.unexpected(token)

    def rounded(self, function, start: Token, opener: Token):
        """floor or ceiling of a bracketed expression, nested at most MAX_ROUNDING_DEPTH deep."""
        self.rounding += 1
        if self.rounding > MAX_ROUNDING_DEPTH:
            self.fail(start, f"floor/ceil nested deeper than {MAX_ROUNDING_DEPTH}")
        value, size = self.group(opener)
        self.rounding -= 1
        return function(value), size

    def group(self, opener: Token):
        """A bracketed expression."""
        self.enter(opener)
        result = self.expr()
        self.close(opener)
        self.depth -= 1
        return result

    def close(self, opener: Token):
        """Consume the matching closing bracket."""
        token, want = self.take(), _CLOSER[opener.value]
        if token.kind == "end":
            self.fail(opener, f"unclosed {opener.value!r}")
        if token.kind != "close" or token.value != want:
            self.fail(token, f"expected {want!r} to close {opener.value!r} "
                             f"from column {opener.col}")


def parse_claim(text: str, symbols: dict[str, sympy.Symbol]) -> sympy.Expr:
    """Parse a claimed formula or number into a sympy expression.

    ``symbols`` maps the allowed names (e.g. 'm', 'k', 'n', 'H', 'W', 'classes') to
    Symbols; names must be letters only, as a letter run is split into them. Raises
    CnncostError with a one-line message naming the problem and its 1-based column.
    """
    if len(text) > MAX_CHARS:
        raise _error(text, MAX_CHARS + 1, f"formula longer than {MAX_CHARS} characters")
    tokens = tokenize(text, symbols)
    if tokens[0].kind == "end":
        raise _error(text, 1, "empty formula")
    parser = _Parser(text, tokens)
    value, _ = parser.expr()
    if parser.peek().kind != "end":
        parser.unexpected(parser.peek())
    return value
