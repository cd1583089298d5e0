"""cnncost verify: the engine's rows against the instantiated module and the tools, per layer.

Returns plain data (a Verification); rendering lives in cnncost.render.verify_view.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import torch

from cnncost import engine
from cnncost import layers as L

from . import oracles
from .from_spec import to_module


class Cell(NamedTuple):
    """One compared value: the engine's and the reference's."""

    engine: object
    reference: object

    @property
    def ok(self) -> bool:
        """True when the two agree."""
        return self.engine == self.reference


class LayerCheck(NamedTuple):
    """All comparisons for one leaf layer."""

    name: str
    type: str
    cells: dict  # column -> Cell


class Verification(NamedTuple):
    """A whole verification: per-layer checks, totals and notes."""

    network: str
    layers: list
    totals: dict  # column -> Cell
    notes: list

    @property
    def ok(self) -> bool:
        """True when every cell agrees."""
        cells = [c for row in self.layers for c in row.cells.values()] + list(self.totals.values())
        return all(c.ok for c in cells)


def verify(network: L.Network) -> Verification:
    """Build ``network`` in torch, run it once, and compare every layer and total."""
    table = engine.analyze(network)
    module = to_module(network).eval()
    shape = tuple(network.input_shape)
    with warnings.catch_warnings():  # torch warns on every even-kernel padding="same" conv
        warnings.simplefilter("ignore", UserWarning)
        shapes = oracles.output_shapes(module, shape)
    analysis = oracles.fvcore_analysis(module, shape)
    per_op = analysis.by_module_and_operator()
    per_module = analysis.by_module()
    ptflops = oracles.ptflops_per_module(module, shape) if hasattr(oracles, "ptflops_per_module") else None
    rows = [_check_row(r, module, shapes, per_op, per_module, ptflops) for r in table.layers]
    totals = {
        "params": Cell(table.total("params"), oracles.param_count(module)),
        "buffers": Cell(table.total("buffers"), oracles.batchnorm_buffers(module)),
        "MACs": Cell(table.total("macs"), oracles.fvcore_macs(module, shape)),
    }
    totals["fvcore"] = Cell(table.total("fvcore"), int(analysis.total()))
    if ptflops is not None:
        totals["ptflops"] = Cell(table.total("ptflops"), oracles.ptflops_macs(module, shape))
    return Verification(network.name, rows, totals, _notes(module))


def _check_row(row, module, shapes, per_op, per_module, ptflops) -> LayerCheck:
    leaf = module.get_submodule(row.name)
    cells = {
        "params": Cell(row.params, sum(p.numel() for p in leaf.parameters())),
        "buffers": Cell(row.buffers, oracles.batchnorm_buffers(leaf)),
    }
    if not row.auxiliary:  # training-only heads do not run in the verification pass
        cells["output"] = Cell(_shape(row.output_shape), _shape(shapes.get(row.name)))
        ops = per_op.get(row.name, {})
        cells["MACs"] = Cell(row.macs, sum(v for op, v in ops.items()
                                           if op in oracles.FVCORE_MAC_OPERATORS))
        cells["fvcore"] = Cell(row.fvcore, int(per_module.get(row.name, 0)))
        if ptflops is not None:
            cells["ptflops"] = Cell(row.ptflops, ptflops.get(row.name, 0))
    return LayerCheck(row.name, row.type, cells)


def _shape(shape) -> str:
    return "×".join(str(d) for d in shape) if shape is not None else "not run"


def _notes(module: torch.nn.Module) -> list:
    notes = ["params/buffers: torch numel of each module; output: forward hooks on one zero input",
             "MACs: fvcore conv + linear operators (fvcore counts one multiply-accumulate as one flop)"]
    string_padding = [n for n, m in module.named_modules()
                      if isinstance(m, torch.nn.Conv2d) and isinstance(m.padding, str)]
    if string_padding:
        notes.append(f"fvcore 0.1.5 counts 0 for {len(string_padding)} conv(s) with padding='same'/'valid' "
                     "(traced as aten::_convolution_mode, no handler); the harness registers one: "
                     "output elements × Cin/groups × kh × kw")
    return notes

