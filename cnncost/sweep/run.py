"""Evaluate a whole grid: one derivation per structure, then vectorised exact arithmetic in chunks.

Non-symbolic options (padding, org, bn, classes, ...) select a structure, each
derived once; symbolic ones (m, k, n, H, W) become integer arrays evaluated by
compiled closed forms, at most CHUNK configurations at a time (a box of the
grid, each axis along its own dimension, so NumPy broadcasts every
subexpression over only the axes it uses), so memory stays bounded whatever
the grid's size. Invalid rows are counted and kept as grid positions; only the
first REASONS are decoded and explained, once the grid is done. Before a chunk is evaluated in int64, every
intermediate of every compiled expression is bounded from the chunk's largest
values (``bounds``); where one could leave int64 the chunk is evaluated on
exact Python integers instead. Invalid configurations are found by the
validity conditions, and their reason comes from the numeric engine itself.
Rows of every chunk are recomputed by the engine (its extremes, where an
overflow would show first); a difference is a bug and is raised loudly.
"""

from __future__ import annotations

import itertools
import math
import time
from typing import Any, Iterator, NamedTuple

import numpy as np

from .. import engine, symbolic
from ..arch import Arch, ParameterError, as_arch, resolve
from ..conventions import ALL, CONVENTIONS, STEP_QUANTITIES, check_quantity, totals
from ..errors import CnncostError
from .bounds import INT64_MAX
from .grid import grid_size, structures
from .vectorised import compile_condition, compile_count

CHUNK = 1 << 18  # configurations evaluated at once: a few MB per temporary array
SAMPLE = 16  # rows of each structure's first chunk recomputed by the numeric engine
REASONS = 200  # invalid configurations whose reason is asked from the engine
MEMORY_LIMIT = 2_000_000  # configurations that sweep() (and a sorted --csv/--json) holds at once


class SweepResult(NamedTuple):
    """Columns of the grid (structure options, design variables, quantities) and the invalid rows."""

    arch: str
    columns: dict  # name -> numpy array over valid configurations
    invalid: list  # (config dict, reason) for up to REASONS invalid configurations
    invalid_count: int
    total: int
    seconds: float  # evaluation time, derivations excluded
    derive_seconds: float
    quantities: list


class Plan(NamedTuple):
    """A validated grid: the arrays of the design axes, the structures, the columns it yields."""

    arch: Arch  # resolved once, by the caller or by plan()
    axes: dict  # name -> 1-D array (int64, or object where a value is beyond int64)
    structures: list
    quantities: list
    total: int
    columns: list  # column names of every chunk, in order
    step: Any = None  # trainstep.Step of the step quantities (its batch the "batch" axis), or None


def plan(arch: Arch | str, values: dict, quantities: list, step=None) -> Plan:
    """Check a grid of ``arch`` (name -> list of values) and the quantities, before anything is evaluated.

    ``quantities`` are convention names, training-step quantities (``conventions.STEP_QUANTITIES``, of
    ``step``: a trainstep.Step, its batch gridded by ``values["batch"]``), or ``["all"]`` for every convention.
    """
    arch = as_arch(arch)  # a name (Python callers' shorthand) is resolved once, here
    if not quantities:
        raise ParameterError("quantity", f"give at least one of {', '.join(CONVENTIONS)}, or {ALL}")
    if quantities == [ALL]:  # as `formula --quantity all`: every convention, in their own order
        quantities = list(CONVENTIONS)
    for q in quantities:
        check_quantity(q, all_alone=True)
    quantities = list(dict.fromkeys(quantities))
    stepwise = any(q in STEP_QUANTITIES for q in quantities)
    if not stepwise:
        if "batch" in values:
            raise ParameterError("batch", "batch sizes matter only to training-step quantities; add one to "
                                 f"{{listed}} ({', '.join(STEP_QUANTITIES)})", ("quantity",))
        step = None
    elif step is None:
        from ..trainstep import Step

        step = Step()
    design = [p for p in arch.params if p.symbolic and p.name not in ("h", "w")]
    axes = {p.name: values.get(p.name, [p.default]) for p in design}
    axes.update(_size_axes(arch, values))
    if stepwise:
        axes["batch"] = values.get("batch", [1])
    total = grid_size({**axes, **{k: v for k, v in values.items() if k not in axes and k not in ("h", "w")}})
    combos = structures(arch, {k: v for k, v in values.items() if k != "batch"}) or [{}]
    arrays = {name: _array(v) for name, v in axes.items()}
    return Plan(arch, arrays, combos, quantities, total, list(axes) + list(combos[0]) + quantities, step)


def _array(values: list) -> np.ndarray:
    if all(-INT64_MAX <= v <= INT64_MAX for v in values):
        return np.asarray(values, dtype=np.int64)
    array = np.empty(len(values), dtype=object)  # exact Python integers beyond int64
    array[:] = values
    return array


def _size_axes(arch, values: dict) -> dict:
    """H and W axes: --hw zips them (square inputs); --h/--w cross."""
    if arch.param("h") is None:
        return {}
    if "hw" in values:
        return {"hw": values["hw"]}
    return {"h": values.get("h", [arch.param("h").default]), "w": values.get("w", [arch.param("w").default])}


class Stream:
    """A plan evaluated chunk by chunk; its counters are complete once ``chunks()`` is exhausted."""

    def __init__(self, grid: Plan):
        self.plan = grid
        self.arch, self.total, self.quantities = grid.arch.name, grid.total, grid.quantities
        self.valid, self.invalid_count = 0, 0
        self.invalid: list = []
        self.seconds = self.derive_seconds = 0.0
        self.exact_chunks = 0  # chunks evaluated on Python integers (beyond int64)
        self._unexplained: list = []  # (structure, flat grid positions) of the first REASONS invalid rows

    def chunks(self) -> Iterator[dict]:
        """Columns (name -> array) of each chunk's valid rows, in grid order (structure-major).

        A chunk is a box of the grid (leading axes fixed, one axis sliced, the
        rest whole), so each axis enters the compiled forms as a short array
        along its own dimension and every subexpression is computed only over
        the axes it depends on; NumPy broadcasts the rest.
        """
        lengths = [len(a) for a in self.plan.axes.values()]
        for structure in self.plan.structures:
            start = time.perf_counter()
            compiled = _compile(self.plan.arch, structure, self.quantities, self.plan.step)
            self.derive_seconds += time.perf_counter() - start
            wide = _fits(compiled, _maxima(compiled, {n: _absmax(a) for n, a in self.plan.axes.items()}))
            for number, (first, box) in enumerate(_boxes(lengths, CHUNK)):
                start = time.perf_counter()
                columns = self._chunk(structure, compiled, first, box, wide, sample=number == 0)
                self.seconds += time.perf_counter() - start
                yield columns
        start = time.perf_counter()
        self.invalid = self._explain()
        self.seconds += time.perf_counter() - start

    def _chunk(self, structure: dict, compiled: dict, first: int, box: list, fits: bool, sample: bool) -> dict:
        names = list(self.plan.axes)
        shape = tuple(part.stop - part.start for part in box)
        grid = {n: _along(self.plan.axes[n][part], axis, len(box)) for axis, (n, part) in enumerate(zip(names, box))}
        if "hw" in grid:
            grid["h"] = grid["w"] = grid["hw"]
        args = [grid[name] for name in compiled["free"]]
        if not fits and not _fits(compiled, _maxima(compiled, {n: _absmax(grid[n]) for n in names})):
            args = [a.astype(object) for a in args]  # exact Python integers: some intermediate may leave int64
            self.exact_chunks += 1
        valid = np.ones(shape, dtype=bool)
        for condition in compiled["conditions"]:
            valid &= np.asarray(condition(*args), dtype=bool)
        count = int(valid.sum())
        columns = {n: np.broadcast_to(grid[n], shape)[valid] for n in names}
        columns.update({k: _constant(v, count) for k, v in structure.items()})
        for q in self.quantities:
            columns[q] = _exact(compiled["quantities"][q], args, shape, valid, count)
        self._note_invalid(structure, first, valid)
        self.valid += count
        rows = _rows_to_check(columns, count, sample, self.quantities)
        _cross_check(self.plan, structure, columns, names, rows)
        return columns

    def _note_invalid(self, structure: dict, first: int, valid: np.ndarray) -> None:
        """Count a chunk's invalid rows; keep the grid positions of the first REASONS (an index array)."""
        bad = np.flatnonzero(~valid.reshape(-1))
        self.invalid_count += len(bad)
        room = REASONS - sum(len(positions) for _, positions in self._unexplained)
        if room > 0 and len(bad):
            self._unexplained.append((structure, first + bad[:room]))

    def _explain(self) -> list:
        """(config, the engine's reason) of each invalid row kept, in grid order."""
        explained = []
        for structure, positions in self._unexplained:
            point = _decode(self.plan.axes, positions)
            for i in range(len(positions)):
                config = {**structure, **{n: int(point[n][i]) for n in self.plan.axes}}
                step = self.plan.step
                explained.append((config, _reason(self.plan.arch, config) if step is None
                                  else _step_reason(self.plan.arch, config, step)))
        return explained


def _boxes(lengths: list, limit: int) -> Iterator[tuple]:
    """(flat position of its first row, [index range per axis]) of boxes of at most ``limit`` rows.

    The boxes tile the grid in flat order (the last axis varies fastest): axes
    before the sliced one are fixed to one index, axes after it are whole, so a
    box's rows are consecutive grid positions.
    """
    tails = [math.prod(lengths[i + 1:]) for i in range(len(lengths))]
    sliced = next((i for i, tail in enumerate(tails) if tail <= limit), None)
    if sliced is None:  # no axes: a single configuration
        yield 0, []
        return
    step = max(1, limit // tails[sliced])
    for prefix in itertools.product(*(range(n) for n in lengths[:sliced])):
        base = sum(i * tails[a] for a, i in enumerate(prefix))
        for begin in range(0, lengths[sliced], step):
            stop = min(lengths[sliced], begin + step)
            box = [range(i, i + 1) for i in prefix] + [range(begin, stop)] + [range(n) for n in lengths[sliced + 1:]]
            yield base + begin * tails[sliced], [slice(r.start, r.stop) for r in box]


def _along(values: np.ndarray, axis: int, dimensions: int) -> np.ndarray:
    """An axis's values shaped to lie along its own dimension of the box."""
    shape = [1] * dimensions
    shape[axis] = len(values)
    return values.reshape(shape)


def _constant(value, count: int) -> np.ndarray:
    """A structure option's column: a typed array where NumPy's type keeps the value exactly."""
    if isinstance(value, (bool, str)) or (isinstance(value, int) and -INT64_MAX <= value <= INT64_MAX):
        return np.full(count, value)
    return np.full(count, value, dtype=object)


def sweep(arch: Arch | str, values: dict, quantities: list) -> SweepResult:
    """Evaluate ``quantities`` of ``arch`` for every combination of ``values`` (name -> list), all held in
    memory."""
    grid = plan(arch, values, quantities)
    if grid.total > MEMORY_LIMIT:
        raise CnncostError(f"sweep: {grid.total:,} configurations is more than the {MEMORY_LIMIT:,} held in memory "
                           "at once; stream them instead (cnncost sweep --csv)")
    stream = Stream(grid)
    merged = concatenate(list(stream.chunks()))
    return SweepResult(stream.arch, merged, stream.invalid, stream.invalid_count, stream.total, stream.seconds,
                       stream.derive_seconds, stream.quantities)


def concatenate(parts: list) -> dict:
    """One columns dict from several (int64 and object chunks mix into object columns)."""
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _decode(axes: dict, index: np.ndarray) -> dict:
    """Each axis's value at flat grid positions ``index`` (the last axis varies fastest)."""
    flat, stride = {}, 1
    for name in reversed(list(axes)):
        values = axes[name]
        flat[name] = values[(index // stride) % len(values)]
        stride *= len(values)
    return {name: flat[name] for name in axes}


def _absmax(array: np.ndarray) -> int:
    return max(abs(int(array.max())), abs(int(array.min()))) if len(array) else 0


def _maxima(compiled: dict, by_name: dict) -> list:
    if "hw" in by_name:
        by_name = {**by_name, "h": by_name["hw"], "w": by_name["hw"]}
    return [by_name[name] for name in compiled["free"]]


def _fits(compiled: dict, maxima: list) -> bool:
    """Whether every condition and quantity provably stays within int64 at these maxima."""
    functions = list(compiled["quantities"].values()) + compiled["conditions"]
    return all(f.fits(maxima) for f in functions)


def _compile(arch: Arch | str, structure: dict, quantities: list, step=None) -> dict:
    derivation = symbolic.derive(arch, structure)
    stepwise = [q for q in quantities if q in STEP_QUANTITIES]
    if stepwise:
        symbolic.add_step_quantities(derivation, step._replace(batch=symbolic.symbol("batch")), stepwise)
    free = [symbolic.symbol(p) for p in _free_names(derivation)]
    return {"free": _free_names(derivation),
            "quantities": {q: compile_count(derivation.formulas[q], free) for q in quantities},
            "conditions": [compile_condition(c, free) for c in derivation.conditions]}


def _free_names(derivation) -> list:
    """Builder keywords of the derivation's free symbols, in a fixed order."""
    back = {str(symbolic.symbol(k)): k for k in ("h", "w", "m", "k", "n", "batch")}
    return [back.get(s, s) for s in derivation.symbols]


def _exact(function, args: list, shape: tuple, valid: np.ndarray, count: int) -> np.ndarray:
    """The quantity over the chunk's valid rows (int64 or object, as the arguments are).

    The compiled form returns an array over only the axes it depends on (a
    scalar where it is constant over the grid, e.g. params under an --hw sweep):
    it is broadcast to the box before the valid rows are taken.
    """
    if count == 0:
        return np.zeros(0, dtype=np.int64)  # every configuration of this chunk is invalid
    return np.broadcast_to(np.asarray(function(*args)), shape)[valid]


def _rows_to_check(columns: dict, count: int, sample: bool, quantities: list) -> list:
    """The rows recomputed by the engine: a spread over the first chunk, then each chunk's extremes."""
    if not count:
        return []
    rows = {0, count - 1} | {int(np.argmax(columns[q])) for q in quantities}
    if sample:
        rows |= set(np.linspace(0, count - 1, min(SAMPLE, count)).astype(int).tolist())
    return sorted(rows)


def _cross_check(grid: Plan, structure: dict, columns: dict, names: list, rows: list) -> None:
    """Recompute rows with the numeric engine (and step); any difference is a bug, raised loudly."""
    arch = grid.arch
    for i in rows:
        point = {n: int(columns[n][i]) for n in names}
        config = _config(structure, point)
        table = engine.analyze(arch.build(**resolve(arch, config)))
        expected = totals(table)
        if grid.step is not None:
            from ..trainstep import analyze_step

            expected.update(analyze_step(table, grid.step._replace(batch=point["batch"])).quantities())
        for q in grid.quantities:
            if int(columns[q][i]) != expected[q]:
                raise RuntimeError(f"sweep bug: {q} at {config} is {columns[q][i]}, engine says {expected[q]}")


def _config(structure: dict, point: dict) -> dict:
    """Builder keywords of one grid point (the batch is the step's, not the network's)."""
    point = {k: v for k, v in point.items() if k != "batch"}
    if "hw" in point:
        point["h"] = point["w"] = point.pop("hw")
    return {**structure, **point}


def _reason(arch, config: dict) -> str:
    """The numeric engine's own one-line reason for an invalid configuration."""
    try:
        engine.analyze(arch.build(**resolve(arch, _config({}, config))))
    except CnncostError as error:
        return str(error)
    return "invalid (a validity condition fails)"


def _step_reason(arch, config: dict, step) -> str:
    """The reason for an invalid configuration of a step grid: the network's, else the step's (torch's
    BatchNorm refusal at batch 1)."""
    try:
        table = engine.analyze(arch.build(**resolve(arch, _config({}, config))))
        from ..trainstep import analyze_step

        analyze_step(table, step._replace(batch=config["batch"]))
    except CnncostError as error:
        return str(error)
    return "invalid (a validity condition fails)"
