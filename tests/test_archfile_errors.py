"""Every class of error in an architecture file: one line ``FILE:LINE: field: problem``, exit code 2.

Each broken file marks the line the error must name with a ``#<`` comment.
"""

from __future__ import annotations

import os
import re
import time

import pytest

from cnncost.archfile import expr as E
from cnncost.archfile import load_arch
from cnncost.archfile.locate import Source
from cnncost.archfile.reserved import SYMPY_NAMES
from cnncost.cli import main
from cnncost.errors import CnncostError

HEAD = """[network]
input = [3, 32, 32]
[symbols]
m = 8
k = 3
"""
CONV = '[[layers]]\ntype = "conv"\nout = "m"\nkernel = "k"\n'

# (id, file text, extra CLI arguments, field named in the error, words the problem must contain)
CASES = [
    ("toml-syntax", HEAD + "x = = 3 #<\n", [], "toml", "Invalid value"),
    ("toml-unclosed", HEAD + "[[layers]]\ntype = [1,\n2 #<", [], "toml", "end of the file"),
    ("unknown-table", "[netwrk] #<\n" + HEAD[9:] + CONV, [], "netwrk", "unknown table"),
    ("no-input", "[network] #<\nname = 'x'\n" + CONV, [], "network", "missing field 'input'"),
    ("input-shape", "[network]\ninput = [3, 32] #<\n" + CONV, [], "network.input",
     "expected [channels, height, width]"),
    ("input-float", "[network]\ninput = [3,\n  32.5, #<\n  32]\n" + CONV, [], "network.input[1]",
     "expected a whole number ≥ 1, got a decimal number (32.5)"),
    ("network-field", "[network]\ninput = [3, 32, 32]\nnme = 'x' #<\n" + CONV, [], "network.nme",
     "unknown field for [network] (did you mean 'name'?)"),
    ("symbol-reserved", HEAD + "H = 3 #<\n" + CONV, [], "symbols.H", "reserved name"),
    ("symbol-sympy", HEAD + "beta = 3 #<\n" + CONV, [], "symbols.beta", "reserved name"),
    ("symbol-digits", HEAD + "m2 = 3 #<\n" + CONV, [], "symbols.m2", "letters only"),
    ("symbol-zero", HEAD + "c = 0 #<\n" + CONV, [], "symbols.c", "0 is out of range (need a whole number ≥ 1)"),
    ("symbol-field", HEAD + "c = { default = 3, mni = 1 } #<\n" + CONV, [], "symbols.c.mni",
     "unknown field for symbol 'c' (did you mean 'min'?)"),
    ("symbol-no-default", HEAD + "c = { min = 2 } #<\n" + CONV, [], "symbols.c", "missing field 'default'"),
    ("symbol-below-min", HEAD + "c = { default = 2, min = 4 } #<\n" + CONV, [], "symbols.c.default",
     "2 is out of range (need a whole number ≥ 4)"),
    ("symbolic-min-zero", HEAD + "c = { default = 2, min = 0 } #<\n" + CONV, [], "symbols.c.min",
     "need a whole number ≥ 1"),
    ("no-layers", "[network] #<\ninput = [3, 32, 32]\n", [], "file", "no [[layers]]"),
    ("layers-not-array", "layers = 3 #<\n" + HEAD, [], "layers",
     "expected an array of layer tables"),
    ("missing-type", HEAD + "[[layers]] #<\nout = 3\n", [], "layers[0]", "missing field 'type'"),
    ("unknown-type", HEAD + CONV + '[[layers]]\ntype = "convv" #<\n', [], "layers[1].type",
     "unknown layer type 'convv' (did you mean 'conv'?)"),
    ("unknown-field", HEAD + CONV + "strid = 2 #<\n", [], "layers[0].strid",
     "unknown field for a conv layer (did you mean 'stride'?)"),
    ("missing-field", HEAD + '[[layers]] #<\ntype = "conv"\nkernel = 3\n', [], "layers[0]",
     "missing field 'out' for a conv layer"),
    ("wrong-type", HEAD + '[[layers]]\ntype = "linear"\nout = 1.5 #<\n', [], "layers[0].out",
     "expected a whole number or an expression string, got a decimal number (1.5)"),
    ("wrong-bool", HEAD + CONV + 'bias = "yes" #<\n', [], "layers[0].bias", "expected true or false"),
    ("unknown-symbol", HEAD + '[[layers]]\ntype = "conv"\nkernel = 3\nout = "2*mm" #<\n', [], "layers[0].out",
     "unknown symbol 'mm' in '2*mm' (did you mean 'm'?) (known here: k, m;"),
    ("syntax", HEAD + '[[layers]]\ntype = "conv"\nkernel = 3\nout = "2*(m" #<\n', [], "layers[0].out",
     "expected ')' at column 5 in '2*(m'"),
    ("bad-character", HEAD + '[[layers]]\ntype = "conv"\nkernel = 3\nout = "m $ 2" #<\n', [], "layers[0].out",
     "unexpected '$' at column 3"),
    ("literal-range", HEAD + '[[layers]]\ntype = "conv"\nkernel = 3\nout = 0 #<\n', [], "layers[0].out",
     "0 is out of range (need a whole number ≥ 1)"),
    ("symbolic-exponent", HEAD + '[[layers]]\ntype = "conv"\nkernel = 3\nout = "2^m" #<\n', [],
     "layers[0].out", "exponent uses 'm'"),
    ("symbolic-times", HEAD + '[[layers]]\ntype = "repeat"\ntimes = "m" #<\nlayers = [{ type = "relu" }]\n',
     [], "layers[0].times", "a repeat count must be known"),
    ("index-is-symbol", HEAD + '[[layers]]\ntype = "repeat"\ntimes = 2\nindex = "m" #<\n'
     'layers = [{ type = "relu" }]\n', [], "layers[0].index", "already a symbol of this file"),
    ("index-shadowed", HEAD + '[[layers]]\ntype = "repeat"\ntimes = 2\nlayers = [\n'
     '  { type = "repeat", times = 2, layers = [{ type = "relu" }] }, #<\n]\n', [], "layers[0].layers[0].index",
     "already an enclosing repeat's index"),
    ("pair-length", HEAD + '[[layers]]\ntype = "conv"\nout = "m"\nkernel = [3, 3, 3] #<\n', [],
     "layers[0].kernel", "expected one value or an array of 2, got 3 values"),
    ("probability", HEAD + CONV + '[[layers]]\ntype = "dropout"\np = 1.5 #<\n', [], "layers[1].p",
     "1.5 is out of range (need 0.0 ≤ value ≤ 1.0)"),
    ("bad-name", HEAD + CONV + 'name = "conv 1" #<\n', [], "layers[0].name", "not a valid layer name"),
    ("torch-name", HEAD + CONV + 'name = "head.eval" #<\n', [], "layers[0].name",
     "'eval' is a torch.nn.Module attribute"),
    ("duplicate-name", HEAD + CONV + 'name = "a"\n' + CONV + 'name = "a" #<\n', [], "layers[1].name",
     "layer name 'a' is already taken by layers[0] (line 10)"),
    ("nested-name", HEAD + CONV + 'name = "a" #<\n' + CONV + 'name = "a.b"\n', [], "layers[0].name",
     "layer 'a' would contain layer 'a.b' (layers[1], line 15)"),
    ("branch-layers", HEAD + '[[layers]]\ntype = "concat"\nbranches = [\n  { name = "x" }, #<\n]\n', [],
     "layers[0].branches[0]", "missing field 'layers' for a branch"),
    ("inline-line", HEAD + '[[layers]]\ntype = "sequence"\nlayers = [\n  { type = "relu" },\n'
     '  { type = "conv", out = "m", kernel = "k", stride = [\n    1,\n    "x", #<\n  ] },\n]\n', [],
     "layers[0].layers[1].stride[1]", "unknown symbol 'x'"),
    ("header-nested", HEAD + '[[layers]]\ntype = "residual"\n[[layers.body]]\ntype = "relu"\n'
     '[[layers.body]]\ntype = "conv"\nkernel = 1\nout = "q" #<\n', [], "layers[0].body[1].out",
     "unknown symbol 'q'"),
    ("after-multiline-string", '[network]\ndescription = """\n[[layers]]\nx = "\n"""\ninput = [3, 32, 32]\n'
     '[[layers]]\ntype = "conv"\nout = 4\nkernel = 1\ngroups = true #<\n', [], "layers[0].groups", "expected a whole number or an expression string, got true/false (true)"),
    # Errors that depend on the values: found when the network is built.
    ("inexact-division", HEAD + '[[layers]]\ntype = "conv"\nkernel = 3\nout = "m/3" #<\n', [],
     "layers[0].out", "8/3 is not a whole number (/ must divide exactly; // rounds down) in 'm/3' (layer conv1)"),
    ("inexact-set", HEAD + '[[layers]]\ntype = "conv"\nkernel = 3\nout = "m/2" #<\n', ["--m", "5"],
     "layers[0].out", "5/2 is not a whole number"),
    ("negative", HEAD + '[[layers]]\ntype = "linear"\nout = "m - 10" #<\n', [], "layers[0].out",
     "'m - 10' is -2 for layer fc1, out of range (need a whole number ≥ 1)"),
    ("division-by-zero", HEAD + '[[layers]]\ntype = "conv"\nkernel = 3\nout = "m // (k - 3)" #<\n', [],
     "layers[0].out", "division by zero"),
    ("repeat-too-long", HEAD + '[[layers]]\ntype = "repeat"\ntimes = 100000 #<\nlayers = [{ type = "relu" }]\n',
     [], "layers[0].times", "100000 is out of range (need 0 to 10000)"),
    # Nested repeats are bounded in the work they expand to, empty bodies included (this hung for minutes).
    ("nested-empty-repeats", HEAD + '[[layers]]\ntype = "repeat"\ntimes = 10000 #<\nlayers = [{ type = "repeat", '
     'index = "j", times = 10000, layers = [\n  { type = "repeat", index = "q", times = 0, layers = [{ type = "relu" '
     '}] },\n] }]\n', [], "layers[0].times", "expand to more than 250,000 layer copies (allowed: at most 250,000"),
    ("nested-empty-branches", HEAD + CONV + '[[layers]]\ntype = "repeat"\ntimes = 10000 #<\nlayers = [{ type = '
     '"repeat", index = "j", times = 10000, layers = [{ type = "concat", branches = [[], []] }] }]\n', [],
     "layers[1].times", "expand to more than 250,000 layer copies"),
    ("nested-too-many-layers", HEAD + '[[layers]]\ntype = "repeat"\ntimes = 400 #<\nlayers = [{ type = "repeat", '
     'index = "j", times = 400, flat = true, layers = [{ type = "relu" }] }]\n', [], "layers[0].times",
     "more than 100,000 layers (allowed: at most 100,000"),
    ("exponent-range", HEAD + 'd = { default = 65, symbolic = false }\n[[layers]]\ntype = "linear"\n'
     'out = "2^d" #<\n', [], "layers[0].out", "exponent 65 is out of range"),
    ("too-small", HEAD + '[[layers]] #<\ntype = "conv"\nout = "m"\nkernel = 5\n', ["--hw", "4"], "layers[0]",
     "conv1 (Conv2d): its 4×4 input is too small for it"),
    ("needs-flatten", HEAD + '[[layers]] #<\ntype = "linear"\nout = 3\n', [], "layers[0]",
     "fc1: Linear expects flat features"),
    ("residual-mismatch", HEAD + '[[layers]] #<\ntype = "residual"\nbody = [{ type = "conv", out = 4, kernel = 1 }]\n',
     [], "layers[0]", "res1: residual branches disagree"),
    ("groups", HEAD + '[[layers]] #<\ntype = "conv"\nout = "m"\nkernel = "k"\ngroups = 2\n', [], "layers[0]",
     "conv1: input channels / groups: 3/2 is not a whole number"),
]


def _expected_line(text: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if "#<" in line)


@pytest.mark.parametrize("text, args, field, words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_error_names_file_line_and_field(tmp_path, capsys, text, args, field, words):
    path = tmp_path / "net.toml"
    path.write_text(text)
    code = main(["count", str(path), *args])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    prefix = f"error: {path}:{_expected_line(text)}: {field}: "
    assert captured.err.startswith(prefix), captured.err
    assert words in captured.err and captured.err.count("\n") == 1, captured.err


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(CnncostError, match=r"nope\.toml: cannot read the architecture file"):
        load_arch(str(tmp_path / "nope.toml"))
    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe")
    with pytest.raises(CnncostError, match=r"bin\.toml: the architecture file is not UTF-8 text \(byte 0\)"):
        load_arch(str(tmp_path / "bin.toml"))


def _hostile(tmp_path, kind: str) -> str:
    """A path that is not an ordinary small architecture file."""
    path = tmp_path / f"{kind}.toml"
    if kind == "fifo":
        os.mkfifo(path)  # no writer: opening it for reading the ordinary way blocks forever
    elif kind == "zero-link":
        path.symlink_to("/dev/zero")  # endless bytes: reading it to the end exhausts memory
    elif kind == "directory":
        path.mkdir()
    elif kind == "huge":
        with open(path, "wb") as file:  # 100 MB, sparse: cheap to make, and refused before reading
            file.truncate(100_000_000)
    return str(path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("kind, words", [("fifo", "cannot read the architecture file (not a regular file: a FIFO)"),
                                         ("zero-link", "(not a regular file: a device)"),
                                         ("directory", "(not a regular file: a directory)"),
                                         ("huge", "the architecture file is too large (100,000,000 bytes; "
                                                  "at most 1,048,576)")])
def test_hostile_files_are_refused_at_once(tmp_path, capsys, kind, words):
    path = _hostile(tmp_path, kind)
    started = time.monotonic()
    code = main(["count", path])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == "" and time.monotonic() - started < 5
    assert captured.err.startswith(f"error: {path}: ") and words in captured.err, captured.err
    assert captured.err.count("\n") == 1


def test_locator_paths():
    text = ('a = 1\n[t]\nx.y = "s # not a comment"\n[[l]]\nk = [\n  1,\n  { p = 2,\n q = [3] },\n]\n'
            "[[l]]\n[[l.body]]\nz = '''\nmulti\n'''\nw = 4\n")
    source = Source("f.toml", text)
    expected = {("a",): 1, ("t",): 2, ("t", "x", "y"): 3, ("l", 0): 4, ("l", 0, "k"): 5, ("l", 0, "k", 0): 6,
                ("l", 0, "k", 1): 7, ("l", 0, "k", 1, "p"): 7, ("l", 0, "k", 1, "q", 0): 8, ("l", 1): 10,
                ("l", 1, "body", 0): 11, ("l", 1, "body", 0, "z"): 12, ("l", 1, "body", 0, "w"): 15}
    assert {path: source.line(path) for path in expected} == expected
    assert source.line(("l", 1, "body", 0, "missing")) == 11


@pytest.mark.parametrize("text, value", [("2*m + 1", 17), ("m*2^i", 32), ("-2^2", -4), ("2^3^2", 512),
                                         ("(k - 1)//2", 1), ("m % 3", 2), ("m / 4 * k", 6), ("--m", 8),
                                         ("2 ** i", 4)])
def test_expressions_evaluate_like_python(text, value):
    assert E.evaluate(E.parse(text), {"m": 8, "k": 3, "i": 2}) == value


@pytest.mark.parametrize("text, message", [("", "unexpected end of expression"), ("m +", "unexpected end"),
                                           ("(" * 60 + "m" + ")" * 60, "nested deeper than 50"),
                                           ("1" * 19, "longer than 18 digits"), ("m)", "unexpected ')'"),
                                           ("m.k", "unexpected '.'"), ("x" * 501, "longer than 500")])
def test_expression_syntax_errors(text, message):
    with pytest.raises(E.ExprError, match=re.escape(message)):
        E.parse(text)


def test_runaway_values_are_refused():
    with pytest.raises(E.ExprError, match="more than 4096 bits"):
        E.evaluate(E.parse("((10^64)^64)^2"), {})


def test_expressions_with_symbols_stay_symbolic():
    sympy = pytest.importorskip("sympy")
    m = sympy.Symbol("m", integer=True, positive=True)
    value = E.evaluate(E.parse("m/2 + (m + 1)//2 + m % 3"), {"m": m})
    assert value == m / 2 + sympy.floor((m + 1) / 2) + sympy.Mod(m, 3)


def test_reserved_names_cover_sympy():
    namespace: dict = {}
    exec("from sympy import *", namespace)  # noqa: S102 (a fixed import statement, no user text)
    names = {n for n in namespace if re.fullmatch("[A-Za-z]+", n)}
    assert names <= SYMPY_NAMES, sorted(names - SYMPY_NAMES)[:10]
