"""Evaluate a whole grid: one derivation per structure, then vectorised exact arithmetic.

Non-symbolic options (padding, org, bn, classes, ...) select a structure, each
derived once; symbolic ones (m, k, n, H, W) become integer arrays evaluated by
compiled closed forms. Invalid configurations are found by the validity
conditions, and their reason comes from the numeric engine itself. A sample of
results is recomputed by the engine: a mismatch (int64 overflow, or a bug) makes
the sweep fall back to exact Python integers for that structure.
"""

from __future__ import annotations

import time
from typing import NamedTuple

import numpy as np

from .. import archs, engine, symbolic
from ..conventions import CONVENTIONS, totals
from ..errors import CnncostError
from .grid import grid_size, structures
from .vectorised import compile_condition, compile_count

SAMPLE = 16  # results recomputed by the numeric engine per structure
REASONS = 200  # invalid configurations whose reason is asked from the engine


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


def sweep(arch_name: str, values: dict, quantities: list) -> SweepResult:
    """Evaluate ``quantities`` for every combination of ``values`` (name -> list)."""
    arch = archs.get(arch_name)
    for q in quantities:
        if q not in CONVENTIONS:
            raise CnncostError(f"--quantity: unknown quantity {q!r}; choose from {', '.join(CONVENTIONS)}")
    design = [p.name for p in arch.params if p.symbolic and p.name not in ("h", "w")]
    axes = {name: values.get(name, [arch.param(name).default]) for name in design}
    axes.update(_size_axes(arch, values))
    total = grid_size({**axes, **{k: v for k, v in values.items() if k not in axes and k not in ("h", "w")}})
    parts, invalid, invalid_count, seconds, derive_seconds = [], [], 0, 0.0, 0.0
    for structure in structures(arch, values) or [{}]:
        start = time.perf_counter()
        compiled = _compile(arch.name, structure, quantities)
        derive_seconds += time.perf_counter() - start
        start = time.perf_counter()
        columns, bad = _evaluate(arch, structure, axes, compiled, quantities)
        seconds += time.perf_counter() - start
        parts.append(columns)
        invalid_count += len(bad)
        invalid += [(c, _reason(arch, c)) for c in bad[:max(0, REASONS - len(invalid))]]
    merged = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return SweepResult(arch.name, merged, invalid, invalid_count, total, seconds, derive_seconds, quantities)


def _size_axes(arch, values: dict) -> dict:
    """H and W axes: --hw zips them (square inputs); --h/--w cross."""
    if arch.param("h") is None:
        return {}
    if "hw" in values:
        return {"hw": values["hw"]}
    return {"h": values.get("h", [arch.param("h").default]), "w": values.get("w", [arch.param("w").default])}


def _compile(arch_name: str, structure: dict, quantities: list) -> dict:
    derivation = symbolic.derive(arch_name, structure)
    free = [symbolic.symbol(p) for p in _free_names(derivation)]
    return {"free": _free_names(derivation),
            "quantities": {q: compile_count(derivation.formulas[q], free) for q in quantities},
            "conditions": [compile_condition(c, free) for c in derivation.conditions]}


def _free_names(derivation) -> list:
    """Builder keywords of the derivation's free symbols, in a fixed order."""
    back = {str(symbolic.symbol(k)): k for k in ("h", "w", "m", "k", "n")}
    return [back.get(s, s) for s in derivation.symbols]


def _evaluate(arch, structure: dict, axes: dict, compiled: dict, quantities: list) -> tuple:
    names = list(axes)
    grids = np.meshgrid(*[np.asarray(axes[n], dtype=np.int64) for n in names], indexing="ij")
    flat = {n: g.ravel() for n, g in zip(names, grids)}
    if "hw" in flat:
        flat["h"] = flat["w"] = flat["hw"]
    args = [flat[name] for name in compiled["free"]]
    valid = np.ones(len(args[0]) if args else 1, dtype=bool)
    for condition in compiled["conditions"]:
        valid &= np.asarray(condition(*args), dtype=bool)
    args = [a[valid] for a in args]
    columns = {n: flat[n][valid] for n in names}
    columns.update({k: np.full(int(valid.sum()), v, dtype=object) for k, v in structure.items()})
    for q in quantities:
        columns[q] = _exact(compiled["quantities"][q], args)
    bad = [{**structure, **{n: int(flat[n][i]) for n in names}} for i in np.flatnonzero(~valid)]
    _cross_check(arch, structure, columns, quantities, names)
    return columns, bad


def _exact(function, args: list) -> np.ndarray:
    """int64 result, or exact Python integers where int64 could overflow."""
    if args and len(args[0]) == 0:
        return np.zeros(0, dtype=np.int64)  # every configuration of this structure is invalid
    value = np.asarray(function(*args))
    if value.dtype != object and args and _may_overflow(function, args):
        value = np.asarray(function(*[a.astype(object) for a in args]))
    if value.ndim == 0 and args:  # constant over the grid (e.g. params under an --hw sweep)
        value = np.full(len(args[0]), value.item(), dtype=value.dtype)
    return value


def _may_overflow(function, args: list) -> bool:
    """Float estimate at the largest value of every variable (counts grow with every design variable)."""
    corner = [np.asarray([float(a.max())]) for a in args]
    # A quantity that does not depend on the swept variables comes back as a scalar.
    return abs(float(np.asarray(function(*corner)).ravel()[0])) > 2.0**62


def _cross_check(arch, structure: dict, columns: dict, quantities: list, names: list) -> None:
    """Recompute a few valid rows with the numeric engine; any difference is a bug, raised loudly."""
    count = len(columns[quantities[0]]) if quantities else 0
    for i in np.linspace(0, count - 1, min(SAMPLE, count)).astype(int) if count else []:
        config = _config(structure, {n: int(columns[n][i]) for n in names})
        expected = totals(engine.analyze(arch.build(**archs.resolve(arch, config))))
        for q in quantities:
            if int(columns[q][i]) != expected[q]:
                raise RuntimeError(f"sweep bug: {q} at {config} is {columns[q][i]}, engine says {expected[q]}")


def _config(structure: dict, point: dict) -> dict:
    point = dict(point)
    if "hw" in point:
        point["h"] = point["w"] = point.pop("hw")
    return {**structure, **point}


def _reason(arch, config: dict) -> str:
    """The numeric engine's own one-line reason for an invalid configuration."""
    try:
        engine.analyze(arch.build(**archs.resolve(arch, _config({}, config))))
    except CnncostError as error:
        return str(error)
    return "invalid (a validity condition fails)"
