"""What ``cnncost train`` prints: progress bars, one line per epoch, and the epoch table.

    caching backbone features: train 7,999 · val 2,000 ━━━━━━━━━━ 100% 2,950 img/s
    epoch 1/10  loss 1.12  acc 0.64  val 0.74 ━━━━━━━━ 0.3 s · 2,470 img/s · 61.3 TFLOP/s *

The epoch bar is transient: it shows loss, accuracy and images/s while the epoch
runs and gives way to the epoch's one-line summary (which includes validation,
known only after the bar ends). Task bars stay, as in the sketch above.

When the output is not a terminal (a log file, CI), rich draws no live frames: a
lasting bar prints its final state once, and transient bars are not started at
all (rich would still leave a blank line each), so logs get the plain lines and
no spam. ``quiet=True`` prints nothing at all.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TaskID,
                           TextColumn, TimeElapsedColumn, TimeRemainingColumn)
from rich.table import Table
from rich.text import Text

from ..runtime.progress import SilentBar, TaskBar, format_rate, is_live, task_bar
from .metrics import format_tflops

BAR_GLYPH = "━" * 8  # the finished epoch bar, drawn in the summary line

# (row key, table header, cell format, justify) for each column of the epoch table, in order.
# Columns whose key no row has are left out (no validation split, no FLOP count, ...).
_TABLE_COLUMNS = (
    ("epoch", "epoch", "{:d}", "right"),
    ("train_loss", "train loss", "{:.4f}", "right"),
    ("train_acc", "train acc", "{:.3f}", "right"),
    ("val_loss", "val loss", "{:.4f}", "right"),
    ("val_acc", "val acc", "{:.3f}", "right"),
    ("val_topk", "val top-{k}", "{:.3f}", "right"),
    ("val_precision", "val P", "{:.3f}", "right"),  # P, R, F1: macro means over classes
    ("val_recall", "val R", "{:.3f}", "right"),
    ("val_f1", "val F1", "{:.3f}", "right"),
    ("images_per_s", "img/s", "rate", "right"),
    ("tflops", "TFLOP/s", "tflops", "right"),
    ("peak_fraction", "% of peak", "percent", "right"),
    ("lr", "lr", "{:.3g}", "right"),
    ("seconds", "time", "{:.1f} s", "right"),
    ("best", "best", "star", "center"),
)
# When the table is wider than the terminal, columns are left out in this order (never a
# number cut short): the epoch, validation accuracy and the best mark always stay.
# A tuple is left out together: validation precision without its recall would read oddly. TFLOP/s and % of
# peak go before precision and recall: each epoch's summary line shows them already.
_DROP_ORDER = ("peak_fraction", "lr", "tflops", ("val_precision", "val_recall"), "val_loss", "seconds", "train_loss",
               "val_f1", "val_topk", "images_per_s", "train_acc")


class TrainConsole:
    """The training run's terminal output, on a rich Console (a fresh one by default).

    ``quiet=True`` prints nothing (the epoch rows are still recorded in ``rows``).
    """

    def __init__(self, quiet: bool = False, console: Console | None = None):
        self.quiet = quiet
        self.console = Console(quiet=True) if quiet else (console or Console())
        self.rows: list[dict] = []  # every epoch_row so far, as given
        self._epochs: int | None = None  # from the last epoch_bar, for "epoch 3/10"

    @property
    def live(self) -> bool:
        """Whether bars are redrawn in place (a terminal or Jupyter), rather than written once to a file."""
        return is_live(self.console)

    def line(self, text: str, style: str | None = None) -> None:
        """Print one line as it is (no rich markup, no highlighting of numbers)."""
        if not self.quiet:
            self.console.print(text, style=style, markup=False, highlight=False)

    @contextlib.contextmanager
    def epoch_bar(self, epoch: int, epochs: int, batches: int) -> Iterator["EpochBar | SilentBar"]:
        """A transient bar over one epoch's ``batches``; the yielded object's ``advance``
        moves it one batch and shows the running loss, accuracy and images/s."""
        self._epochs = epochs
        if self.quiet or not self.live:  # a transient bar would leave only a blank line in a log
            yield SilentBar()
            return
        progress = Progress(TextColumn(f"epoch {epoch}/{epochs}"), BarColumn(bar_width=30), MofNCompleteColumn(),
                            TextColumn("{task.fields[stats]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                            console=self.console, transient=True)
        with progress:
            yield EpochBar(progress, progress.add_task("epoch", total=batches, stats=""))

    @contextlib.contextmanager
    def task_bar(self, description: str, total: int, transient: bool = False,
                 unit: str = "img/s") -> Iterator["TaskBar | SilentBar"]:
        """A bar over ``total`` items (``advance(n)``) with its percentage and rate in
        ``unit``; it stays on screen when done unless ``transient``."""
        with task_bar(self.console, description, total, transient, unit, self.quiet) as bar:
            yield bar

    def epoch_row(self, row: dict) -> None:
        """Record one epoch and print its summary line.

        Keys (all optional but ``epoch``): ``epoch``, ``epochs`` (else the last
        epoch_bar's), ``train_loss``, ``train_acc``, ``val_loss``, ``val_acc``,
        ``val_topk`` with ``k``, ``val_precision``, ``val_recall``, ``val_f1`` (macro means over
        classes; in the table only), ``images_per_s``, ``tflops`` (achieved TFLOP/s),
        ``peak_fraction`` (achieved / peak, 0–1), ``lr``, ``seconds``, ``best`` (bool:
        best validation so far, starred). None values count as missing.
        """
        self.rows.append(dict(row))
        if not self.quiet:
            self.console.print(self.summary(row), highlight=False)

    def summary(self, row: dict) -> Text:
        """The epoch's one-line summary: ``epoch 1/10  loss 1.12  acc 0.64  val 0.74 ━━━━━━━━ 0.3 s``
        followed by whatever else the row has (top-k, img/s, TFLOP/s, % of peak, ``*`` for best)."""
        epochs = row.get("epochs") or self._epochs
        text = Text(f"epoch {row['epoch']}" + (f"/{epochs}" if epochs else ""))
        for key, label in (("train_loss", "loss"), ("train_acc", "acc"), ("val_acc", "val")):
            if _present(row, key):
                text.append(f"  {label} {row[key]:.2f}")
        if _present(row, "val_topk"):
            text.append(f"  top-{row.get('k', 'k')} {row['val_topk']:.2f}")
        text.append(f" {BAR_GLYPH}", style="green")
        if _present(row, "seconds"):
            text.append(f" {row['seconds']:.1f} s")
        if _present(row, "images_per_s"):
            text.append(f" · {format_rate(row['images_per_s'])} img/s")
        if _present(row, "tflops"):
            text.append(f" · {format_tflops(row['tflops'])} TFLOP/s")
        if _present(row, "peak_fraction"):
            text.append(f" ({100 * row['peak_fraction']:.1f}% of peak)")
        if row.get("best"):
            text.append(" *", style="bold yellow")
        return text

    def epoch_table(self) -> None:
        """Print every recorded epoch as a rich Table (columns no row has are left out)."""
        if not self.quiet and self.rows:
            self.console.print(self.table())

    def table(self, width: int | None = None) -> Table:
        """The epoch table as a rich Table, no wider than ``width`` (default: the console's).

        Cells are never cut: columns are left out (``_DROP_ORDER``) until every
        cell of the rest, and every header, shows whole on one line, and the caption
        names them (every value is in metrics.json).
        """
        width = width or self.console.width
        columns = [c for c in _TABLE_COLUMNS if any(_present(row, c[0]) for row in self.rows)]
        dropped = []
        for keys in _DROP_ORDER:
            if _whole(self._table(columns, []), self._cells(columns), width):
                break
            names = (keys,) if isinstance(keys, str) else keys
            dropped += [c for c in columns if c[0] in names]
            columns = [c for c in columns if c[0] not in names]
        return self._table(columns, dropped, width)

    def _cells(self, columns: list) -> list:
        return [[_cell(row, key, style) for key, _, style, _ in columns] for row in self.rows]

    def _table(self, columns: list, dropped: list, width: int = 0) -> Table:
        k = next((row["k"] for row in self.rows if _present(row, "k")), "k")
        starred = any(row.get("best") for row in self.rows)
        macro = any(c[0] in ("val_precision", "val_recall", "val_f1") for c in columns)
        notes = (["* best validation accuracy"] if starred else []) + (
            ["val P, R, F1: macro means over classes"] if macro else []) + (
            [f"left out to fit {width} columns: {', '.join(c[1].format(k=k) for c in dropped)} "
             "(all in metrics.json)"] if dropped else [])
        table = Table(title="epochs", caption="; ".join(notes) or None)
        for _, header, _, justify in columns:
            table.add_column(header.format(k=k), justify=justify, overflow="fold")  # fold, never "…"
        for cells in self._cells(columns):
            table.add_row(*cells)
        return table


def _whole(table: Table, rows: list, width: int) -> bool:
    """Whether ``table`` drawn ``width`` wide shows its headers, and each row's cells, whole, side by side on
    one line (a header folded over two lines is whole but no longer reads as the table's usual look)."""
    import io

    drawn = io.StringIO()
    Console(file=drawn, width=width, color_system=None, legacy_windows=False).print(table)
    lines = drawn.getvalue().splitlines()
    if any(len(line) > width for line in lines):
        return False
    if sum(line.startswith("┃") for line in lines) != 1:
        return False
    body = [line for line in lines if line.startswith("│")]
    return len(body) == len(rows) and all(
        [part.strip() for part in line.strip("│").split("│")] == cells for line, cells in zip(body, rows))


class EpochBar:
    """The live epoch bar's handle (see :meth:`TrainConsole.epoch_bar`)."""

    def __init__(self, progress: Progress, task: TaskID):
        self._progress, self._task = progress, task

    def advance(self, loss: float, acc: float, images_per_s: float, batches: int = 1) -> None:
        """Move on ``batches`` batches and show the epoch's running ``loss`` and ``acc``
        (means so far are steadier to read than the last batch's values) and images/s."""
        stats = f"loss {loss:.3f}  acc {acc:.3f}  {format_rate(images_per_s)} img/s"
        self._progress.update(self._task, advance=batches, stats=stats)


def _present(row: dict, key: str) -> bool:
    # NaN stays present: a diverged loss should read "nan", not look like a missing value.
    return row.get(key) is not None


def _cell(row: dict, key: str, style: str) -> str:
    if not _present(row, key):
        return "–" if key != "best" else ""
    value = row[key]
    if style == "rate":
        return format_rate(value)
    if style == "tflops":
        return format_tflops(value)
    if style == "percent":
        return f"{100 * value:.1f}%"
    if style == "star":
        return "*" if value else ""
    return style.format(value)
