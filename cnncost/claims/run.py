"""Glue between the check command and the audit: parse, derive, audit, render."""

from __future__ import annotations


from .. import archs, symbolic
from ..conventions import CONVENTIONS
from ..errors import CnncostError
from ..render.printer import text
from .audit import audit
from .batch import load  # noqa: F401  (re-exported for the CLI)

DESIGN = ("h", "w", "m", "k", "n")


def check_one(claim_text: str, arch_name: str, quantity: str, layer: str | None, given: dict,
              tolerance: float = 0.0) -> dict:
    """Audit one claim; returns the JSON-ready verdict."""
    from .parser import parse_claim

    if quantity not in CONVENTIONS:
        raise CnncostError(f"--quantity: unknown quantity {quantity!r}; choose from {', '.join(CONVENTIONS)}")
    spec = archs.get(arch_name)
    names = {str(symbolic.symbol(p.name)): symbolic.symbol(p.name) for p in spec.params if p.symbolic}
    claim = parse_claim(str(claim_text), names)
    bound = dict(given)
    if not claim.free_symbols:  # a plain number is checked at concrete sizes: defaults fill the gaps
        bound = archs.resolve(spec, given)
    derivation = symbolic.derive(spec.name, bound)
    result = audit(claim, derivation, quantity, layer, tolerance)
    if claim.free_symbols and {"h", "w"} & set(given):
        result = result._replace(explanation=result.explanation + _only_because_bound(
            claim, spec.name, quantity, layer, given, result.explanation))
    return _as_dict(result, claim_text, spec.name, quantity, layer, bound, derivation)


def _only_because_bound(claim, arch, quantity, layer, given, said) -> list:
    """Sentences that appear once H and W are free: terms right only at the bound size."""
    free = {k: v for k, v in given.items() if k not in ("h", "w")}
    general = audit(claim, symbolic.derive(arch, free), quantity, layer)
    size = f"H = {given.get('h', 'H')}, W = {given.get('w', 'W')}"
    new = [sentence for sentence in general.explanation if sentence not in said]
    return [f"right only because {size} is bound; for other sizes: {'; '.join(new)}"] if new else []


def _as_dict(result, claim_text, arch, quantity, layer, bound, derivation) -> dict:
    return {
        "claim": claim_text, "arch": arch, "quantity": quantity, "layer": layer,
        "bindings": {k: v for k, v in bound.items() if k in DESIGN or k in ("padding", "org", "bn")},
        "equal": result.equal,
        "difference": str(result.difference),
        "difference_text": text(result.difference),
        "true": str(result.true), "true_text": text(result.true),
        "explanation": result.explanation,
        "counterexample": {k: _json_number(v) for k, v in result.counterexample.items()}
        if result.counterexample else None,
        "holds_when": result.holds_when,
        "number": result.number,
        "convention": f"{quantity}: {CONVENTIONS[quantity].meaning}",
    }


def _json_number(value):
    """ints stay ints; sympy integers become ints; fractions become strings such as '3726997/1024'."""
    if isinstance(value, int) or getattr(value, "is_Integer", False):
        return int(value)
    return str(value)


def single_text(r: dict) -> str:
    """The readable verdict of one claim."""
    lines = []
    if r["number"]:
        n = r["number"]
        error = f"{n['relative_error']:+.1%}" if n["relative_error"] is not None else "n/a"
        verdict = "EQUAL" if r["equal"] else "NOT EQUAL"
        lines.append(f"{verdict}  claimed {int(n['claimed']):,} · true {n['true']:,} · relative error {error}")
    else:
        lines.append("EQUAL" if r["equal"] else f"NOT EQUAL  (claimed − true = {r['difference_text']})")
    lines += [f"  {sentence}" for sentence in r["explanation"]]
    ce = r["counterexample"]
    if ce:
        point = " ".join(f"{k}={v}" for k, v in ce.items() if k not in ("claimed", "true"))
        lines.append(f"  counterexample: {point} → claimed {ce['claimed']}, true {ce['true']}")
    lines += [f"  {sentence}" for sentence in r["holds_when"]]
    where = f" of {r['layer']}" if r["layer"] else ""
    lines.append(f"  true{where}: {r['true_text']}   [{r['convention']}]")
    return "\n".join(lines)


def check_item(item: dict) -> dict:
    """One claim of a --claims file; a bad claim becomes a row with its error, not a crash."""
    options = dict(item.get("options", {}))
    if "hw" in options:
        options["h"] = options["w"] = options.pop("hw")
    try:
        result = check_one(str(item["claim"]), item.get("arch", "scratch5"), item["quantity"],
                           item.get("layer"), options, float(item.get("tolerance", 0.0)))
    except CnncostError as error:
        result = {"claim": str(item["claim"]), "equal": False, "error": str(error), "explanation": [],
                  "difference_text": "", "holds_when": []}
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
        verdict = "ERROR" if r.get("error") else "EQUAL" if r["equal"] else "NOT EQUAL"
        detail = r.get("error") or "; ".join(r["explanation"]) or ""
        lines.append(f"{r['name'].ljust(width)}  {verdict:9}  {detail}")
    return "\n".join(lines)


def batch_markdown(header: dict, results: list) -> str:
    """A Markdown page of verdicts (docs/audit.md is this output)."""
    rows = [f"# {header['title']}", ""] + ([header["intro"].strip(), ""] if header["intro"] else [])
    rows += ["| report | claim | counts | verdict | why |", "|---|---|---|---|---|"]
    for r in results:
        verdict = "error" if r.get("error") else "✓ equal" if r["equal"] else "✗ not equal"
        why = r.get("error") or "; ".join(r["explanation"] + r["holds_when"]) or ""
        if r.get("note"):
            why = f"{why} — {r['note']}" if why else r["note"]
        counts = r.get("quantity", "") + (f" of {r['layer']}" if r.get("layer") else "")
        options = ", ".join(f"{k}={v}" for k, v in r.get("options", {}).items())
        counts += f" ({r.get('arch', '')}{', ' + options if options else ''})"
        rows.append(f"| {r['source']} | {r['name']}: `{r['claim']}` | {counts} | {verdict} | "
                    f"{why.replace('|', '∣')} |")
    return "\n".join(rows) + "\n"
