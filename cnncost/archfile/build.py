"""A validated architecture file, built into a ``layers.Network`` for given symbol values.

Values are Python ints on the numeric path and sympy symbols on the symbolic
one; the same walk serves both. Unnamed layers get names from their type and a
counter in their scope (``conv1``, ``block2.conv1``, ``res1.shortcut.conv1``),
so every name is a valid torch module path; names are checked to be unique and
never nested inside another layer's path, because the zoo registers a module at
each. On the numeric path the engine runs once here, so an invalid
configuration is reported at the file line of the layer where it fails.
"""

from __future__ import annotations

import re
from typing import Any

from .. import engine
from .. import layers as L
from ..errors import CnncostError
from ..kinds import ARCHFILE_TYPES
from . import expr as E
from .locate import Source, show_path
from .schema import MAX_REPEAT, Expr, Layer

MAX_LAYERS = 100_000  # leaf layers in one network; more is surely a runaway repeat
# Layer tables visited in one build, each repeat copy counted: nested repeats whose bodies add
# no leaves (times = 0 inside, empty concat branches) would otherwise loop for minutes unseen.
MAX_EXPANDED = 250_000  # 2.5 × MAX_LAYERS: room for the containers around the most leaves allowed
BASE = {**{name: t.base for name, t in ARCHFILE_TYPES.items()},  # stems of generated names: conv1, fc2, ...
        "residual": "res", "concat": "concat", "sequence": "seq", "repeat": "block"}
_ENGINE_NAME = re.compile(r"([^\s:]+)(?: \(\w+\))?:")  # "conv5 (Conv2d): ..." or "res1: ..."


def build_network(source: Source, name: str, layers: tuple, h: Any, w: Any, in_channels: int = 3,
                  **symbols: Any) -> L.Network:
    """The network for these input sizes and symbol values (ints or sympy symbols)."""
    builder = _Builder(source, dict(symbols))
    nodes, _ = builder.sequence(layers, _Scope("", layers), 3)
    builder.check_nesting()
    network = L.Network(name, (in_channels, h, w), tuple(nodes))
    if all(type(value) is int for value in (h, w, in_channels, *symbols.values())):
        builder.precheck(network)
    return network


class _Scope:
    """Names inside one container: generated ones skip the names written in the file."""

    def __init__(self, prefix: str, layers: tuple):
        self.prefix = prefix
        self.counts: dict = {}
        self.taken = set()
        for layer in _spliced(layers):
            if layer.name:
                self.taken.add(layer.name.split(".")[0])

    def named(self, layer: Layer, base: str) -> str:
        """The layer's full name: as written, or ``base`` + the next free number."""
        if layer.name:
            return self.prefix + layer.name
        while True:
            self.counts[base] = self.counts.get(base, 0) + 1
            candidate = f"{base}{self.counts[base]}"
            if candidate not in self.taken:
                self.taken.add(candidate)
                return self.prefix + candidate


def _spliced(layers: tuple):
    """The layers whose names live in this scope: flat repeats add theirs to it."""
    for layer in layers:
        yield layer
        if layer.type == "repeat" and layer.fields["flat"]:
            yield from _spliced(layer.fields["layers"])


class _Builder:
    """One build: the symbol values, and every name made so far."""

    def __init__(self, source: Source, env: dict):
        self.source, self.env = source, env
        self.leaves: dict = {}  # leaf name -> data path of its name field (or of its table if unnamed)
        self.where: dict = {}  # any node name -> data path, to place the engine's errors
        self.expanded = 0  # layer tables and repeat copies visited so far (bounded by MAX_EXPANDED)
        self.repeats: list = []  # the repeats being expanded, outermost first

    def sequence(self, layers: tuple, scope: _Scope, rank: int) -> tuple:
        """The nodes of a layer list and the rank (3: C×H×W, 1: flat) after it."""
        nodes = []
        for layer in layers:
            made, rank = self.layer(layer, scope, rank)
            nodes += made
        return nodes, rank

    def layer(self, layer: Layer, scope: _Scope, rank: int) -> tuple:
        """One layer table as a list of nodes (a repeat gives several)."""
        self.spend(layer)
        if layer.type == "repeat":
            return self.repeat(layer, scope, rank)
        name = scope.named(layer, BASE.get(layer.type, "act"))
        self.where[name] = layer.path
        f = layer.fields
        if layer.type == "residual":
            inner = _Scope(name + ".", f["body"] + f["after"])
            body, out = self.sequence(f["body"], inner, rank)
            shortcut, _ = self.sequence(f["shortcut"], _Scope(name + ".shortcut.", f["shortcut"]), rank)
            after, out = self.sequence(f["after"], inner, out)
            return [L.Residual(name, tuple(body), tuple(shortcut), tuple(after))], out
        if layer.type == "concat":
            return self.concat(layer, name, rank)
        if layer.type == "sequence":
            children, out = self.sequence(f["layers"], _Scope(name + ".", f["layers"]), rank)
            return [L.Sequential(name, tuple(children))], out
        self.leaf_name(name, layer)
        node = self.leaf(layer, name, rank)
        return [node], len(ARCHFILE_TYPES[layer.type].rank(node, (None,) * rank))

    def repeat(self, layer: Layer, scope: _Scope, rank: int) -> tuple:
        """``times`` copies of the body, the index bound to 0, 1, ...; scoped unless ``flat``."""
        f = layer.fields
        times = self.value(f["times"], layer.name or "repeat")
        if type(times) is not int or times > MAX_REPEAT:
            raise self.source.error(f["times"].path, f"{times} is out of range (need 0 to {MAX_REPEAT})")
        nodes = []
        self.repeats.append(layer)
        for i in range(times):
            self.spend(layer)
            self.env[f["index"]] = i
            if f["flat"]:
                made, rank = self.sequence(f["layers"], scope, rank)
                nodes += made
                continue
            name = scope.named(layer._replace(name=None), layer.name or BASE["repeat"])
            self.where[name] = layer.path
            made, rank = self.sequence(f["layers"], _Scope(name + ".", f["layers"]), rank)
            nodes.append(L.Sequential(name, tuple(made)))
        self.repeats.pop()
        self.env.pop(f["index"], None)  # no binding at all when times = 0
        return nodes, rank

    def spend(self, layer: Layer) -> None:
        """Count one unit of expansion; past the limit, blame the outermost repeat being expanded."""
        self.expanded += 1
        if self.expanded > MAX_EXPANDED:
            culprit = self.repeats[0] if self.repeats else layer
            at = culprit.fields["times"].path if culprit.type == "repeat" else culprit.path
            raise self.source.error(at, f"the repeats expand to more than {MAX_EXPANDED:,} layer copies "
                                        f"(allowed: at most {MAX_EXPANDED:,} in one network, each repeat's "
                                        "copies counted even when empty; check the repeat counts)")

    def concat(self, layer: Layer, name: str, rank: int) -> tuple:
        """Branches side by side, each in its own scope (``branch1`` unless named)."""
        branches, out = [], rank
        for i, branch in enumerate(layer.fields["branches"]):
            prefix = f"{name}.{branch.name or f'branch{i + 1}'}."
            made, out = self.sequence(branch.layers, _Scope(prefix, branch.layers), rank)
            branches.append(tuple(made))
        return [L.Concat(name, tuple(branches))], out

    def leaf_name(self, name: str, layer: Layer) -> None:
        """Record a leaf's name; two layers may not share one."""
        at = layer.path + ("name",) if layer.name else layer.path  # point at the name where one is written
        if name in self.leaves:
            other = self.leaves[name]
            raise self.source.error(at, f"layer name {name!r} is already taken by {show_path(_table(other))} "
                                        f"(line {self.source.line(other)}); give one of them another name")
        if len(self.leaves) >= MAX_LAYERS:
            at = self.repeats[0].fields["times"].path if self.repeats else layer.path
            raise self.source.error(at, f"the network has more than {MAX_LAYERS:,} layers (allowed: at most "
                                        f"{MAX_LAYERS:,}; check the repeat counts)")
        self.leaves[name] = at

    def check_nesting(self) -> None:
        """No layer's name may be a path prefix of another's (torch would nest one module in the other)."""
        for name, at in self.leaves.items():
            parts = name.split(".")
            for end in range(1, len(parts)):
                outer = ".".join(parts[:end])
                if outer in self.leaves:
                    raise self.source.error(self.leaves[outer], f"layer {outer!r} would contain layer {name!r} "
                                            f"({show_path(_table(at))}, line {self.source.line(at)}) as a "
                                            "torch submodule; rename one of them")

    def leaf(self, layer: Layer, name: str, rank: int) -> Any:
        """The engine node of a leaf layer, its expressions evaluated."""
        f = {key: self.field(value, name) for key, value in layer.fields.items()}
        try:
            return ARCHFILE_TYPES[layer.type].make(name, f, rank)
        except CnncostError as error:  # a kind refusing this place in the file (a linear before a flatten)
            raise self.source.error(layer.path, str(error)) from None

    def field(self, value: Any, name: str) -> Any:
        """A field's value: expressions evaluated, everything else as validated."""
        if isinstance(value, Expr):
            return self.value(value, name)
        if isinstance(value, tuple) and value and isinstance(value[0], Expr):
            return tuple(self.value(item, name) for item in value)
        return value

    def value(self, expr: Expr, name: str) -> Any:
        """One expression evaluated; a known value below its minimum is an error."""
        try:
            result = E.evaluate(expr.tree, self.env)
        except E.ExprError as error:
            raise self.source.error(expr.path, f"{error} in {expr.text!r} (layer {name})") from None
        if type(result) is int and result < expr.minimum:
            raise self.source.error(expr.path, f"{expr.text!r} is {result} for layer {name}, out of range "
                                               f"(need a whole number ≥ {expr.minimum})")
        return result

    def precheck(self, network: L.Network) -> None:
        """Run the engine once; its error, if any, gets the line of the layer it names."""
        try:
            engine.analyze(network)
        except CnncostError as error:
            match = _ENGINE_NAME.match(str(error))
            if match and match.group(1) in self.where:
                raise self.source.error(self.where[match.group(1)], str(error)) from None
            raise



def _table(at: tuple) -> tuple:
    """The layer table's path, from the path of its name field or of the table itself."""
    return at[:-1] if at[-1] == "name" else at
