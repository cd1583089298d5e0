"""Every registered architecture, engine vs the instantiated torch module.

Parametrised over the registry: a network is tested the moment it is registered. Every network
is checked on the meta device (torch's numel, forward-hook shapes and FlopCounterMode, no values
computed) at a small non-square size, and its closed form at two more; random design variables are
drawn for the sample covering every family file and node kind (every network with
``python -m tests.test_zoo_registry``); one network of each family file is also run for real
through fvcore and ptflops (``cnncost verify``'s comparison, every layer).
"""

from __future__ import annotations

import pytest
import torch

import cnncost
import zoo
from cnncost import archs
from zoo import oracles

from hypothesis import given, settings
from hypothesis import strategies as st

from .zoo_helpers import config, covering_sample, manifest, meta_build, meta_counts, one_per_family, small_size

NAMES = archs.names()
pytestmark = pytest.mark.usefixtures("one_torch_thread")  # many small forwards: one thread is fastest
TORCHVISION = [n for n in NAMES if archs.get(n).torchvision]


def _sized(name: str) -> dict:
    spec = archs.get(name)
    if spec.param("h") is None:
        return config(name)
    size, step = small_size(name), spec.param("h").multiple
    return config(name, h=size, w=size + (3 if step == 1 else step))  # non-square catches H/W mix-ups


def _agrees_with_torch(name: str, cfg: dict) -> None:
    """Engine = torch for one configuration: params, BN buffers, every leaf's shape, MACs."""
    table = cnncost.count(name, **cfg)
    module = meta_build(name, **cfg)
    assert table.total("params") == oracles.param_count(module)
    assert table.total("buffers") == oracles.batchnorm_buffers(module)
    shapes, macs = meta_counts(module, table.network.input_shape)
    rows = {r.name: tuple(r.output_shape) for r in table.layers if not r.auxiliary}
    assert {k: v for k, v in shapes.items() if k in rows} == {k: v for k, v in rows.items() if k in shapes}
    assert set(shapes) <= {r.name for r in table.layers}
    assert table.total("macs") == macs


@pytest.mark.parametrize("name", NAMES)
def test_engine_matches_torch_module(name):
    _agrees_with_torch(name, _sized(name))  # other sizes: test_random_hyperparameters_match_torch


@pytest.mark.usefixtures("one_torch_thread")
@pytest.mark.parametrize("name", one_per_family())
def test_verify_agrees_with_every_tool(name):
    """cnncost verify's comparison, run for real: numel, shapes, fvcore per layer, ptflops per layer."""
    from zoo.verify import verify

    result = verify(archs.get(name).build(**_sized(name)))
    assert result.ok, [(row.name, c) for row in result.layers for c in row.cells.items() if not c[1].ok][:5]


@pytest.mark.parametrize("name", TORCHVISION)
def test_state_dict_matches_torchvision(name):
    spec = archs.get(name)
    reference = manifest()[spec.torchvision]
    with torch.device("meta"):  # shapes only: no 10⁸ weights initialised
        module = zoo.build(name)  # default hyperparameters: torchvision's model
    got = {k: list(v.shape) for k, v in module.state_dict().items()}
    assert got == reference["state_dict"]
    assert cnncost.count(name).total("params") == reference["num_params"]


@pytest.mark.parametrize("name", NAMES)
def test_training_mode_runs_with_auxiliary_heads(name):
    cfg = _sized(name)
    table = cnncost.count(name, **cfg)
    if not any(r.auxiliary for r in table.layers):
        pytest.skip("no auxiliary heads")
    module = zoo.build(name, **cfg).train()
    out = module(torch.zeros(2, *table.network.input_shape))
    assert isinstance(out, tuple) and out[0].shape[-1] == cfg["classes"]


@pytest.mark.parametrize("name", NAMES)
def test_symbolic_formula_equals_count(name):
    """The closed form in H, W (other hyperparameters at defaults) at two sizes."""
    from cnncost import symbolic
    from cnncost.conventions import totals

    spec = archs.get(name)
    fixed = {p.name: p.default for p in spec.params if p.name not in ("h", "w")}
    derivation = symbolic.derive(name, fixed)
    low, step = small_size(name), spec.param("h").multiple if spec.param("h") else 1
    for h, w in ((low, low + 5), (low + 19, low + 2)) if step == 1 else ((low, low + step), (low + 2 * step, low)):
        numeric = totals(cnncost.count(name, **fixed, h=h, w=w))
        values = {symbolic.symbol("h"): h, symbolic.symbol("w"): w}
        for quantity in ("params", "macs", "mults+adds", "activations"):
            assert derivation.formulas[quantity].xreplace(values) == numeric[quantity], quantity


def test_googlenet_aux_logits_is_torchvision_googlenet_aux():
    reference = manifest()["googlenet_aux"]
    module = zoo.build("googlenet", aux_logits=True)
    assert {k: list(v.shape) for k, v in module.state_dict().items()} == reference["state_dict"]
    table = cnncost.count("googlenet", aux_logits=True)
    assert table.total("params") == reference["num_params"]
    assert table.total("macs") == cnncost.count("googlenet").total("macs")  # aux heads: training only


def test_inception_v3_without_aux_logits_matches_torchvision_count():
    """torchvision's inception_v3(aux_logits=False) has 23,834,568 parameters."""
    assert cnncost.count("inception_v3", aux_logits=False).total("params") == 23_834_568


def test_size_names_never_collide():
    from cnncost import layers as L
    from cnncost import symbolic

    net = L.Network("t", (3, symbolic.symbol("h"), symbolic.symbol("w")),
                    (L.MaxPool2d("a", 2), L.MaxPool2d("b", 3)), {"b": ("H1", "W1")})
    namer = symbolic.SizeNamer(net.size_names)
    cnncost.engine.analyze(net, namer)
    assert len(namer.definitions) == 4 and {"H1", "W1"} <= {str(s) for s in namer.definitions}


@st.composite
def hyperparameters(draw, name: str) -> dict:
    """Random valid hyperparameters of one architecture: its design variables, classes, input size."""
    spec = archs.get(name)
    chosen = {}
    for p in spec.params:
        if p.symbolic and p.name not in ("h", "w"):
            top = 5 if p.name == "k" else min(p.default, 16 if p.name == "m" else 64)
            chosen[p.name] = draw(st.integers(1, max(top, 1)))
    if spec.param("classes"):
        chosen["classes"] = draw(st.integers(1, 20))
    if spec.param("in_channels"):
        chosen["in_channels"] = draw(st.integers(1, 4))
    if spec.param("h") and len(archs.get(name).build(**config(name, **chosen)).input_shape) == 3:
        low, step = small_size(name, **chosen), spec.param("h").multiple
        chosen["h"] = low + step * draw(st.integers(0, 40 // step))
        chosen["w"] = low + step * draw(st.integers(0, 40 // step))
    return config(name, **chosen)


# A meta forward costs 0.1-1 s a network (36 s for the zoo): the suite draws for the covering sample, whose
# networks use every builder and node kind; the full run below draws for every network.
@pytest.mark.parametrize("name", covering_sample())
def test_random_hyperparameters_match_torch(name):
    @settings(max_examples=1)  # each run (with HYPOTHESIS_PROFILE=dev) at new random sizes and design variables
    @given(hyperparameters(name))
    def check(cfg):
        _agrees_with_torch(name, cfg)

    check()



if __name__ == "__main__":  # random design variables for every registered network, outside the suite's budget
    from . import conftest  # noqa: F401  (the suite's Hypothesis profile: no deadline for a slow forward)

    torch.set_num_threads(1)
    for registered in NAMES:
        test_random_hyperparameters_match_torch(registered)
        print("random design agrees:", registered, flush=True)
