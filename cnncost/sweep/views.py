"""Views of a SweepResult: sorted table, grouped invalid reasons, CSV (atomic) and JSON."""

from __future__ import annotations

import csv
import os
from collections import Counter
from pathlib import Path

import numpy as np

from ..conventions import CONVENTIONS
from ..errors import CnncostError
from ..render import plain_table


def order(result, sort: str, descending: bool) -> np.ndarray:
    """Row order by one column (ties keep grid order)."""
    if sort not in result.columns:
        raise CnncostError(f"--sort: {sort!r} is not a column; choose from {', '.join(result.columns)}")
    keys = np.asarray(result.columns[sort], dtype=object if result.columns[sort].dtype == object else None)
    index = np.argsort(keys, kind="stable")
    return index[::-1] if descending else index


def varying(result) -> list:
    """Columns worth showing: options that take more than one value, then the quantities."""
    return [k for k, v in result.columns.items() if len(v) and (len(set(v.tolist())) > 1 or k in result.quantities)]


def text(result, sort: str, descending: bool, limit: int) -> str:
    """Header, the first ``limit`` rows in order, the invalid reasons, the conventions."""
    valid = len(next(iter(result.columns.values()))) if result.columns else 0
    lines = [f"{result.arch} · {result.total:,} configurations · {valid:,} valid · {result.invalid_count:,} invalid"
             f" · evaluated in {result.seconds * 1000:.0f} ms (+ {result.derive_seconds:.2f} s deriving the formulas)"]
    cols = varying(result)
    rows = [[_cell(result.columns[c][i]) for c in cols] for i in order(result, sort, descending)[:limit]]
    if rows:
        justify = ["right" if c in result.quantities or c in ("m", "k", "n", "h", "w", "hw") else "left" for c in cols]
        lines.append(plain_table.render(list(zip(cols, justify)), rows))
        if valid > limit:
            lines.append(f"… {valid - limit:,} more (--limit, --csv)")
    lines += invalid_lines(result)
    lines += [f"{q}: {CONVENTIONS[q].meaning}" for q in result.quantities]
    return "\n".join(lines)


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


def write_csv(result, path: str, sort: str, descending: bool) -> int:
    """Every valid row (in order) and the explained invalid rows; written atomically."""
    target = Path(path)
    if target.suffix.lower() != ".csv":
        raise CnncostError(f"--csv: {path} should end in .csv")
    cols = list(result.columns)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with temporary.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(cols + ["valid", "reason"])
            for i in order(result, sort, descending):
                writer.writerow([result.columns[c][i] for c in cols] + [True, ""])
            for config, reason in result.invalid:
                writer.writerow([config.get(c, "") for c in cols] + [False, reason])
        os.replace(temporary, target)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise CnncostError(f"--csv: cannot write {path}: {error.strerror}") from None
    return len(result.columns[cols[0]]) if cols else 0


def as_json(result, sort: str, descending: bool) -> dict:
    """Every valid row and the explained invalid rows."""
    cols = list(result.columns)
    rows = [{c: _plain(result.columns[c][i]) for c in cols} for i in order(result, sort, descending)]
    return {"arch": result.arch, "configurations": result.total, "valid": len(rows),
            "invalid_count": result.invalid_count, "rows": rows,
            "invalid": [{"config": c, "reason": r} for c, r in result.invalid],
            "conventions": {q: CONVENTIONS[q].meaning for q in result.quantities}}


def _plain(value):
    return int(value) if isinstance(value, (int, np.integer)) and not isinstance(value, bool) else value
