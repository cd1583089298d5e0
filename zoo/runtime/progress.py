"""Progress bars on a rich Console, for training and for views (``cnncost show``) alike.

On a terminal a bar redraws in place; written to a file (a log, CI) rich draws no live frames, so a
lasting bar prints its final state once and a transient one is not started at all (it would still
leave a blank line). A quiet caller gets a bar that does nothing.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TaskID, TaskProgressColumn, TextColumn
from rich.text import Text


def format_rate(per_second: float) -> str:
    """A rate with thousands separators, one decimal below 100: ``2,470``, ``12.5``."""
    return f"{per_second:,.0f}" if per_second >= 100 else f"{per_second:.1f}"


def is_live(console: Console) -> bool:
    """Whether bars are redrawn in place (a terminal or Jupyter), rather than written once to a file."""
    return console.is_jupyter or (console.is_terminal and not console.is_dumb_terminal)


@contextlib.contextmanager
def task_bar(console: Console, description: str, total: int, transient: bool = False, unit: str = "img/s",
             quiet: bool = False) -> Iterator["TaskBar | SilentBar"]:
    """A bar over ``total`` items (``advance(n)``) with its percentage and rate in ``unit``; it stays on
    screen when done unless ``transient``."""
    if quiet or (transient and not is_live(console)):
        yield SilentBar()
        return
    progress = Progress(TextColumn("{task.description}"), BarColumn(bar_width=30), TaskProgressColumn(),
                        RateColumn(unit), console=console, transient=transient)
    with progress:
        yield TaskBar(progress, progress.add_task(description, total=total))


class TaskBar:
    """A task bar's handle (see :func:`task_bar`)."""

    def __init__(self, progress: Progress, task: TaskID):
        self._progress, self._task = progress, task

    def advance(self, n: int = 1) -> None:
        """Count ``n`` more items done."""
        self._progress.advance(self._task, n)


class SilentBar:
    """What the bars yield when quiet: every method does nothing."""

    def advance(self, *args, **kwargs) -> None:
        """Nothing: the console is quiet."""


class RateColumn(ProgressColumn):
    """Items per second of a rich task in ``unit`` (rich's own speed column is for bytes)."""

    def __init__(self, unit: str = "img/s"):
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        """``2,950 img/s``; empty until rich has a speed estimate."""
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{format_rate(speed)} {self.unit}")
