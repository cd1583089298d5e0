"""Glue between the check command and the audit: parse, derive, audit, render."""

from __future__ import annotations

from typing import Callable

from .. import conventions, symbolic
from ..arch import Arch, ParameterError, as_arch, resolve
from ..conventions import STEP_QUANTITIES, meaning
from ..errors import CnncostError
from ..printer import text
from . import units
from .audit import EXPLAIN_TERMS, NOT_EQUAL, NOT_PROVEN, audit, expanded_terms, percent
from .batch import load, refuse_modules  # noqa: F401  (re-exported for the CLI)

DESIGN = ("h", "w", "m", "k", "n")


def check_one(claim_text: str, arch: Arch | str, quantity: str | None, layer: str | None, given: dict,
              tolerance: float = 0.0, step_given: dict | None = None) -> dict:
    """Audit one claim about ``arch`` (an ``Arch``; a name is resolved once); returns the JSON-ready verdict.

    ``quantity`` None means "not given": a unit word in the claim (``4.1 GMACs``) names it,
    else params. A unit word that names another quantity than the one given is said, not ignored.
    A training-step quantity (``conventions.STEP_QUANTITIES``) is the step of ``step_given`` (strategy, batch,
    optimizer, dtype, device; the batch is the variable B unless given) over the whole network.
    """
    from .parser import parse_claim

    check_quantity(quantity, layer)
    spec = as_arch(arch)
    names = {str(symbolic.symbol(p.name)): symbolic.symbol(p.name) for p in spec.params if p.symbolic}
    if quantity in STEP_QUANTITIES and "batch" not in (step_given or {}):
        names["B"] = symbolic.symbol("batch")
    notes, written = [], units.split(str(claim_text), names)
    if written is not None:
        claim = parse_claim(written.number, {}) * written.scale
        if written.quantity and quantity is None:
            quantity = written.quantity
        elif written.quantity and written.quantity != quantity:
            notes.append(f"note: the claim's unit {written.unit} names {written.quantity}, "
                         f"but {quantity} is checked (--quantity)")
        precision = units.rounding(written.number, written.scale)
    else:
        claim = parse_claim(str(claim_text), names)
        precision = 0.0 if claim.free_symbols else units.rounding(str(claim_text), 1)
    quantity = quantity or "params"
    bound = dict(given)
    if not claim.free_symbols:  # a plain number is checked at concrete sizes: defaults fill the gaps
        bound = resolve(spec, given)
    derivation = symbolic.derive(spec, bound)
    if quantity in STEP_QUANTITIES:
        from ..trainstep import parse_step

        options = {"batch": symbolic.symbol("batch"), **(step_given or {})}
        symbolic.add_step_quantities(derivation, parse_step(**options), [quantity])
    result = audit(claim, derivation, quantity, layer, tolerance, precision)
    if (claim.free_symbols and {"h", "w"} & set(given) and result.verdict != NOT_PROVEN
            and expanded_terms(claim) <= EXPLAIN_TERMS):
        result = result._replace(explanation=result.explanation + _only_because_bound(
            claim, spec, quantity, layer, given, result.explanation))
    result = result._replace(explanation=notes + result.explanation)
    return _as_dict(result, claim_text, spec.name, quantity, layer, bound, derivation)


def check_quantity(quantity: str | None, layer: str | None) -> None:
    """A known quantity (or None: the claim's unit word decides), and a layer only for the conventions."""
    if quantity is not None:
        conventions.check_quantity(quantity)
    if quantity in STEP_QUANTITIES and layer is not None:
        raise ParameterError("layer", f"{quantity} is checked for the whole network (per-layer claims count the "
                                      "conventions)")


def _only_because_bound(claim, arch, quantity, layer, given, said) -> list:
    """Sentences that appear once H and W are free: terms right only at the bound size."""
    free = {k: v for k, v in given.items() if k not in ("h", "w")}
    general = audit(claim, symbolic.derive(arch, free), quantity, layer)
    if general.verdict != NOT_EQUAL:  # right (or undecided) for other sizes too: nothing to add
        return []
    size = f"H = {given.get('h', 'H')}, W = {given.get('w', 'W')}"
    new = [sentence for sentence in general.explanation if sentence not in said]
    return [f"right only because {size} is bound; for other sizes: {'; '.join(new)}"] if new else []


def _as_dict(result, claim_text, arch, quantity, layer, bound, derivation) -> dict:
    return {
        "claim": claim_text, "arch": arch, "quantity": quantity, "layer": layer,
        "bindings": {k: v for k, v in bound.items() if k in DESIGN or k in ("padding", "org", "bn")},
        "equal": result.equal,
        "verdict": result.verdict.upper(),
        "difference": str(result.difference),
        "difference_text": text(result.difference),
        "true": str(result.true), "true_text": text(result.true),
        "explanation": result.explanation,
        "counterexample": {k: _json_number(v) for k, v in result.counterexample.items()}
        if result.counterexample else None,
        "holds_when": result.holds_when,
        "number": result.number,
        "convention": f"{quantity}: {_meaning(derivation, quantity)}",
    }


def _meaning(derivation, quantity: str) -> str:
    """The sentence saying what ``quantity`` counts (a step quantity's names its step's options)."""
    return derivation.labels[quantity][1] if quantity in derivation.labels else meaning(quantity)


def _json_number(value):
    """ints stay ints; sympy integers become ints; fractions become strings such as '3726997/1024'."""
    if isinstance(value, int) or getattr(value, "is_Integer", False):
        return int(value)
    return str(value)


def signed_percent(x: float) -> str:
    """+100.0%, −0.00046%: a tiny error never prints as 0.0%."""
    return ("+" if x >= 0 else "-") + percent(abs(x))


def single_text(r: dict) -> str:
    """The readable verdict of one claim."""
    lines = []
    n = r["number"]
    if n:
        error = signed_percent(n["relative_error"]) if n["relative_error"] is not None else "n/a"
        lines.append(f"{r['verdict']}  claimed {grouped(n['claimed'])} · true {grouped(n['true'])} · "
                     f"relative error {error}")
    elif r["verdict"] == "NOT EQUAL":
        lines.append(f"NOT EQUAL  (claimed − true = {r['difference_text']})")
    else:
        lines.append(r["verdict"])
    lines += [f"  {sentence}" for sentence in r["explanation"]]
    ce = r["counterexample"]
    if ce:
        point = " ".join(f"{k}={v}" for k, v in ce.items() if k not in ("claimed", "true"))
        lines.append(f"  counterexample: {point} → claimed {ce['claimed']}, true {ce['true']}")
    lines += [f"  {sentence}" for sentence in r["holds_when"]]
    where = f" of {r['layer']}" if r["layer"] else ""
    true = grouped(n["true"]) if n else r["true_text"]
    lines.append(f"  true{where}: {true}   [{r['convention']}]")
    return "\n".join(lines)


def grouped(value) -> str:
    """An integer with digit groups (233,603,072); a fraction as a decimal to 6 significant digits."""
    if isinstance(value, int) or getattr(value, "is_Integer", False):
        return f"{int(value):,}"
    return f"≈{float(value):,.6g}"


def check_item(item: dict, lookup: Callable[[str], Arch]) -> dict:
    """One claim of a --claims file, its arch name turned into an ``Arch`` by ``lookup`` (the CLI's resolver);
    a bad claim (an unknown arch too) becomes a row with its error, not a crash."""
    options = dict(item.get("options", {}))
    if "hw" in options:
        options["h"] = options["w"] = options.pop("hw")
    try:
        check_quantity(item["quantity"], item.get("layer"))  # before the arch, as check_one alone does
        result = check_one(str(item["claim"]), lookup(item.get("arch", "scratch5")), item["quantity"],
                           item.get("layer"), options, float(item.get("tolerance", 0.0)))
    except CnncostError as error:
        result = {"claim": str(item["claim"]), "equal": False, "verdict": "ERROR", "error": str(error),
                  "explanation": [], "difference_text": "", "holds_when": [], "number": None}
    return {**result, "name": item.get("name", str(item["claim"])), "source": item.get("source", ""),
            "note": item.get("note", ""), "options": item.get("options", {}),
            "arch": item.get("arch", "scratch5"), "quantity": item["quantity"], "layer": item.get("layer")}


def batch_text(results: list, as_json: bool) -> str:
    """One line per claim (or JSON)."""
    import json

    if as_json:
        return json.dumps(results, indent=2, default=str)
    width = max(len(r["name"]) for r in results)
    lines = []
    for r in results:
        detail = r.get("error") or "; ".join(_error_sentence(r) + r["explanation"]) or ""
        lines.append(f"{r['name'].ljust(width)}  {r['verdict']:10}  {detail}")
    return "\n".join(lines)


MARKS = {"ERROR": "error", "EQUAL": "✓ equal", "NOT EQUAL": "✗ not equal", "NOT PROVEN": "? not proven"}


def _error_sentence(r: dict) -> list:
    """['relative error -0.8%'] for a number claim that is not exactly right, else []."""
    n = r.get("number")
    if not n or n["relative_error"] in (None, 0):
        return []
    return [f"relative error {signed_percent(n['relative_error'])}"]


def batch_markdown(header: dict, results: list) -> str:
    """A Markdown page of verdicts (docs/audit.md is this output)."""
    rows = [f"# {header['title']}", ""] + ([header["intro"].strip(), ""] if header["intro"] else [])
    rows += ["| report | claim | counts | verdict | why |", "|---|---|---|---|---|"]
    for r in results:
        verdict = MARKS[r["verdict"]]
        why = r.get("error") or "; ".join(_error_sentence(r) + r["explanation"] + r["holds_when"]) or ""
        if r.get("note"):
            why = f"{why} — {r['note']}" if why else r["note"]
        counts = r.get("quantity", "") + (f" of {r['layer']}" if r.get("layer") else "")
        options = ", ".join(f"{k}={v}" for k, v in r.get("options", {}).items())
        counts += f" ({r.get('arch', '')}{', ' + options if options else ''})"
        rows.append(f"| {r['source']} | {r['name']}: `{r['claim']}` | {counts} | {verdict} | "
                    f"{why.replace('|', '∣')} |")
    return "\n".join(rows) + "\n"
