"""Fine-tuning strategies on the description: blocks, head, classifier, trainable counts.

The references are hand-derived from torchvision's module layouts (which
module paths a "last K conv layers / residual blocks / inception blocks"
strategy must unfreeze) and the reports' own wording (report 001: "unfreeze
the last n convolutional layers and the entire classifier module").
"""

import pytest

from cnncost import archs, engine, finetune
from cnncost.errors import CnncostError


def network(name, **given):
    arch = archs.get(name)
    return arch.build(**archs.resolve(arch, given))


@pytest.mark.parametrize("text, expected", [
    ("scratch", ("scratch", 0)), ("last-layer", ("last-layer", 0)), ("full", ("full", 0)),
    ("partial:3", ("partial", 3)), (" partial:12 ", ("partial", 12)),
])
def test_parse_strategy(text, expected):
    assert tuple(finetune.parse_strategy(text)) == expected


@pytest.mark.parametrize("text", ["", "partial", "partial:0", "partial:-1", "partial:x", "last", "Full"])
def test_parse_strategy_rejects(text):
    with pytest.raises(CnncostError, match="^strategy: .*scratch, last-layer, head, partial:K, full"):
        finetune.parse_strategy(text)


# name, K, the leaf layers partial:K must train (torchvision paths), by hand from the layouts.
PARTIAL = [
    ("scratch5", 2, {"conv4", "conv5", "fc1", "fc2"}),
    ("vgg11", 1, {"features.18", "classifier.0", "classifier.3", "classifier.6"}),
    ("vgg11_bn", 2, {"features.22", "features.23", "features.25", "features.26",
                     "classifier.0", "classifier.3", "classifier.6"}),
    ("alexnet", 1, {"features.10", "classifier.1", "classifier.4", "classifier.6"}),
    ("resnet18", 1, {"layer4.1.conv1", "layer4.1.bn1", "layer4.1.conv2", "layer4.1.bn2", "fc"}),
    ("mobilenet_v2", 1, {"features.18.0", "features.18.1", "classifier.1"}),
]


@pytest.mark.parametrize("name, k, expected", PARTIAL)
def test_partial_trains_the_last_blocks_and_the_head(name, k, expected):
    net = network(name)
    assert finetune.trainable_layers(net, finetune.Strategy("partial", k)) == expected


def test_resnet_blocks_are_residual_blocks():
    names = [b.name for b in finetune.blocks(network("resnet50"))]
    assert names[0] == "conv1" and names[1:4] == ["layer1.0", "layer1.1", "layer1.2"]
    assert len(names) == 1 + 3 + 4 + 6 + 3 and names[-1] == "layer4.2"


def test_inception_blocks_are_the_mixed_blocks():
    names = [b.name for b in finetune.blocks(network("inception_v3"))]
    assert names[-11:] == ["Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c",
                           "Mixed_6d", "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c"]
    googlenet = [b.name for b in finetune.blocks(network("googlenet"))]
    assert googlenet[:3] == ["conv1", "conv2", "conv3"] and googlenet[-1] == "inception5b"


@pytest.mark.parametrize("name", archs.names())
def test_strategies_partition_the_parameters(name):
    """Every strategy splits the parameters into trainable + frozen = all, and nests as expected."""
    net = network(name)
    table = engine.analyze(net)
    total = sum(row.params for row in table.layers if not row.auxiliary)
    counts = {}
    strategies = [finetune.Strategy("last-layer"), finetune.Strategy("full")]
    blocks = finetune.blocks(net)
    strategies += [finetune.Strategy("partial", k) for k in range(1, len(blocks) + 1)]
    for strategy in strategies:
        train, frozen = finetune.trainable_params(table, finetune.trainable_layers(net, strategy))
        assert train + frozen == total
        counts[str(strategy)] = train
    assert counts["full"] == total
    top = finetune.classifier(net)  # once: it walks the whole description (a call per row took half the time)
    classifier = next(row for row in table.layers if row.name == top)
    assert counts["last-layer"] == classifier.params
    partial = [counts[f"partial:{k}"] for k in range(1, len(blocks) + 1)]
    assert partial == sorted(partial) and all(a < b for a, b in zip(partial, partial[1:]))


def test_partial_out_of_range_is_one_line():
    with pytest.raises(CnncostError, match=r"partial:6 is out of range for scratch5 \(need 1 ≤ K ≤ 5"):
        finetune.trainable_layers(network("scratch5"), finetune.Strategy("partial", 6))
    with pytest.raises(CnncostError, match="mlp3 has no conv blocks"):
        finetune.trainable_layers(network("mlp3"), finetune.Strategy("partial", 1))


def test_trainable_counts_in_closed_form():
    """The trainable count is a formula too, and each strategy's is the hand-derived one.

    scratch5 (valid padding): conv5 has k²m² + m parameters, fc1 has n·(m·P5·Q5) + n,
    fc2 (10 classes) 10n + 10.
    """
    import sympy

    from cnncost import symbolic

    derivation = symbolic.derive("scratch5", {"classes": 10})
    table, net = derivation.table, derivation.table.network
    m, k, n = (symbolic.symbol(s) for s in "mkn")
    p5, q5 = (next(s for s in derivation.sizes if str(s) == name) for name in ("P5", "Q5"))

    def trainable(strategy):
        return finetune.trainable_params(table, finetune.trainable_layers(net, finetune.parse_strategy(strategy)))

    fc2, fc1, conv5 = 10 * n + 10, n * m * p5 * q5 + n, k**2 * m**2 + m
    assert sympy.expand(trainable("last-layer")[0] - fc2) == 0
    assert sympy.expand(trainable("partial:1")[0] - (fc2 + fc1 + conv5)) == 0
    train, frozen = trainable("partial:1")
    assert sympy.expand(train + frozen - derivation.compact["params"]) == 0


def test_formula_strategy_option_prints_the_split(capsys):
    """`cnncost formula --strategy`: the same closed forms, in text, JSON and LaTeX."""
    import json

    import sympy

    from cnncost.cli import main

    assert main(["formula", "scratch5", "--strategy", "last-layer", "--json", "--no-cache"]) == 0
    formulas = json.loads(capsys.readouterr().out)["formulas"]
    n = sympy.Symbol("n", integer=True, positive=True)
    assert sympy.expand(sympy.sympify(formulas["trainable"], locals={"n": n}) - (10 * n + 10)) == 0
    params = sympy.sympify(formulas["params"])
    assert sympy.expand(params - sympy.sympify(formulas["trainable"]) - sympy.sympify(formulas["frozen"])) == 0
    assert main(["formula", "scratch5", "--strategy", "partial:2", "--no-cache"]) == 0
    assert "trainable params [trainable: parameters that train under --strategy partial:2" in capsys.readouterr().out
    assert main(["formula", "scratch5", "--strategy", "full", "--latex", "--no-cache"]) == 0
    assert r"\mathrm{trainable\ params}" in capsys.readouterr().out
    assert main(["formula", "scratch5", "--strategy", "some"]) == 2


def test_every_kind_holding_parameters_trains_and_freezes_with_its_block():
    """Regression: only Conv2d, Linear and BatchNorm were 'parametrised', so a GroupNorm, PReLU, LayerNorm or
    layer scale counted as frozen even under --strategy full."""
    from cnncost import engine
    from cnncost import layers as L
    from cnncost.finetune import Strategy, trainable_layers, trainable_params

    network = L.Network("t", (3, 8, 8), (
        L.Conv2d("conv", 4, 3, padding=1), L.GroupNorm("gn", 2), L.PReLU("act", per_channel=True),
        L.Scale("scale", "mul", (4, 1, 1)), L.Flatten("flat"), L.LayerNorm("ln", (256,)),
        L.Linear("fc", 5)))
    table = engine.analyze(network)
    trained, frozen = trainable_params(table, trainable_layers(network, Strategy("full")))
    assert (trained, frozen) == (table.total("params"), 0)
    trained, frozen = trainable_params(table, trainable_layers(network, Strategy("last-layer")))
    assert trained == 256 * 5 + 5 and frozen == table.total("params") - trained
