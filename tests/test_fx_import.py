"""zoo.fx_import: a user's nn.Module as a cnncost architecture, proved against the module itself.

The proof of a conversion: the zoo module built from the converted description has
exactly the user's state_dict keys and shapes, accepts the user's weights, and then
computes the same outputs. Counts are checked against torch (numel, per-layer
shapes) and fvcore; zoo networks survive a round trip through fx row for row.
"""

import json
import os
import shutil
from pathlib import Path

import pytest
import sympy
import torch

import zoo
from cnncost import archs, engine
from cnncost import layers as L
from cnncost.cli import main
from cnncost.conventions import totals
from cnncost.errors import CnncostError
from zoo import oracles
from cnncost.layers import leaves
from zoo.fx_import import network_from_module
from zoo.fx_load import load_factory

DATA = Path(__file__).parent / "data" / "user_modules"
REPO = Path(__file__).parent.parent

# (file, factory, input C×H×W to test at)
WORKING = [
    ("plain_cnn.py", "make", (3, 32, 32)),
    ("plain_cnn.py", "PlainCNN", (3, 32, 32)),  # a class as the factory
    ("residual.py", "ResNetLike", (3, 40, 36)),
    ("inception.py", "make", (3, 48, 40)),
]


def spec(file: str, factory: str) -> str:
    return f"module:{DATA / file}:{factory}"


def user_module(file: str, factory: str):
    """The user's own module, weights randomised (BatchNorm statistics included), in eval mode."""
    torch.manual_seed(0)
    module = load_factory(str(DATA / file), factory)()
    for m in module.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
            m.weight.data.uniform_(0.5, 1.5)
    return module.eval()


def table_of(file: str, factory: str, shape: tuple):
    arch = archs.get(spec(file, factory))
    return engine.analyze(arch.build(**archs.resolve(arch, {"h": shape[1], "w": shape[2]})))


@pytest.mark.parametrize("file,factory,shape", WORKING)
def test_state_dict_keys_and_shapes_are_the_users(file, factory, shape):
    user = user_module(file, factory)
    converted = zoo.build(spec(file, factory), h=shape[1], w=shape[2])
    assert list(converted.state_dict()) == list(user.state_dict())
    assert {k: v.shape for k, v in converted.state_dict().items()} == {k: v.shape for k, v in
                                                                       user.state_dict().items()}


@pytest.mark.parametrize("file,factory,shape", WORKING)
def test_users_weights_give_the_same_outputs(file, factory, shape):
    user = user_module(file, factory)
    converted = zoo.build(spec(file, factory), h=shape[1], w=shape[2]).eval()
    converted.load_state_dict(user.state_dict(), strict=True)
    x = torch.randn(2, *shape)
    with torch.no_grad():
        assert torch.equal(converted(x), user(x))


@pytest.mark.parametrize("file,factory,shape", WORKING)
def test_counts_match_torch_and_fvcore(file, factory, shape):
    user = user_module(file, factory)
    table = table_of(file, factory, shape)
    t = totals(table)
    assert t["params"] == oracles.param_count(user)
    assert t["buffers"] == oracles.batchnorm_buffers(user)
    assert t["macs"] == oracles.fvcore_macs(user, shape)
    assert t["fvcore"] == oracles.fvcore_total(user, shape)
    shapes = oracles.output_shapes(user, shape)  # module path -> output shape
    compared = [row for row in table.layers if row.name in shapes]
    assert len(compared) >= len([r for r in table.layers if r.params])
    for row in compared:
        assert row.output_shape == shapes[row.name], row.name


def test_ptflops_agrees_where_activations_are_modules():
    """ptflops counts functional F.relu once and nn.ReLU twice, so only the all-module net is compared."""
    user = user_module("plain_cnn.py", "make")
    assert totals(table_of("plain_cnn.py", "make", (3, 32, 32)))["ptflops"] == oracles.ptflops_macs(user, (3, 32, 32))


def test_functional_ops_and_reused_modules_get_their_own_names():
    names = [row.name for row in table_of("residual.py", "ResNetLike", (3, 32, 32)).layers]
    assert "blocks.0.relu" in names and "blocks.0.relu_1" in names  # one ReLU module, called twice
    assert "relu" in names  # F.relu in the root's forward
    assert len(names) == len(set(names))
    net = archs.get(spec("residual.py", "ResNetLike")).build(h=32, w=32)
    residuals = [n for n in net.layers if type(n).__name__ == "Residual"]
    assert [r.name for r in residuals] == [f"blocks.{i}.add" for i in range(6)]  # out += shortcut
    assert [bool(r.shortcut) for r in residuals] == [False, False, True, False, True, False]  # projections


def test_arch_declares_only_the_input_size_with_the_factorys_default():
    arch = archs.get(spec("inception.py", "make"))
    assert [(p.name, p.default, p.symbolic) for p in arch.params] == [("h", 48, True), ("w", 40, True)]
    assert arch.build(h=48, w=40).input_shape == (3, 48, 40)  # channels from the first conv
    assert arch.name == spec("inception.py", "make") and arch.fingerprint
    assert archs.get(spec("residual.py", "ResNetLike")).param("h").default == 224  # no input_size: 224


def test_formula_is_symbolic_in_h_and_w_and_exact(capsys):
    assert main(["formula", spec("residual.py", "ResNetLike"), "--json", "--no-cache"]) == 0
    doc = json.loads(capsys.readouterr().out)
    H, W = sympy.Symbol("H", integer=True, positive=True), sympy.Symbol("W", integer=True, positive=True)
    macs = sympy.sympify(doc["formulas"]["macs"], locals={"H": H, "W": W})
    assert macs.free_symbols == {H, W}
    for h, w in ((32, 32), (40, 36), (57, 33)):
        table = table_of("residual.py", "ResNetLike", (3, h, w))
        assert macs.subs({H: h, W: w}) == table.total("macs")
    assert sympy.sympify(doc["formulas"]["params"]) == table.total("params")


def test_dotted_form_imports_from_the_current_directory(monkeypatch):
    monkeypatch.chdir(REPO)
    dotted = archs.get("module:tests.data.user_modules.plain_cnn:make")
    by_path = archs.get(spec("plain_cnn.py", "make"))
    assert engine.analyze(dotted.build(h=32, w=32)).total("params") == \
        engine.analyze(by_path.build(h=32, w=32)).total("params") == 136_938


def test_a_changed_source_is_never_served_from_the_cache(tmp_path):
    copy = tmp_path / "net.py"
    shutil.copy(DATA / "plain_cnn.py", copy)
    first = archs.get(f"module:{copy}:make")
    copy.write_text(copy.read_text().replace("nn.Linear(64, classes)", "nn.Linear(64, 3)"))
    second = archs.get(f"module:{copy}:make")
    assert first.fingerprint != second.fingerprint
    params = [engine.analyze(a.build(h=32, w=32)).total("params") for a in (first, second)]
    assert params[0] - params[1] == 7 * 65


def test_a_size_the_linear_layers_do_not_fit_is_an_error(capsys):
    assert main(["count", spec("plain_cnn.py", "make"), "--hw", "64"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "fc1 (Linear) was built for 2,048 input features, but a 3×64×64 input gives it 8,192" in err


REFUSED = [
    ("unsupported.py", "WithNorms", ["no counting rule", "RMSNorm at norm (unsupported.py:19)",
                                     "torch.matmul at forward (unsupported.py:20)"]),
    ("unsupported.py", "WithLSTM", ["LSTM at lstm", "Tensor.transpose", "only a flatten from dim 1"]),
    ("unsupported.py", "SharedWeights", ["weights shared", "conv (Conv2d, 2 calls)"]),
    ("unsupported.py", "ViewConstant", ["Tensor.view to (-1, 512)"]),
    ("unsupported.py", "TwoOutputs", ["returns a tuple"]),
    ("unsupported.py", "UnusedHead", ["uncounted", "spare (Linear)"]),
    ("unsupported.py", "not_a_module", ["returned an object of type int"]),
    ("unsupported.py", "missing", ["has no attribute 'missing' (it defines: ", "WithLSTM", "not_a_module"]),
    ("bridge.py", "Bridge", ["not series-parallel", "conv_a (Conv2d)"]),
]


@pytest.mark.parametrize("file,factory,fragments", REFUSED)
def test_what_cannot_be_counted_is_named_in_one_line(file, factory, fragments, capsys):
    with pytest.raises(CnncostError) as caught:
        archs.get(spec(file, factory))
    for fragment in fragments:
        assert fragment in str(caught.value)
    assert main(["formula", spec(file, factory)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.strip().count("\n") == 0


@pytest.mark.parametrize("bad", ["module:no_such_file.py:make", f"module:{DATA / 'plain_cnn.py'}",
                                 "module:no_such_package_xyz.net:make"])
def test_bad_specs_are_one_line_errors(bad):
    with pytest.raises(CnncostError):
        archs.get(bad)


# A module's code ending the process, or failing, is one line naming the user's file and line, exit 2.
MISBEHAVING = [
    ("exits_on_import.py", "make", 5, "the module called sys.exit(0) while being imported"),
    ("raises_on_import.py", "make", 5, "importing {path} failed: KeyError: 'missing setting'"),
    ("misbehaving.py", "exits", 10, "the module called sys.exit('bye') while being built"),
    ("misbehaving.py", "generator_exit", 15, "calling generator_exit() failed: GeneratorExit"),
    ("misbehaving.py", "deep_error", 19, "calling deep_error() failed: ValueError: in_channels must be divisible by groups"),
    ("misbehaving.py", "ExitsInForward", 35, "the module called sys.exit(4) while being traced"),
]


@pytest.mark.parametrize("file,factory,line,words", MISBEHAVING)
def test_misbehaving_user_code_is_one_line_naming_its_line(file, factory, line, words, capsys):
    path = DATA / file
    assert main(["count", spec(file, factory)]) == 2  # never SystemExit: that would end cnncost with its code
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1, captured.err
    assert captured.err.startswith(f"error: {path}:{line}: " + words.format(path=path)), captured.err


def test_syntax_errors_name_the_users_line(tmp_path, capsys):
    path = tmp_path / "broken.py"
    path.write_text("from torch import nn\n\n\ndef make(:\n    return nn.ReLU()\n")
    assert main(["count", f"module:{path}:make"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}:4: importing {path} failed: SyntaxError: ") and err.count("\n") == 1, err


def test_a_dotted_package_exiting_on_import_is_caught(tmp_path, monkeypatch, capsys):
    (tmp_path / "exitpkg").mkdir()
    (tmp_path / "exitpkg" / "__init__.py").write_text("import sys\nsys.exit(3)\n")
    (tmp_path / "exitpkg" / "net.py").write_text("")
    monkeypatch.chdir(tmp_path)
    assert main(["count", "module:exitpkg.net:make"]) == 2
    err = capsys.readouterr().err
    assert err == (f"error: {tmp_path / 'exitpkg' / '__init__.py'}:2: the module called sys.exit(3) while being "
                   "imported; a module cnncost imports must not exit\n")


@pytest.mark.parametrize("kind", ["fifo", "directory"])
def test_a_module_path_that_is_no_file_is_refused_at_once(tmp_path, kind, capsys):
    path = tmp_path / "net.py"
    os.mkfifo(path) if kind == "fifo" else path.mkdir()  # a FIFO would block the import forever
    assert main(["count", f"module:{path}:make"]) == 2
    what = "a FIFO" if kind == "fifo" else "a directory"
    assert capsys.readouterr().err == f"error: {path}: cannot read the module file (not a regular file: {what})\n"


# --- round trip: zoo networks (real nn.Modules) through fx give back their own description ---

ROUND_TRIP = [("scratch5", {}), ("smallcnn_res", {}), ("smallcnn_inception", {}), ("mlp3", {}),
              ("resnet18", {}), ("googlenet", {"aux_logits": False}), ("mobilenet_v2", {}),
              ("inception_v3", {"aux_logits": False})]
FIELDS = ("name", "type", "input_shape", "output_shape", "params", "buffers", "macs", "mults", "adds",
          "activations", "fvcore", "ptflops", "auxiliary")


def _rows(network) -> list:
    return [tuple(getattr(r, f) for f in FIELDS) for r in engine.analyze(network).layers]


@pytest.mark.parametrize("name,config", ROUND_TRIP)
def test_zoo_networks_round_trip_row_for_row(name, config):
    spec_ = archs.get(name)
    original = spec_.build(**archs.resolve(spec_, config))
    with torch.device("meta"):  # weights are never read: tracing only
        module = zoo.to_module(original)
    converted = network_from_module(module, name)  # default size: the module's input_shape
    assert converted.input_shape == original.input_shape
    assert _rows(converted) == _rows(original)


def test_auxiliary_heads_convert_as_training_only_heads():
    """Traced in eval mode, GoogLeNet's training-only heads never run; traced again in training mode they
    are found and placed where they read the main path: parameters counted, no inference cost."""
    spec_ = archs.get("googlenet")
    network = spec_.build(**archs.resolve(spec_, {"aux_logits": True, "h": 96, "w": 96}))
    module = zoo.to_module(network)
    converted = network_from_module(module, "googlenet", (3, 96, 96))
    heads = [n for n in L.leaves(converted.layers, auxiliary=True) if n not in L.leaves(converted.layers, False)]
    assert {leaf.name.split(".")[0] for leaf in heads} == {"aux1", "aux2"}
    original, found = engine.analyze(network), engine.analyze(converted)
    for quantity in ("params", "buffers", "macs", "fvcore", "ptflops"):
        assert found.total(quantity) == original.total(quantity), quantity
    assert found.total("params") == sum(p.numel() for p in module.parameters())
    assert not module.training  # left in eval mode, as the user's code expects after conversion


class _Conv(torch.nn.Conv2d):
    """A subclass keeping Conv2d's forward: converts as a Conv2d."""


class _Functional(torch.nn.Module):
    """The functional spellings: pools, pad, in-forward adds, a view flatten, a no-op, a subclassed conv."""

    def __init__(self):
        super().__init__()
        self.conv = _Conv(3, 8, 3, padding="same")
        self.conv2 = torch.nn.Conv2d(8, 8, 3, groups=2, bias=False)
        self.fc = torch.nn.Linear(8 * 3 * 3, 4)

    def forward(self, x):
        F = torch.nn.functional
        x = F.max_pool2d(F.silu(self.conv(x)), 2, stride=2, ceil_mode=True)
        y = self.conv2(F.pad(x, (1, 1, 1, 1)))
        x = torch.add(torch.sigmoid(y), x).contiguous()
        x = x.add(F.avg_pool2d(x, 3, stride=1, padding=1))
        x = F.adaptive_avg_pool2d(x.relu(), (3, 3))
        return self.fc(F.dropout(x.reshape(x.shape[0], -1), 0.1, self.training))


def test_functional_spellings_convert_and_compute_the_same():
    torch.manual_seed(0)
    user = _Functional().eval()
    network = network_from_module(user, "functional", (3, 17, 15))
    kinds = {type(n).__name__ for n in network.layers + tuple(leaves(network.layers))}
    assert {"Residual", "Conv2d", "Activation", "MaxPool2d", "ZeroPad2d", "AdaptiveAvgPool2d", "Flatten", "Dropout"} <= kinds
    converted = zoo.to_module(network).eval()
    converted.load_state_dict(user.state_dict(), strict=True)
    x = torch.randn(2, 3, 17, 15)
    with torch.no_grad():
        assert torch.equal(converted(x), user(x))
    assert engine.analyze(network).total("params") == oracles.param_count(user)


def test_untraceable_control_flow_is_reported():
    with pytest.raises(CnncostError, match=r"torch\.fx cannot trace DataDependent\(\)"):
        archs.get(spec("unsupported.py", "DataDependent"))


def test_count_header_shows_the_modules_own_channels(tmp_path, capsys):
    """A converted module declares no in_channels: the header reads the network's input shape."""
    from cnncost.cli import main

    source = tmp_path / "gray.py"
    source.write_text("from torch import nn\n\n\ndef make():\n"
                      "    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 26 * 26, 10))\n\n\n"
                      "make.input_size = (1, 28, 28)\n")
    assert main(["count", "--module", f"{source}:make"]) == 0
    assert "input 1×28×28" in capsys.readouterr().out.splitlines()[0]
