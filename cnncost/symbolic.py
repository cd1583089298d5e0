"""Closed forms: the engine's walk run on sympy symbols, then targeted simplification.

Only this module (and the renderers of its output) import sympy. Simplification
is targeted, never a blind ``simplify()``:
  * nested floors collapse: ⌊(⌊y⌋ + c)/b⌋ = ⌊(y + c)/b⌋ for integer c, b ≥ 1;
  * ``divisible=N`` substitutes H = N·h, W = N·w (h, w positive integers), which
    turns ⌊N·h/2⌋ into N·h/2, then substitutes back;
  * the result is expanded into a polynomial in the design variables and floors.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass, field
from functools import reduce
from typing import Any

import sympy

from . import engine
from .arith import is_number
from .expansion import expand
from .arch import Arch, as_arch, resolve
from .conventions import CONVENTIONS, QUANTITIES
from .errors import CnncostError

DISPLAY = {"h": "H", "w": "W", "batch": "B"}  # builder keyword (or a step's batch) -> symbol name


def as_expr(value: Any) -> Any:
    """An engine value (int or sympy expression) as a sympy expression.

    Deliberately not ``sympify``: engine values are never text, and this
    keeps any string from ever being parsed as code.
    """
    if isinstance(value, sympy.Basic):
        return value
    if type(value) is int:
        return sympy.Integer(value)
    raise TypeError(f"not an engine value: {value!r}")


def symbol(name: str) -> sympy.Symbol:
    """The design variable ``name`` as a positive integer symbol."""
    return sympy.Symbol(DISPLAY.get(name, name), integer=True, positive=True)


@dataclass
class Derivation:
    """Closed forms for one architecture configuration."""

    arch: str
    config: dict  # builder keywords: bound values and symbols
    symbols: dict  # symbol name -> meaning
    sizes: dict  # named intermediate size symbol -> definition (in earlier names)
    # MutableMapping: derive fills both with a Lazy (each built when first read); a dict works as well
    compact: MutableMapping  # convention -> expression in the named sizes
    formulas: MutableMapping  # convention -> fully substituted, simplified expression
    conditions: list  # sympy relations that must hold for the network to be valid
    divisible: int | None = None
    table: Any = field(default=None, repr=False)  # the symbolic CostTable (named sizes)
    # Quantities beyond the conventions (a training strategy's split): name -> (unit, meaning).
    labels: dict = field(default_factory=dict)


def derive(arch: Arch | str, given: dict | None = None, divisible: int | None = None) -> Derivation:
    """Derive every convention's closed form of ``arch`` (an ``Arch``; a name is resolved once, see
    ``cnncost.arch.as_arch``); ``given`` binds some variables to numbers."""
    arch = as_arch(arch)
    size = arch.param("h")
    if divisible is None and size is not None and size.multiple > 1:
        divisible = size.multiple  # every valid input is such a multiple (YOLOv3: 32)
    config = resolve(arch, given or {}, keep_symbolic=True)
    free = [p for p in arch.params if p.symbolic and p.name not in config]
    config.update({p.name: symbol(p.name) for p in free})
    network = arch.build(**config)
    namer = SizeNamer(network.size_names or {})
    table = engine.analyze(network, namer)
    # Each per-quantity sum, convention and substituted form is built when first read.
    by_quantity = Lazy(QUANTITIES, table.total)
    # expand (not sympy.expand): one pass over the terms, the same result (cnncost.expansion)
    compact = Lazy(CONVENTIONS, lambda name: expand(CONVENTIONS[name].total(by_quantity)))
    full = full_sizes(namer.definitions)
    _require_equal_sizes(table, full, divisible)
    formulas = Lazy(CONVENTIONS, lambda name: finish(compact[name], full, divisible))
    return Derivation(arch.name, config, {str(symbol(p.name)): p.meaning for p in free},
                      dict(namer.definitions), compact, formulas,
                      _checked_conditions(arch, given or {}, network, table), divisible, table)


class Lazy(MutableMapping):
    """A dict whose values are computed when first read: ``compute(key)`` for each of ``keys``.

    A deep network's closed forms have thousands of terms, and a command shows two or
    three of the eleven conventions: the others are never summed, expanded or substituted.
    Reads like a dict (``d[q]``, ``items()``, ``==``); a value may also be set.
    """

    def __init__(self, keys, compute):
        self._compute = compute
        self._done: dict = {}
        self._order = list(keys)  # keys in the given order, then any added ones

    def __getitem__(self, key: str) -> Any:
        if key not in self._done:
            if key not in self._order:
                raise KeyError(key)
            self._done[key] = self._compute(key)
        return self._done[key]

    def __setitem__(self, key: str, value: Any) -> None:
        if key not in self._order:
            self._order.append(key)
        self._done[key] = value

    def __delitem__(self, key: str) -> None:
        self._order.remove(key)
        self._done.pop(key, None)

    def __iter__(self):
        return iter(list(self._order))

    def __len__(self) -> int:
        return len(self._order)

    def __repr__(self) -> str:
        return repr(dict(self.items()))


def add_strategy_split(derivation: Derivation, strategy_text: str) -> list:
    """Add 'trainable' and 'frozen' closed forms for a training strategy; returns their names.

    The split is ``cnncost.finetune``'s, the same one ``cnncost train`` checks the
    torch model against.
    """
    from . import finetune

    strategy = finetune.parse_strategy(strategy_text)
    network = derivation.table.network
    split = finetune.trainable_params(derivation.table, finetune.trainable_layers(network, strategy))
    full = full_sizes(derivation.sizes)
    for name, expr, what in zip(("trainable", "frozen"), split, ("train", "stay frozen")):
        derivation.compact[name] = expand(as_expr(expr))
        derivation.formulas[name] = finish(derivation.compact[name], full, derivation.divisible)
        derivation.labels[name] = (f"{name} params", f"parameters that {what} under --strategy {strategy} "
                                                     "(PyTorch numel; auxiliary heads left out)")
    return ["trainable", "frozen"]


def add_step_quantities(derivation: Derivation, step: Any, names: list) -> None:
    """Add closed forms of the training-step quantities ``names`` (``conventions.STEP_QUANTITIES``) for
    ``step`` (a ``trainstep.Step``, whose batch may be the symbol B)."""
    from .conventions import STEP_QUANTITIES
    from .trainstep import analyze_step

    cost = analyze_step(derivation.table, step)
    values = cost.quantities()
    full = full_sizes(derivation.sizes)
    for expression, minimum, _ in dict.fromkeys(cost.requires):  # one condition per distinct size
        condition = settle(sympy.Ge(finish(as_expr(expression), full, derivation.divisible), minimum))
        if condition is not sympy.true and condition not in derivation.conditions:
            derivation.conditions.append(condition)
    if not is_number(step.batch):
        derivation.symbols[str(step.batch)] = "batch size (samples per training step)"
    for name in names:
        derivation.compact[name] = expand(as_expr(values[name]))
        derivation.formulas[name] = finish(derivation.compact[name], full, derivation.divisible)
        unit, meaning, _ = STEP_QUANTITIES[name]
        derivation.labels[name] = (unit, f"{meaning} (--strategy {step.strategy}, {step.optimizer}, "
                                         f"{step.dtype}, {step.device})")


class SizeNamer:
    """Engine hook: gives each new spatial size a name (H1, P1, ...) and remembers it.

    Architectures may choose names per layer (``Network.size_names``); other
    size changes get H<i>/W<i>, skipping every name an architecture reserved,
    so two different sizes can never share a name.
    """

    def __init__(self, preferred: dict):
        self.preferred = preferred  # layer name -> (h name, w name)
        self.reserved = {name for pair in preferred.values() for name in pair}
        self.definitions: dict = {}  # symbol -> definition
        self._by_expr: dict = {}  # definition -> symbol, so equal sizes share a name
        # Every name in use (reserved or defined), kept up to date as sizes are named:
        # rebuilding it per call made naming quadratic in depth.
        self._taken = set(self.reserved)
        self._count = 0

    def __call__(self, layer: str, x: tuple, y: tuple) -> tuple:
        names = self.preferred.get(layer) or self._automatic()
        return (y[0], self._name(y[1], names[0]), self._name(y[2], names[1]))

    def _automatic(self) -> tuple:
        while True:
            self._count += 1
            names = (f"H{self._count}", f"W{self._count}")
            if names[0] not in self._taken and names[1] not in self._taken:
                return names

    def _name(self, expr: Any, name: str) -> Any:
        expr = as_expr(expr)
        if expr.is_Number or expr.is_Symbol:
            return expr
        if expr not in self._by_expr:
            sym = sympy.Symbol(name, integer=True)
            if sym in self.definitions:
                raise ValueError(f"size name {name} names two different sizes "
                                 f"({self.definitions[sym]} and {expr}): fix the architecture's size_names")
            self._by_expr[expr] = sym
            self.definitions[sym] = expr
            self._taken.add(name)
        return self._by_expr[expr]


def mirrored_sizes(definitions: dict) -> dict:
    """W-axis size -> H-axis size, for each W size defined exactly like its H twin.

    The namer records sizes in (height, width) pairs; a width size mirrors its
    height twin when renaming H -> W (and earlier twins) maps one onto the other.
    """
    rename = {symbol("h"): symbol("w")}
    mirrors = {}
    items = list(definitions.items())
    for (hs, hdef), (ws, wdef) in zip(items[0::2], items[1::2]):
        # Only a true twin joins the renaming: with different kernels or strides along
        # H and W, a later W size must not be read as the mirror of an H size.
        if hdef.xreplace(rename) == wdef:
            rename[hs] = ws
            mirrors[ws] = hs
    return mirrors


def full_sizes(definitions: dict) -> dict:
    """Each named size in terms of the input size alone, nested floors collapsed."""
    mirrors = mirrored_sizes(definitions)
    full: dict = {}
    for sym, definition in definitions.items():
        if sym in mirrors:  # the twin's closed form with H renamed W: half the work
            full[sym] = full[mirrors[sym]].xreplace({symbol("h"): symbol("w")})
        else:
            full[sym] = collapse_floors(definition.xreplace(full))
    return full


def _require_equal_sizes(table, full: dict, divisible: int | None) -> None:
    """Branches that must meet at equal sizes (a concatenation, a residual add) but whose sizes are
    equal only for some inputs: proven equal under ``--divisible``, or the derivation is refused."""
    for name, u, v in table.assumed_equal:
        difference = sympy.sympify(u - v).xreplace(full)  # the sizes in H and W: names may hide equal ones
        if divisible:
            difference = assume_divisible(difference, divisible)
        if difference == 0 or _proved_zero(difference):
            continue
        hint = f" (even when H and W are multiples of {divisible})" if divisible else ""
        raise CnncostError(f"{name}: the branches' sizes {u} and {v} agree only for some input sizes{hint}; "
                           "give the size (--hw, --h/--w) or a divisor of it (formula --divisible N)")


def _proved_zero(difference: Any) -> bool:
    """Whether ``difference`` is 0 for every integer value of its symbols, proved as ``check`` proves
    an EQUAL (floors split into residue classes): ⌊(H − 1)/2⌋ + 1 − ⌈H/2⌉ is."""
    from . import proof

    return proof.decide(difference, sorted(difference.free_symbols, key=str)).status == "zero"


def finish(expr: Any, full: dict, divisible: int | None = None) -> Any:
    """A compact expression with every named size substituted.

    Products of sizes stay factored (expanding them buries the structure);
    under ``divisible`` the floors vanish and the result is expanded.
    """
    expr = expr.xreplace(full)
    return assume_divisible(expr, divisible) if divisible else expr


def assume_divisible(expr: Any, n: int) -> Any:
    """Simplify under H = n·h, W = n·w with h, w positive integers."""
    H, W = symbol("h"), symbol("w")
    h = sympy.Symbol("h_", integer=True, positive=True)
    w = sympy.Symbol("w_", integer=True, positive=True)
    expr = collapse_floors(expand(expr.xreplace({H: n * h, W: n * w})))
    return expand(expr.xreplace({h: H / n, w: W / n}))


def collapse_floors(expr: Any) -> Any:
    """Rewrite ⌊(⌊y⌋ + c)/b⌋ as ⌊(y + c)/b⌋ wherever c is an integer and b ≥ 1 an integer."""
    if not isinstance(expr, sympy.Basic):
        return expr
    return expr.replace(lambda e: isinstance(e, sympy.floor), _collapse_one)


def _collapse_one(f: Any) -> Any:
    if not f.args[0].has(sympy.floor):
        return f  # nothing nested (the common case): skip the costly expand
    terms = sympy.Add.make_args(sympy.expand(f.args[0]))
    inner = [t for t in terms if any(isinstance(a, sympy.floor) for a in sympy.Mul.make_args(t))]
    if len(inner) != 1:
        return f
    coeff, rest = inner[0].as_coeff_Mul()
    if not (isinstance(rest, sympy.floor) and coeff.is_Rational and coeff.p == 1 and coeff.q >= 1):
        return f
    b = coeff.q
    remainder = sympy.Add(*[t for t in terms if t is not inner[0]])
    if (remainder * b).is_integer is not True:
        return f
    return sympy.floor(sympy.expand((rest.args[0] + remainder * b) / b))


def conditions(network: Any, table: Any) -> list:
    """Validity conditions: every output non-empty, every channel count whole.

    Each is settled against the values already bound: one the bound values meet
    is dropped, one they break stays as ``sympy.false``, one left in a single
    variable is solved for it (100 ≥ 31k + 1 becomes k ≤ 3), and a condition
    is listed once however many axes or layers state it.
    """
    relations = [sympy.Ge(dim, need) for _, dim, need in size_requirements(network)]
    settled = [settle(rel) for rel in relations + _channel_conditions(table)]
    return list(dict.fromkeys(c for c in settled if c is not sympy.true))


def size_requirements(network: Any) -> list:
    """(keyword, input dimension, smallest value keeping every layer's output non-empty) triples."""
    if len(network.input_shape) != 3:
        return []
    hmin, wmin = engine.min_input_size(network)
    result = []
    for keyword, dim, need in (("h", network.input_shape[1], hmin), ("w", network.input_shape[2], wmin)):
        need = sympy.expand(need)
        if not (need.is_Number and need <= 1):
            result.append((keyword, as_expr(dim), need))
    return result


def settle(rel: Any) -> Any:
    """A condition in its plainest form: true, false, solved for its one variable, or as given.

    Only a condition linear in a single positive integer variable is solved (a·s + b ≥ 0
    with rational a, b); anything else is kept as written rather than guessed at.
    """
    if rel in (sympy.true, sympy.false) or not isinstance(rel, sympy.GreaterThan):
        return rel
    if len(rel.free_symbols) != 1:
        return rel
    (s,) = rel.free_symbols
    difference = sympy.expand(rel.lhs - rel.rhs)  # the condition is difference ≥ 0
    if not difference.is_polynomial(s):
        return rel
    poly = sympy.Poly(difference, s)
    if poly.degree() != 1 or not all(c.is_Rational for c in poly.all_coeffs()):
        return rel
    a, b = poly.all_coeffs()
    if a > 0:  # s ≥ ⌈−b/a⌉; every symbol is a positive integer, so s ≥ 1 always holds
        bound = sympy.ceiling(-b / a)
        return sympy.true if bound <= 1 else sympy.Ge(s, bound)
    bound = sympy.floor(b / -a)  # s ≤ ⌊b/(−a)⌋
    return sympy.false if bound < 1 else sympy.Le(s, bound)


def _checked_conditions(arch: Any, given: dict, network: Any, table: Any) -> list:
    """The settled conditions; a condition the bound values break is an error naming the layer."""
    result = conditions(network, table)
    if sympy.false not in result:
        return result
    for keyword, dim, need in size_requirements(network):
        if settle(sympy.Ge(dim, need)) is sympy.false:
            raise _too_small(arch, given, keyword, dim, need)
    raise CnncostError(f"{arch.name}: the values given make its channel counts fractional")


def _too_small(arch: Any, given: dict, keyword: str, dim: Any, need: Any) -> CnncostError:
    """The error for an input too small whatever the free variables: the engine's own message
    (as ``count`` gives it) at the declared defaults, prefixed with the general need when it
    depends on variables still free."""
    defaults = resolve(arch, given)
    try:
        engine.analyze(arch.build(**defaults))
        layer = ""
    except CnncostError as error:
        layer = str(error)
    free = sorted(need.free_symbols, key=str)
    if not free and layer:
        return CnncostError(layer)
    from .printer import relation_text

    at = ", ".join(f"{s} = {defaults[_keyword(s)]}" for s in free)
    names = ", ".join(str(s) for s in free)
    message = (f"{arch.name}: an input {symbol(keyword)} of {dim} is too small for every {names} "
               f"(it needs {relation_text(sympy.Ge(symbol(keyword), need))})")
    return CnncostError(message + (f"; at {at}: {layer}" if layer else ""))


def _keyword(sym: Any) -> str:
    """The builder keyword a design symbol stands for (H -> h)."""
    return next((k for k, v in DISPLAY.items() if v == str(sym)), str(sym))


def _channel_conditions(table: Any) -> list:
    """m/16 filters requires 16 | m: keep the strongest divisibility per numerator."""
    strongest: dict = {}
    for row in table.layers:
        if len(row.output_shape) != 3 and row.type != "Linear":
            continue  # flattened features inherit the channels' condition
        channels = as_expr(row.output_shape[0])
        if channels.is_integer is True:
            continue
        numer, denom = channels.as_numer_denom()
        strongest[numer] = reduce(sympy.ilcm, [strongest.get(numer, 1), int(denom)])
    return [sympy.Eq(sympy.Mod(numer, denom), 0) for numer, denom in strongest.items()]
