"""Rows of a sweep formatted as bytes, a whole chunk at once, with NumPy.

Writing rows one by one in Python was most of a large sweep's time. Here each
column becomes a matrix of bytes (one row per configuration, zero bytes as
padding): non-negative int64 columns by vectorised digit extraction, others
from the text of each distinct value, given by the caller's ``cell`` function
(the exact text the row-by-row writer produced, so the file is byte-identical).
The columns and the fixed separators are laid side by side and the padding
dropped, which leaves the rows in order as one bytes object.

A value whose text contains a zero byte cannot be told from padding: ``encode``
raises ``Unencodable`` and the caller writes that chunk row by row instead.
"""

from __future__ import annotations

import numpy as np

BATCH = 1 << 16  # rows laid out at once: bounds the byte matrix to a few MB per column


class Unencodable(Exception):
    """Some value's text holds a zero byte (the padding marker)."""


def encode(columns: list, separators: list, cell) -> bytes:
    """The rows ``separators[0] col0 separators[1] col1 ... separators[-1]``, concatenated.

    ``columns`` are equal-length 1-D arrays; ``separators`` (one more than the
    columns) are fixed bytes; ``cell(value)`` is a value's text as bytes.
    """
    if len(separators) != len(columns) + 1:
        raise ValueError("need one separator more than columns")
    if any(b"\x00" in s for s in separators):
        raise Unencodable("separator")
    count = len(columns[0]) if columns else 0
    pieces = []
    for first in range(0, count, BATCH):
        part = [c[first:first + BATCH] for c in columns]
        pieces.append(_batch(part, separators, cell))
    return b"".join(pieces)


def _batch(columns: list, separators: list, cell) -> bytes:
    count = len(columns[0])
    matrices = [_matrix(c, cell) for c in columns]
    width = sum(len(s) for s in separators) + sum(m.shape[0] for m in matrices)
    laid = np.empty((width, count), dtype=np.uint8)  # transposed: each byte position is one contiguous row
    row = 0
    for index, separator in enumerate(separators):
        for byte in separator:
            laid[row] = byte
            row += 1
        if index < len(matrices):
            height = matrices[index].shape[0]
            laid[row:row + height] = matrices[index]
            row += height
    rows = np.ascontiguousarray(laid.T)
    return rows[rows != 0].tobytes()


def _matrix(column: np.ndarray, cell) -> np.ndarray:
    """The column's text as a (bytes, rows) matrix, zero-padded."""
    if column.dtype.kind in "iu" and (len(column) == 0 or column.min() >= 0):
        return _digits(column)
    if column.dtype == object:  # exact Python integers (or odd values): one by one
        return _texts([cell(v) for v in column.tolist()])
    distinct, inverse = np.unique(column, return_inverse=True)
    return _texts([cell(v) for v in distinct.tolist()])[:, inverse.reshape(-1)]


def _texts(texts: list) -> np.ndarray:
    """Texts (bytes) as a (bytes, rows) matrix; NumPy's fixed-width bytes are zero-padded already."""
    if any(b"\x00" in t for t in texts):
        raise Unencodable("zero byte in a value")
    width = max([1] + [len(t) for t in texts])
    strings = np.asarray(texts, dtype=f"S{width}") if texts else np.zeros(0, dtype=f"S{width}")
    return strings.view(np.uint8).reshape(len(texts), width).T


def _digits(column: np.ndarray) -> np.ndarray:
    """Decimal digits of non-negative integers, right-aligned, leading positions zero (padding)."""
    column = column.astype(np.int64 if column.dtype.kind == "i" else np.uint64)
    top = int(column.max()) if len(column) else 0
    width = len(str(top))
    out = np.empty((width, len(column)), dtype=np.uint8)
    rest = column
    for position in range(width - 1, -1, -1):
        quotient, digit = np.divmod(rest, 10)
        np.add(digit, 48, out=out[position], casting="unsafe")
        if position < width - 1:
            out[position][rest == 0] = 0  # nothing left to write: padding (the last digit always stays)
        rest = quotient
    return out
