"""Markdown for one network's derivation: named sizes, closed forms, validity, cost table.

Every expression comes from ``cnncost.formula`` (the engine's symbolic walk);
this module only lays it out as GitHub math.
"""

from __future__ import annotations

import sympy

from cnncost import printer
from cnncost.render import formula_view
from cnncost.symbolic import as_expr, mirrored_sizes, symbol
from . import markdown as md

WIDTH = 72  # characters of text (as read, not LaTeX source) per line of a long sum
HIDDEN = ("Flatten",)  # reshapes: no cost, no new size
UNITS = {"params": r"\mathrm{params}", "macs": r"\mathrm{MACs}", "buffers": r"\mathrm{buffers}"}
TITLES = {"params": "Parameters", "macs": "MACs", "buffers": "BatchNorm buffers"}


def coefficient_symbols(arch) -> set:
    """Channel-like symbols (m, n) that group terms, as ``cnncost formula`` groups them."""
    return {symbol(p.name) for p in arch.params if p.name in ("m", "n")}


def display(expr, coefficient: set):
    """The form a formula is shown in: like terms grouped unless floors remain (grouping expands)."""
    return expr if expr.has(sympy.floor) else printer.grouped(expr, coefficient)


def _signed(term) -> tuple:
    """('+', term) or ('-', −term): how a term continues a sum."""
    return ("-", -term) if term.could_extract_minus_sign() else ("+", term)


def _packed(terms: list) -> list:
    """Terms in lines of at most WIDTH characters as read (the text form), in order."""
    lines, current, width = [], [], 0
    for term in terms:
        size = len(printer.text(term)) + 3
        if current and width + size > WIDTH:
            lines.append(current)
            current, width = [], 0
        current.append(term)
        width += size
    return lines + [current]


def _sum_tex(terms: list, first: bool) -> str:
    """LaTeX of consecutive terms of a sum; a continuation line starts with its sign."""
    out = []
    for i, term in enumerate(terms):
        sign, body = _signed(term)
        if i == 0 and first:
            out.append(md.tex(term))
        else:
            out.append(f"{sign} {md.tex(body)}")
    return " ".join(out)


def equation(lhs: str, expr) -> list:
    """Aligned lines ``lhs &= expr``; a long sum is broken between terms."""
    if not expr.is_Add or len(printer.text(expr)) <= WIDTH:
        return [f"{lhs} &= {md.tex(expr)}"]
    lines = _packed(expr.as_ordered_terms())
    return ([f"{lhs} &= {_sum_tex(lines[0], True)}"]
            + [rf"&\quad {_sum_tex(line, False)}" for line in lines[1:]])


def shape_tex(shape: tuple) -> str:
    """C × H × W (or F) in LaTeX; a dimension that is a sum is bracketed (c₀ + 6k reads as one factor)."""
    return r" \times ".join(_factor(d) for d in shape)


def _factor(dim) -> str:
    text = md.tex(dim)
    return rf"\left({text}\right)" if getattr(dim, "is_Add", False) else text


def sizes_section(derivation) -> str:
    """The named intermediate sizes, H-axis only, two per line, as one aligned block."""
    if not derivation.sizes:
        return "No layer changes the input's spatial size: there are no intermediate sizes to name."
    mirrored = mirrored_sizes(derivation.sizes)
    shown = [f"{md.tex(s)} &= {md.tex(d)}" for s, d in derivation.sizes.items() if s not in mirrored]
    lines = [r" & \qquad ".join(shown[i:i + 2]) for i in range(0, len(shown), 2)]
    text = ["Each layer that changes the spatial size names its output (⌊x⌋ is the floor):", "",
            md.math_block(lines)]
    if mirrored:
        names = ", ".join(md.inline(md.tex(s)) for s in derivation.sizes if s in mirrored)
        text += ["", f"and likewise from W: {names}."]
    return "\n".join(text)


def quantity_block(derivation, quantity: str, coefficient: set) -> str:
    """One quantity: its compact form in the named sizes, then fully substituted when different."""
    compact = display(derivation.compact[quantity], coefficient)
    full = display(derivation.formulas[quantity], coefficient)
    lines = equation(UNITS[quantity], compact)
    if derivation.divisible is None and compact != full and sympy.expand(compact - full) != 0:
        lines += equation("", full)
    return md.math_block(lines)


def adds_sentence(derivation) -> str:
    """Multiplications and additions, said through MACs (mults = MACs by definition)."""
    gap = sympy.expand(derivation.compact["macs"] - derivation.compact["adds"])
    if gap == 0:
        return ("Multiplications equal MACs, and so do additions: every conv and linear layer has a "
                "bias, so each output takes (terms − 1) additions in its sum plus one for the bias.")
    gap_tex = rf"\left({md.tex(gap)}\right)" if gap.is_Add else md.tex(gap)
    adds = r"\mathrm{adds} = \mathrm{MACs} - " + gap_tex
    return ("Multiplications equal MACs; additions are one fewer per output of every layer without "
            f"a bias: {md.inline(adds)}.")


def closed_forms_section(derivation, arch, quantities: tuple = ("params", "macs")) -> str:
    """Each quantity's closed form, with the convention it is in; adds and buffers when they matter."""
    coefficient = coefficient_symbols(arch)
    parts = []
    for q in quantities:
        parts += [f"{TITLES[q]} ({md.code(q)}):", "", quantity_block(derivation, q, coefficient), ""]
    if "macs" in quantities:
        parts.append(adds_sentence(derivation))
    if "buffers" not in quantities and derivation.compact["buffers"] != 0:
        keras = md.inline(r"\mathrm{keras} = \mathrm{params} + " + md.tex(derivation.compact["buffers"]))
        parts += ["", "BatchNorm's running mean and variance are buffers, not parameters; Keras counts "
                  f"them in its total: {keras}."]
    return "\n".join(parts).rstrip()


def condition_text(rel) -> str:
    """One validity condition as inline math (divisibility in words)."""
    if isinstance(rel, sympy.Eq) and isinstance(rel.lhs, sympy.Mod):
        numer, denom = rel.lhs.args
        return f"{md.inline(md.tex(numer))} is a multiple of {md.inline(md.tex(denom))}"
    return md.inline(md.tex(rel))


def validity_section(derivation, arch) -> str:
    """When the network is valid (every output non-empty, every channel count whole)."""
    if not derivation.conditions:
        return "Valid for every input of at least 1×1: no layer's output can become empty."
    conditions = " and ".join(condition_text(c) for c in derivation.conditions)
    example = formula_view.example_text(derivation, arch).strip().removeprefix("(").removesuffix(")")
    return f"Valid when {conditions}" + (f" ({example})." if example else ".")


def visible(rows: list) -> list:
    """Rows that cost something or change a size: not activations, dropout or reshapes."""
    return [r for r in rows if not (r.free or r.type in HIDDEN)]


def _macs_cell(value, auxiliary: bool) -> str:
    """MACs of a row; an auxiliary head runs only in training, so it has none at inference."""
    return "— (training only)" if auxiliary else md.inline(md.tex(value))


def layer_rows(table) -> list:
    """Per-layer table rows: name, type, output shape, params, MACs (LaTeX)."""
    return [[md.code(r.name + (" (aux)" if r.auxiliary else "")), r.type, md.inline(shape_tex(r.output_shape)),
             md.inline(md.tex(r.params)), _macs_cell(r.macs, r.auxiliary)]
            for r in visible(table.layers)]


def _groups(table) -> list:
    """(top-level module name, its rows) in execution order."""
    return [(node.name, [r for r in table.layers if r.name == node.name or r.name.startswith(node.name + ".")])
            for node in table.network.layers]


def _total(rows: list, quantity: str):
    return sympy.expand(sum((as_expr(getattr(r, quantity)) for r in rows), sympy.Integer(0)))


def block_rows(table) -> list:
    """Per-block rows: one per top-level module; a block's output is the next block's input."""
    groups = _groups(table)
    out = []
    for i, (name, rows) in enumerate(groups):
        if not visible(rows):
            continue
        aux = rows[0].auxiliary
        later = [g for g in groups[i + 1:] if g[1] and not g[1][0].auxiliary]
        shape = rows[-1].output_shape if aux else later[0][1][0].input_shape if later else table.output_shape
        out.append([md.code(name + (" (aux)" if aux else "")), md.inline(shape_tex(shape)),
                    md.inline(md.tex(_total(rows, "params"))), _macs_cell(_total(rows, "macs"), aux)])
    return out


def costs_section(derivation, by: str) -> str:
    """The symbolic per-layer (or per-block) table, in the named sizes."""
    table = derivation.table
    if by == "block":
        rows = block_rows(table)
        grid = md.table(["block", "output", "params", "MACs"], rows)
        intro = "Per top-level block (its layers summed; activations, dropout and reshapes cost nothing):"
    else:
        rows = layer_rows(table)
        grid = md.table(["layer", "type", "output", "params", "MACs"], rows)
        intro = "Per layer (activations, dropout and reshapes cost nothing and are left out):"
    return f"{intro}\n\n{grid}"
