"""Views of a sweep: sorted table (bounded top rows), grouped invalid reasons, CSV (atomic) and JSON.

Every view consumes the grid chunk by chunk, so none holds more than a chunk
plus its own bounded state: the table keeps its ``--limit`` best rows, the CSV
and JSON writers write each chunk as it comes. Rows sorted over the whole grid
need it in memory, so the writers sort only up to ``run.MEMORY_LIMIT``
configurations; beyond it they write grid order (and say so), or refuse an
explicit ``--sort``.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections import Counter
from pathlib import Path

import numpy as np

from ..arch import ParameterError
from ..conventions import meaning
from ..render import plain_table
from . import encode
from .run import CHUNK, MEMORY_LIMIT, concatenate

SIZE_COLUMNS = ("m", "k", "n", "h", "w", "hw")


def check_sort(plan, sort: str) -> None:
    """The sort column must be one of the grid's columns."""
    if sort not in plan.columns:
        raise ParameterError("sort", f"{sort!r} is not a column; choose from {', '.join(plan.columns)}")


def order(columns: dict, sort: str, descending: bool) -> np.ndarray:
    """Row order by one column (ties keep grid order; reversed with ``descending``)."""
    keys = columns[sort]
    index = np.argsort(keys.astype(object) if keys.dtype == object else keys, kind="stable")
    return index[::-1] if descending else index


def _take(columns: dict, index) -> dict:
    return {c: v[index] for c, v in columns.items()}


class Top:
    """The first ``limit`` rows of the whole grid in sorted order, kept from chunk to chunk.

    The rows kept are in ascending stable order; a new chunk comes later in grid
    order than all of them, so a stable sort of kept + chunk is the stable order
    of everything seen. Descending order is its reverse: keep the last ``limit``.
    """

    def __init__(self, sort: str, descending: bool, limit: int):
        self.sort, self.descending, self.limit = sort, descending, limit
        self.rows: dict | None = None
        self.first: dict = {}  # column -> first value seen, and whether any other value was
        self.varies: set = set()

    def add(self, columns: dict) -> None:
        """Merge one chunk's valid rows."""
        if not len(columns[self.sort]):
            return
        for name, values in columns.items():
            self.first.setdefault(name, values[0])
            if name not in self.varies and np.any(values != self.first[name]):
                self.varies.add(name)
        merged = columns if self.rows is None else concatenate([self.rows, columns])
        index = order(merged, self.sort, False)
        self.rows = _take(merged, index[-self.limit:] if self.descending else index[:self.limit])

    def ordered(self) -> dict:
        """The kept rows in display order."""
        if self.rows is None:
            return {}
        return _take(self.rows, slice(None, None, -1)) if self.descending else self.rows


def text(stream, top: Top, limit: int) -> str:
    """Header, the first ``limit`` rows in order, the invalid reasons, the conventions."""
    lines = [f"{stream.arch} · {stream.total:,} configurations · {stream.valid:,} valid · "
             f"{stream.invalid_count:,} invalid · evaluated in {stream.seconds * 1000:.0f} ms "
             f"(+ {stream.derive_seconds:.2f} s deriving the formulas)"]
    shown = top.ordered()
    cols = [c for c in shown if c in top.varies or c in stream.quantities]
    rows = [[_cell(shown[c][i]) for c in cols] for i in range(len(shown[cols[0]]))] if shown and cols else []
    if rows:
        justify = ["right" if c in stream.quantities or c in SIZE_COLUMNS else "left" for c in cols]
        # The grid's own columns identify a row and always stay; quantities other than the sort
        # column may be left out to fit COLUMNS, the last first (the note under the table names them).
        droppable = tuple(i for i in reversed(range(len(cols))) if cols[i] in stream.quantities and cols[i] != top.sort)
        lines.append(plain_table.render(list(zip(cols, justify)), rows, drop=droppable))
        if stream.valid > limit:
            lines.append(f"… {stream.valid - limit:,} more (--limit, --csv)")
    lines += invalid_lines(stream)
    lines += [f"{q}: {meaning(q)}" for q in stream.quantities]
    if stream.plan.step is not None:
        lines.append(f"training step: {_step_words(stream.plan.step)} (its batch is the batch column)")
    return "\n".join(lines)


def _step_words(step) -> str:
    """'--strategy scratch, adam, bf16, cuda': the step the step quantities count."""
    return f"--strategy {step.strategy}, {step.optimizer}, {step.dtype}, {step.device}"


def _cell(value) -> str:
    return f"{int(value):,}" if isinstance(value, (int, np.integer)) and not isinstance(value, bool) else str(value)


def invalid_lines(result, groups: int = 5) -> list:
    """Invalid configurations grouped by the engine's reason, with one example each."""
    if not result.invalid_count:
        return []
    by_reason = Counter(reason.split(";")[0] for _, reason in result.invalid)  # the reason, not its details
    lines = [f"invalid: {result.invalid_count:,} configurations (reasons of the first {len(result.invalid)}):"]
    for reason, count in by_reason.most_common(groups):
        example = next(c for c, r in result.invalid if r.startswith(reason))
        lines.append(f"  {count:,} × {reason}  e.g. {' '.join(f'{k}={v}' for k, v in example.items())}")
    return lines


def sorts_whole_grid(plan, sort_given: bool) -> bool:
    """Whether --csv/--json rows can be sorted (the grid fits in memory); an explicit --sort beyond is refused."""
    if plan.total <= MEMORY_LIMIT:
        return True
    if sort_given:
        raise ParameterError("sort", f"sorting {plan.total:,} configurations for {{param:csv}}/{{param:json}} needs "
                                     f"them all in memory; the limit is {MEMORY_LIMIT:,} (without {{param:sort}} rows "
                                     "come in grid order)")
    return False


def ordered_chunks(stream, sort: str, descending: bool, whole: bool):
    """The stream's chunks, or (``whole``) all of them in sorted order, in slices of CHUNK rows."""
    if not whole:
        yield from stream.chunks()
        return
    merged = concatenate(list(stream.chunks()))
    index = order(merged, sort, descending)
    for first in range(0, len(index), CHUNK):  # sorted slices: the grid is held once, not twice
        yield _take(merged, index[first:first + CHUNK])


class CsvFile:
    """A CSV written to a temporary file beside ``path`` and renamed over it only when complete.

    Valid rows are formatted a chunk at a time (``encode``); the text is byte for
    byte what ``csv.writer`` writes, which still writes the header, the invalid
    rows and any chunk holding a value ``encode`` cannot lay out.
    """

    def __init__(self, path: str, columns: list):
        target = Path(path)
        if target.suffix.lower() != ".csv":
            raise ParameterError("csv", f"{path} should end in .csv")
        self.path, self.columns, self.target = path, columns, target
        self.temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            self.handle = self.temporary.open("xb")
        except OSError as error:
            raise ParameterError("csv", f"cannot write {path}: {error.strerror}") from None
        self.rows = 0
        self.separators = [b""] + [b","] * (len(columns) - 1) + [b",True,\r\n"]  # valid: True, no reason
        self._guard(self.handle.write, _csv_text([columns + ["valid", "reason"]]))

    def add(self, columns: dict) -> None:
        """Write one chunk's valid rows."""
        values = [columns[c] for c in self.columns]
        count = len(values[0]) if values else 0
        try:
            data = encode.encode(values, self.separators, _csv_cell) if count else b""
        except encode.Unencodable:
            lists = [v.tolist() for v in values]
            data = _csv_text([row + (True, "") for row in zip(*lists)])
        self._guard(self.handle.write, data)
        self.rows += count

    def finish(self, invalid: list) -> None:
        """Write the explained invalid rows and put the file in place."""
        self._guard(self.handle.write, _csv_text([[config.get(c, "") for c in self.columns] + [False, reason]
                                                  for config, reason in invalid]))
        self.handle.close()
        self._guard(os.replace, self.temporary, self.target)

    def abandon(self) -> None:
        """Remove the temporary file (an error or an interrupt before the end)."""
        self.handle.close()
        self.temporary.unlink(missing_ok=True)

    def _guard(self, function, *args):
        try:
            return function(*args)
        except OSError as error:
            self.abandon()
            raise ParameterError("csv", f"cannot write {self.path}: {error.strerror}") from None


def _csv_text(rows: list) -> bytes:
    """Rows as ``csv.writer`` writes them (excel dialect, CRLF), UTF-8."""
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode("utf-8")


def _csv_cell(value) -> bytes:
    """One value's CSV text: what ``csv.writer`` writes for it inside a row (quoted where it must be)."""
    if type(value) is int:  # noqa: E721 - exactly int: bool prints as True/False
        return str(value).encode("ascii")
    return _csv_text([[value, ""]])[:-3]  # the row minus its trailing ",\r\n"


class JsonOut:
    """A JSON document written as it goes: header, rows chunk by chunk, then the counts."""

    def __init__(self, write, stream, order_label: str):
        self.write, self.columns, self.first = write, stream.plan.columns, True
        self.write(f'{{"arch": {json.dumps(stream.arch)}, "configurations": {stream.total}, '
                   f'"order": {json.dumps(order_label)}, "rows": [')

    def add(self, columns: dict) -> None:
        """Write one chunk's valid rows (formatted a chunk at a time, as ``json.dumps`` writes each row)."""
        values = [columns[c] for c in self.columns]
        if not (values and len(values[0])):
            return
        keys = [json.dumps(c) for c in self.columns]
        separators = [f',\n{{{keys[0]}: '.encode("ascii")] + [f", {k}: ".encode("ascii") for k in keys[1:]] + [b"}"]
        text = encode.encode(values, separators, _json_cell).decode("ascii")  # json.dumps escapes to ASCII
        self.write(("\n" if self.first else ",\n") + text[2:])
        self.first = False

    def finish(self, stream) -> None:
        """The counts, the explained invalid rows and the conventions, closing the document."""
        tail = {"valid": stream.valid, "invalid_count": stream.invalid_count,
                "invalid": [{"config": c, "reason": r} for c, r in stream.invalid],
                "conventions": {q: meaning(q) for q in stream.quantities}}
        if stream.plan.step is not None:
            step = stream.plan.step
            tail["step"] = {"strategy": str(step.strategy), "optimizer": step.optimizer, "dtype": step.dtype,
                            "device": step.device}
        self.write("],\n" + json.dumps(tail)[1:] + "\n")


def _json_cell(value) -> bytes:
    """One value's JSON text, as ``json.dumps`` writes it inside a row."""
    return json.dumps(_plain(value)).encode("ascii")


def _plain(value):
    return int(value) if isinstance(value, (int, np.integer)) and not isinstance(value, bool) else value
