"""The shell examples of README.md and docs/*.md: found, run, compared, and rewritten on request.

A page's example is a ``$ COMMAND`` line inside a fenced block, followed by the output it shows
(up to the next ``$`` line or the end of the block). A line ending in ``\\`` continues on the next.

Which commands run
    ``$ cnncost ...`` runs in process through ``cnncost.cli.main``; ``$ python ...`` (used to
    write example data) runs as a subprocess with this interpreter. Nothing else is allowed.
    A block preceded by ``<!-- not run: REASON -->`` (blank lines between are fine) is not run;
    REASON must say why (a GPU, a dataset download, a weights file, a placeholder path).
    Every other block runs.

Where and how
    All commands of a page run in order in one fresh working directory, so a later command
    sees what an earlier one wrote (``runs/shapes``, ``cross.png``). The directory holds links
    to the repository's ``examples/`` and ``tests/`` folders. The environment is fixed:
    ``COLUMNS=120``, a formula cache of the page's own (``CNNCOST_CACHE_DIR``, empty at the
    start), and torch on one intra-op thread (seeded training gives the same numbers on any
    core count).

How output is compared
    Trailing spaces and leading/trailing blank lines are ignored. A line that is only ``...``
    matches any number of lines, none included. ``...`` inside a line matches any text up to
    the end of that line's next literal part (never across lines), so a trailing ``...`` matches
    the rest of the line. ``…`` (one character) is always literal: cnncost prints it itself.
    Timings are masked (MASK): a number directly followed by `` ms``, `` s``, `` img/s`` or
    `` TFLOP/s`` compares equal to any other number there, so a page shows a real run's times.
    Timings without a unit (a table's img/s column) cannot be masked: a page elides them with
    an inline ``...``, as training.md does with its epoch table.
    A command that shows no output at all must succeed (exit 0); its output is not compared.
    The exit code must be 2 exactly when the shown output is an ``error:`` line.

Update mode
    ``python -m tests.docs_commands --update [PAGE ...]`` runs the pages (default: all) and
    rewrites each shown output that no longer matches, keeping its ``...`` elisions: the lines
    around each ``...`` are replaced by the lines of the new output at the same place.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import os
import re
import shlex
import subprocess
import sys
import tempfile
import traceback
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^\s*```")
NOT_RUN = re.compile(r"^<!--\s*not run:\s*(.*?)\s*-->\s*$")
ELISION = "..."
COLUMNS = "120"
# A number that is a duration or a throughput: different on every run, so never compared.
MASK = re.compile(r"\d+(?:[.,]\d+)*(?= (?:ms|s|img/s|TFLOP/s)\b)")
LINKED = ("examples", "tests")  # what the commands read from the repository


@dataclass
class Example:
    """One ``$`` command of a page and the output shown under it (lines ``start``..``end``-1)."""

    page: Path
    line: int  # 1-based line of the ``$``
    command: str
    expected: list
    start: int  # 0-based index of the first output line in the page
    end: int  # 0-based index one past the last output line (blank lines before the next `$` excluded)
    reason: str | None = None  # why it is not run, or None


@dataclass
class Result:
    """What a command printed (stdout then stderr) and its exit code."""

    output: list = field(default_factory=list)
    code: int | str = 0  # the exit code, or what escaped main() instead of one


def pages() -> list:
    """Every page whose examples run: README.md and the hand-written and generated docs/*.md."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def examples(page: Path) -> list:
    """The ``$`` examples of ``page`` in order, each with its block's not-run reason (or None)."""
    lines = page.read_text(encoding="utf-8").splitlines()
    found, i = [], 0
    while i < len(lines):
        if not FENCE.match(lines[i]):
            i += 1
            continue
        reason = _reason_before(lines, i)
        close = next((j for j in range(i + 1, len(lines)) if FENCE.match(lines[j])), len(lines))
        found += _block_examples(page, lines, i + 1, close, reason)
        i = close + 1
    return found


def unplaced_markers(page: Path) -> list:
    """Line numbers of ``not run`` markers that precede no block of ``$`` commands."""
    lines = page.read_text(encoding="utf-8").splitlines()
    placed = set()
    for i, text in enumerate(lines):
        if FENCE.match(text) and _reason_before(lines, i) is not None:
            close = next((j for j in range(i + 1, len(lines)) if FENCE.match(lines[j])), len(lines))
            if any(line.startswith("$ ") for line in lines[i + 1:close]):
                placed.add(_marker_index(lines, i))
    return [i + 1 for i, text in enumerate(lines) if NOT_RUN.match(text) and i not in placed]


def _marker_index(lines: list, fence: int) -> int | None:
    """Index of the marker line above the fence at ``fence`` (blank lines skipped), or None."""
    j = fence - 1
    while j >= 0 and not lines[j].strip():
        j -= 1
    return j if j >= 0 and NOT_RUN.match(lines[j]) else None


def _reason_before(lines: list, fence: int) -> str | None:
    """The reason of the marker above a fence ('' when the marker gives none), or None."""
    j = _marker_index(lines, fence)
    return None if j is None else NOT_RUN.match(lines[j]).group(1)


def _block_examples(page: Path, lines: list, first: int, close: int, reason) -> list:
    found = []
    i = first
    while i < close:
        if not lines[i].startswith("$ "):
            i += 1
            continue
        line, command = i + 1, lines[i][2:]
        while command.endswith("\\") and i + 1 < close:  # shell line continuation
            i += 1
            command = command[:-1].rstrip() + " " + lines[i].strip()
        start = i + 1
        end = next((j for j in range(start, close) if lines[j].startswith("$ ")), close)
        stop = end
        while stop > start and not lines[stop - 1].strip():
            stop -= 1
        found.append(Example(page, line, command, lines[start:stop], start, stop, reason))
        i = end
    return found


# ---------------------------------------------------------------- comparing

def normalised(lines: list) -> list:
    """Trailing spaces dropped (table padding), leading and trailing blank lines removed."""
    out = [line.rstrip() for line in lines]
    while out and not out[0]:
        out.pop(0)
    while out and not out[-1]:
        out.pop()
    return out


def _masked(text: str) -> str:
    return MASK.sub("#", text)


def _line_pattern(line: str) -> str:
    return "[^\n]*?".join(re.escape(part) for part in _masked(line).split(ELISION))


def matches(expected: list, got: list) -> bool:
    """Whether ``got`` is what ``expected`` shows, under the module's elision and mask rules."""
    pattern = "".join("(?:[^\n]*\n)*?" if line.strip() == ELISION else _line_pattern(line) + "\n"
                      for line in normalised(expected))
    text = "".join(_masked(line) + "\n" for line in normalised(got))
    return re.fullmatch(pattern, text) is not None


def rewritten(expected: list, got: list) -> list:
    """``expected`` updated to ``got``, keeping each ``...`` line where it is.

    Each group of shown lines between ``...`` lines is placed, in order, where got's lines
    resemble it most. The first group grows to start at got's first line unless the output
    starts with ``...``, and the last grows to end at got's last line unless it ends with one,
    so nothing new is hidden without an elision. A line that still matches is kept as written
    (inline elisions, timings). When got is too short for the shown lines, got is shown whole.
    """
    expected, got = normalised(expected), normalised(got)
    if matches(expected, got):
        return expected
    groups = [[]]
    for line in expected:
        if line.strip() == ELISION:
            groups.append([])
        else:
            groups[-1].append(line)
    if len(groups) == 1:
        return _kept(expected, got) if len(expected) == len(got) else got
    if sum(map(len, groups)) > len(got):
        return got
    places, position = [], 0
    for index, group in enumerate(groups):
        room = len(got) - sum(map(len, groups[index + 1:]))  # leave space for the groups after it
        best = max(range(position, room - len(group) + 1),
                   key=lambda p: (_resemblance(group, got[p:p + len(group)]), -p))
        places.append([best, best + len(group)])
        position = best + len(group)
    if groups[0]:
        places[0][0] = 0
    if groups[-1]:
        places[-1][1] = len(got)
    out = []
    for index, (group, (first, last)) in enumerate(zip(groups, places)):
        if index:
            out.append(ELISION)
        out += _kept(group, got[first:last]) if last - first == len(group) else got[first:last]
    return out


def _kept(shown: list, got: list) -> list:
    return [old if matches([old], [new]) else new for old, new in zip(shown, got)]


def _resemblance(shown: list, got: list) -> float:
    return sum(difflib.SequenceMatcher(None, a, b).ratio() for a, b in zip(shown, got))


# ---------------------------------------------------------------- running

def workdir(root: Path) -> Path:
    """A fresh working directory under ``root`` with the repository's examples/ and tests/."""
    root.mkdir(parents=True, exist_ok=True)
    for name in LINKED:
        (root / name).symlink_to(ROOT / name, target_is_directory=True)
    return root


@contextlib.contextmanager
def environment(cwd: Path):
    """The fixed environment of a page's commands (see the module docstring), restored after."""
    saved_env = {name: os.environ.get(name) for name in ("COLUMNS", "CNNCOST_CACHE_DIR")}
    saved_cwd = os.getcwd()
    os.environ["COLUMNS"] = COLUMNS
    os.environ["CNNCOST_CACHE_DIR"] = str(cwd / ".formula-cache")
    threads = _torch_threads(1)
    os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(saved_cwd)
        _torch_threads(threads)
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _torch_threads(count):
    """Set torch's intra-op threads when torch is installed; the previous count (or None)."""
    if count is None:
        return None
    try:
        import torch
    except ImportError:
        return None
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    return previous


def run(command: str) -> Result:
    """Run one shown command in the current directory and environment."""
    argv = shlex.split(command, comments=True)
    if argv[0] == "cnncost":
        from cnncost.cli import main

        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv[1:])
            except BaseException as error:  # a crash is a result too: report it, run the next command
                traceback.print_exc()
                code = f"a traceback ({type(error).__name__})"
        return Result((out.getvalue() + err.getvalue()).splitlines(), code)
    if argv[0] == "python":
        done = subprocess.run([sys.executable, *argv[1:]], capture_output=True, text=True, timeout=300,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
        return Result((done.stdout + done.stderr).splitlines(), done.returncode)
    raise ValueError(f"only cnncost and python commands are run, not {argv[0]!r}")


def problem(example: Example, result: Result) -> str | None:
    """Why ``result`` is not what ``example`` shows, or None when it is."""
    where = f"{example.page.relative_to(ROOT)}:{example.line}: `{example.command}`"
    shown = normalised(example.expected)
    is_error = bool(shown) and shown[0].startswith("error:")
    allowed = {2} if is_error else {0, 1} if shown else {0}  # 1: a verdict such as NOT EQUAL
    if result.code not in allowed:
        return f"{where} exited with {result.code}:\n" + "\n".join(result.output)
    if shown and not matches(shown, result.output):
        return f"{where} now prints:\n" + "\n".join(normalised(result.output))
    return None


def run_page(page: Path, root: Path) -> list:
    """Run every runnable example of ``page`` in order in a fresh directory under ``root``:
    ``[(example, result)]``."""
    cwd = workdir(root)
    done = []
    with environment(cwd):
        for example in examples(page):
            if example.reason is None:
                done.append((example, run(example.command)))
    return done


def update(page: Path, root: Path) -> int:
    """Rewrite the outputs ``page`` shows that no longer match; the number of examples changed."""
    results = run_page(page, root)
    lines = page.read_text(encoding="utf-8").splitlines()
    changed = 0
    for example, result in reversed(results):  # from the bottom, so earlier indices stay valid
        if not example.expected or problem(example, result) is None:
            continue
        lines[example.start:example.end] = rewritten(example.expected, result.output)
        changed += 1
    if changed:
        page.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return changed


def main(argv: list) -> int:
    """``--update [PAGE ...]``: rewrite the pages' shown outputs from fresh runs."""
    if not argv or argv[0] != "--update":
        print("usage: python -m tests.docs_commands --update [PAGE ...]", file=sys.stderr)
        return 2
    chosen = [Path(p).resolve() for p in argv[1:]] or pages()
    with tempfile.TemporaryDirectory() as scratch:
        for index, page in enumerate(chosen):
            changed = update(page, Path(scratch) / str(index))
            print(f"{page.relative_to(ROOT)}: {changed} output(s) rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
