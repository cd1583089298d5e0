"""Views of a Derivation: readable text, LaTeX and JSON."""

from __future__ import annotations

import sympy

from ..conventions import CONVENTIONS
from .. import printer


def label(derivation, quantity: str) -> tuple:
    """(unit, meaning) of a quantity: its convention's, or the derivation's own label."""
    if quantity in derivation.labels:
        return derivation.labels[quantity]
    return CONVENTIONS[quantity].unit, CONVENTIONS[quantity].meaning


def size_lines(sizes: dict) -> list:
    """'H1 = H − k + 1' lines, W-axis mirrors folded into one note."""
    from ..symbolic import mirrored_sizes

    mirrored = mirrored_sizes(sizes)
    shown = [f"{s} = {printer.text(d)}" for s, d in sizes.items() if s not in mirrored]
    lines = ["  " + "    ".join(shown[i:i + 2]) for i in range(0, len(shown), 2)]
    if mirrored:
        names = [str(s) for s in sizes if s in mirrored]
        lines.append(f"  ({', '.join(names)}: likewise, from W)")
    return lines


def example_text(derivation, arch) -> str:
    """'e.g. k = 3 needs H ≥ 94': the conditions at the architecture's defaults."""
    from ..symbolic import symbol

    defaults = {symbol(p.name): p.default
                for p in arch.params if p.symbolic and p.name not in ("h", "w")}
    dims = {symbol("h"), symbol("w")}
    examples: dict = {}  # (binding, value) -> dimensions
    for cond in derivation.conditions:
        # Only a need on the input size has an example; a solved condition (k ≤ 3) is its own.
        if isinstance(cond, sympy.GreaterThan) and cond.lhs in dims and cond.rhs.free_symbols:
            used = {s: v for s, v in defaults.items() if s in cond.rhs.free_symbols}
            value = cond.rhs.xreplace(used)
            if value.is_Number and used:
                binding = ", ".join(f"{s} = {v}" for s, v in used.items())
                examples.setdefault((binding, value), []).append(str(cond.lhs))
    parts = [f"{binding} needs {', '.join(dims)} ≥ {value}" for (binding, value), dims in examples.items()]
    return f" (e.g. {'; '.join(parts)})" if parts else ""


def text_view(derivation, arch, quantities: list, coefficient_symbols: set) -> str:
    """The readable formula page."""
    out = [f"{derivation.arch} — closed forms in {', '.join(derivation.symbols) or 'no free variables'}"]
    out += [f"  {s}: {meaning}" for s, meaning in derivation.symbols.items()]
    if derivation.divisible:
        out.append(f"assuming H and W are multiples of {derivation.divisible}")
    elif derivation.sizes:
        out += ["sizes after each layer that changes them (⌊x⌋ = floor):"] + size_lines(derivation.sizes)
    for q in quantities:
        unit, meaning = label(derivation, q)
        out.append(f"{unit} [{q}: {meaning}]")
        forms = []
        if not derivation.divisible and derivation.sizes:
            forms.append(printer.text(printer.grouped(derivation.compact[q], coefficient_symbols)))
        full = derivation.formulas[q]
        # Floors of sizes stay as products; only polynomials are regrouped (grouping expands).
        if not full.has(sympy.floor):
            full = printer.grouped(full, coefficient_symbols)
        forms.append(printer.text(full))
        # A quantity that uses no named size reads the same both ways: show it once.
        out += ["  = " + form for form in dict.fromkeys(forms)]
    if derivation.conditions:
        conds = " and ".join(printer.relation_text(c) for c in derivation.conditions)
        out.append(f"valid when {conds}{example_text(derivation, arch)}")
    return "\n".join(out)


def latex_view(derivation, quantities: list) -> str:
    """LaTeX: one aligned equation per quantity (compact and substituted)."""
    lines = [r"\begin{aligned}"]
    for s, d in derivation.sizes.items():
        lines.append(f"{printer.latex(s)} &= {printer.latex(d)} \\\\")
    for q in quantities:
        name = r"\mathrm{" + label(derivation, q)[0].replace(" ", r"\ ") + "}"
        lines.append(f"{name} &= {printer.latex(derivation.formulas[q])} \\\\")
    for c in derivation.conditions:
        lines.append(f"&\\text{{valid when }} {printer.latex(c)} \\\\")
    lines.append(r"\end{aligned}")
    return "\n".join(lines)


def json_view(derivation, quantities: list) -> dict:
    """JSON: every expression is a string that ``sympy.sympify`` parses back."""
    config = {k: (str(v) if isinstance(v, sympy.Basic) else v) for k, v in derivation.config.items()}
    return {
        "arch": derivation.arch,
        "config": config,
        "symbols": derivation.symbols,
        "assumptions": {
            "positive_integers": list(derivation.symbols),
            "divisible": ({"H": derivation.divisible, "W": derivation.divisible}
                          if derivation.divisible else {}),
        },
        # printer.plain is str() itself, minus sympy's quadratic ordering of long sums
        "sizes": {str(s): printer.plain(d) for s, d in derivation.sizes.items()},
        "formulas": {q: printer.plain(derivation.formulas[q]) for q in quantities},
        "compact": {q: printer.plain(derivation.compact[q]) for q in quantities},
        "conditions": [str(c) for c in derivation.conditions],
    }
