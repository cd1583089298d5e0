"""How a layer is written changes what ptflops counts; the import records it and the counts follow.

ptflops (pytorch backend) hooks modules of exactly its mapped types and patches some
``F.*`` functions and ``torch.add``/``Tensor.add``: an ``nn.ReLU`` counts twice (hook + the
patched F.relu inside it), ``F.relu`` once, ``torch.relu``/``x.relu()`` not at all; an add
written ``torch.add``/``a.add(b)`` counts its output, ``a + b``/``a += b`` do not. fvcore
traces aten ops, so no form matters to it. Every case is checked against the real tools,
on the user's own module, at two input sizes.
"""

import importlib.util
import itertools
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cnncost import archs, engine
from cnncost.cli import main
from cnncost.errors import CnncostError
from zoo import oracles
from zoo.fx_import import network_from_module
from zoo.fx_load import load_factory

DATA = Path(__file__).parent / "data" / "user_modules"
FILE = DATA / "call_forms.py"
SIZES = [(3, 12, 12), (3, 10, 14)]


def forms(**kw):
    return load_factory(str(FILE), "Forms")(**kw).eval()


def assert_tools_agree(module, shape):
    table = engine.analyze(network_from_module(module, "forms", shape))
    with torch.no_grad():
        assert table.output_shape == tuple(module(torch.zeros(1, *shape)).shape[1:])
    assert table.total("ptflops") == oracles.ptflops_macs(module, shape)
    assert table.total("fvcore") == oracles.fvcore_total(module, shape)
    assert table.total("params") == oracles.param_count(module)
    return table


CASES = ([{"relu": f} for f in ("module", "function", "torch", "method", "inplace")]
         + [{"pool": f} for f in ("module", "function")]
         + [{"gap": f} for f in ("module", "function", "avg_size", "max_shape")]
         + [{"add": f} for f in ("operator", "iadd", "torch", "method", "method_")])


@pytest.mark.parametrize("shape", SIZES)
@pytest.mark.parametrize("form", CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_each_idiom_matches_real_ptflops_and_fvcore(form, shape):
    assert_tools_agree(forms(**form), shape)


def test_the_forms_really_differ_in_ptflops():
    """Regression: before the call forms were recorded, all of these printed the module count."""
    shape = SIZES[0]
    relu = {f: oracles.ptflops_macs(forms(relu=f), shape) for f in ("module", "function", "torch")}
    assert relu["module"] > relu["function"] > relu["torch"]
    add = {f: oracles.ptflops_macs(forms(add=f), shape) for f in ("operator", "torch")}
    assert add["torch"] > add["operator"]


@settings(max_examples=8, deadline=None)
@given(st.sampled_from(("module", "function", "torch", "method", "inplace")), st.sampled_from(("module", "function")),
       st.sampled_from(("module", "function", "avg_size", "max_shape")),
       st.sampled_from(("operator", "iadd", "torch", "method", "method_")),
       st.sampled_from(("module", "function", "method")), st.sampled_from(SIZES))
def test_forms_mixed_in_one_network(relu, pool, gap, add, relu2, shape):
    assert_tools_agree(forms(relu=relu, pool=pool, gap=gap, add=add, relu2=relu2), shape)


def test_module_spec_counts_and_formula_follow_the_forms(capsys):
    """The --module path end to end: count at two sizes, and the closed form at a third."""
    spec = f"module:{FILE}:make"
    arch = archs.get(spec)
    module = load_factory(str(FILE), "make")().eval()
    for shape in SIZES + [(3, 17, 11)]:
        table = engine.analyze(arch.build(**archs.resolve(arch, {"h": shape[1], "w": shape[2]})))
        assert table.total("ptflops") == oracles.ptflops_macs(module, shape)
        assert table.total("fvcore") == oracles.fvcore_total(module, shape)
    assert main(["count", spec, "--h", "17", "--w", "11", "--convention", "ptflops"]) == 0
    assert f"{oracles.ptflops_macs(module, (3, 17, 11)):,}" in capsys.readouterr().out
    from cnncost.symbolic import derive

    formula = derive(spec).formulas["ptflops"]
    symbols = {str(s): s for s in formula.free_symbols}
    assert formula.subs({symbols["H"]: 17, symbols["W"]: 11}) == oracles.ptflops_macs(module, (3, 17, 11))


def test_global_pool_from_the_input_size_is_exact():
    """Regression: F.avg_pool2d(x, x.size()[2:]) raised TypeError ('Node' - 'int') in sizes.py."""
    for gap, shape in itertools.product(("avg_size", "max_shape"), SIZES):
        table = assert_tools_agree(forms(gap=gap), shape)
        assert table.output_shape == (5,)


def test_a_square_kernel_from_the_input_is_refused_in_one_line(capsys):
    with pytest.raises(CnncostError, match=r"kernel_size taken from a tensor's size .* \(call_forms.py:\d+\)"):
        archs.get(f"module:{FILE}:SquareKernel")
    assert main(["count", f"module:{FILE}:SquareKernel"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.strip().count("\n") == 0 and "Traceback" not in err


def test_many_unsupported_constructs_fit_one_short_line(capsys):
    """Regression: the refusal listed every node (twelve blocks → thousands of characters)."""
    with pytest.raises(CnncostError) as caught:
        archs.get(f"module:{FILE}:ManyUnsupported")
    message = str(caught.value)
    assert len(message) <= 300
    assert message.count("torch.roll") == 1
    assert "torch.roll at blocks.0 (call_forms.py:" in message
    assert main(["count", f"module:{FILE}:ManyUnsupported"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err) <= 300 + len("error: ") and err.count("\n") == 0


def test_a_long_listing_ends_with_how_many_more():
    from zoo.fx_units import listing

    text = listing("no counting rule for ", [f"torch.op{i} at block{i} (net.py:{i})" for i in range(40)])
    assert len(text) <= 240 and text.startswith("no counting rule for torch.op0 at block0 (net.py:0), ")
    shown = text.count("torch.op")
    assert text.endswith(f" and {40 - shown} more")


@pytest.mark.parametrize("form", CASES + [dict(relu="function", pool="function", gap="avg_size", add="torch",
                                               relu2="method")],
                         ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_verify_rebuilds_each_form_and_every_cell_agrees(form):
    """``verify --module`` rebuilds the description in torch (zoo.from_spec): each layer in the
    form the user wrote it, so ptflops is compared like with like, and a window taken from the
    input's size (WHOLE) runs instead of raising TypeError."""
    from zoo.verify import verify

    result = verify(network_from_module(forms(**form), "forms", SIZES[1]))
    bad = [(row.name, name, cell) for row in result.layers for name, cell in row.cells.items() if not cell.ok]
    assert result.ok, (bad, {k: v for k, v in result.totals.items() if not v.ok})


@pytest.mark.parametrize("subclass", [True, False])
@pytest.mark.parametrize("shape", SIZES)
def test_subclasses_of_conv_linear_and_batchnorm_follow_ptflops(subclass, shape):
    """ptflops hooks modules by exact type and patches neither F.conv2d, F.linear nor F.batch_norm:
    a user's subclass of nn.Conv2d/Linear/BatchNorm2d counts 0 there (it used to be counted in full)."""
    from zoo.verify import verify

    module = load_factory(str(FILE), "Subclassed")(subclass=subclass).eval()
    table = assert_tools_agree(module, shape)
    calls = {row.name: row.ptflops for row in table.layers}
    assert (calls["conv"] == 0 and calls["fc"] == 0 and calls["bn"] == 0) == subclass
    assert verify(network_from_module(module, "subclassed", shape)).ok


class _MadeInForward(torch.nn.Module):
    """``nn.ReLU()(x)`` and ``nn.MaxPool2d(2)(x)`` inside forward: common in student code."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)

    def forward(self, x):
        return torch.nn.MaxPool2d(2)(torch.nn.ReLU()(self.conv(x)))


class _WeightsMadeInForward(torch.nn.Module):
    def forward(self, x):
        return torch.nn.Conv2d(3, 4, 3)(x)


def test_modules_made_inside_forward_count_as_the_tools_see_them():
    from zoo import oracles
    from zoo.fx_import import convert_module

    module = _MadeInForward()
    converted = convert_module(module, "m", (3, 10, 9))
    table = engine.analyze(converted.network(10, 9))
    assert [row.type for row in table.layers] == ["Conv2d", "Activation", "MaxPool2d"]
    assert table.total("ptflops") == oracles.ptflops_macs(module, (3, 10, 9))  # not hooked: counted once
    assert table.total("fvcore") == oracles.fvcore_total(module, (3, 10, 9))
    with pytest.raises(CnncostError, match="a Conv2d with parameters or buffers is created inside forward"):
        convert_module(_WeightsMadeInForward(), "m", (3, 10, 9))


def test_functions_bound_before_ptflops_patches_them_count_as_ptflops_sees_them():
    """Regression: ``from torch.nn.functional import relu``, ``act=F.gelu`` as a default and ``self.pool =
    F.avg_pool2d`` call the originals, which ptflops never sees; the ptflops convention counted them."""
    from zoo.fx_import import convert_module

    bound = DATA / "bound_functions.py"
    spec_ = importlib.util.spec_from_file_location("bound_functions_test", bound)
    module_ = importlib.util.module_from_spec(spec_)
    spec_.loader.exec_module(module_)
    net, shape = module_.Bound(), (3, 12, 10)
    table = engine.analyze(convert_module(net, "m", shape).network(12, 10))
    assert table.total("ptflops") == oracles.ptflops_macs(net, shape)
    assert table.total("fvcore") == oracles.fvcore_total(net, shape)
    calls = {row.name: row.node.call for row in table.layers if hasattr(row.node, "call")}
    assert calls["relu"] == calls["gelu"] == calls["avg_pool2d"] == calls["softmax"] == "bound"
    assert calls["relu_1"] == calls["interpolate_1"] == "function"
    assert main(["verify", "--module", f"{bound}:Bound"]) == 0  # the zoo rebuilds the bound calls alike


class _BothWays(torch.nn.Module):
    def forward(self, x):
        from torch.nn.functional import relu

        return relu(x) + torch.nn.functional.relu(x)


def test_a_function_written_both_ways_on_one_line_is_refused():
    from zoo.fx_import import convert_module

    with pytest.raises(CnncostError, match="written both ways on one line"):
        convert_module(_BothWays(), "m", (3, 4, 4))
