"""Classifier tops: --include-top/--no-include-top and --head keep|gap|flatten with --classes.

The reference for a replaced head is a torch module assembled in the test: the zoo network
without its top, then torch's own pool/flatten/Linear layers.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import cnncost
import zoo
from cnncost.cli import main

NETS = ("resnet18", "vgg11", "mobilenet_v2", "googlenet", "scratch5", "smallcnn_res")


def _macs(module: nn.Module, shape: tuple) -> int:
    with FlopCounterMode(display=False) as counter:
        module.eval()(torch.zeros(1, *shape))
    return counter.get_total_flops() // 2


def _reference(name: str, head: str, classes: int, size: int) -> nn.Module:
    """The zoo network without its top, followed by a head written here in plain torch."""
    with torch.device("meta"):
        body = zoo.build(name, h=size, w=size + 4, include_top=False)
    body = body.to_empty(device="cpu")
    channels = body(torch.zeros(1, *body.input_shape)).shape[1:]
    pool = [nn.AdaptiveAvgPool2d(1)] if head == "gap" else []
    features = channels[0] if head == "gap" else channels.numel()
    return nn.Sequential(body, *pool, nn.Flatten(), nn.Linear(features, classes))


@pytest.mark.parametrize("head", ["gap", "flatten"])
@pytest.mark.parametrize("name", NETS)
def test_a_replaced_head_counts_as_the_module_assembled_in_torch(name, head):
    size = 96 if name != "scratch5" else 100
    table = cnncost.count(name, h=size, w=size + 4, head=head, classes=7)
    reference = _reference(name, head, 7, size)
    assert table.total("params") == sum(p.numel() for p in reference.parameters())
    assert table.total("macs") == _macs(reference, table.network.input_shape)
    module = zoo.build(name, h=size, w=size + 4, head=head, classes=7)
    assert sum(p.numel() for p in module.parameters()) == table.total("params")
    assert module.eval()(torch.zeros(2, *table.network.input_shape)).shape == (2, 7)


@pytest.mark.parametrize("name", NETS)
def test_without_the_top_the_network_ends_at_its_last_feature_map(name):
    table = cnncost.count(name, h=100, w=100, include_top=False)
    module = zoo.build(name, h=100, w=100, include_top=False).eval()
    out = module(torch.zeros(1, *table.network.input_shape))
    assert out.dim() == 4 and tuple(out.shape[1:]) == tuple(table.output_shape)
    assert not any(r.type == "Linear" for r in table.layers if not r.auxiliary)


def test_the_closed_form_with_a_new_head_equals_the_count():
    from cnncost import symbolic
    from cnncost.conventions import totals

    derivation = symbolic.derive("resnet18", {"head": "flatten", "classes": 8, "in_channels": 3, "include_top": True})
    for h, w in ((64, 71), (97, 130)):
        numeric = totals(cnncost.count("resnet18", h=h, w=w, head="flatten", classes=8))
        values = {symbolic.symbol("h"): h, symbolic.symbol("w"): w}
        for quantity in ("params", "macs"):
            assert derivation.formulas[quantity].xreplace(values) == numeric[quantity]


def test_a_network_without_a_declared_top_refuses_in_one_line(capsys):
    assert main(["count", "mlp3", "--head", "gap"]) == 2
    err = capsys.readouterr().err
    assert err == "error: --head: mlp3 declares no classifier top to replace or remove\n"


def test_an_unknown_head_names_the_choices(capsys):
    assert main(["count", "resnet18", "--head", "dense"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --head: 'dense' is not allowed") and "keep, gap, flatten" in err


def test_summary_lists_the_new_head():
    import json

    from click.testing import CliRunner
    from typer.main import get_command

    from cnncost.cli.app import app

    result = CliRunner().invoke(get_command(app), ["summary", "resnet18", "--hw", "64", "--head", "flatten",
                                                   "--classes", "8", "--json"])
    assert result.exit_code == 0, result.output
    names = [row["name"] for row in json.loads(result.output)["layers"]]
    assert names[-2:] == ["head.flatten", "head.fc"] or names[-1] == "head.fc"


def test_report_002_keras_resnet50_without_top_plus_flatten_dense8(capsys):
    """Report 002, Figure 2.5.1.1: Keras' ResNet50 without its top at 50×50, Flatten + Dense(8):
    'Total params: 23,653,256 Trainable params: 23,600,136 Non-trainable params: 53,120'."""

    assert main(["summary", "keras_resnet50", "--hw", "50", "--no-include-top", "--head", "flatten",
                 "--classes", "8"]) == 0
    out = capsys.readouterr().out
    lines = {line.split(":")[0]: line.split(":")[1].split()[0] for line in out.splitlines()
             if line.startswith(("Total params", "Trainable params", "Non-trainable params"))}
    assert lines == {"Total params": "23,653,256", "Trainable params": "23,600,136",
                     "Non-trainable params": "53,120"}
    assert "(None, 2, 2, 2048)" in out and "(None, 8192)" in out  # shapes as Keras prints them


def test_summary_shapes_can_be_chosen(capsys):
    assert main(["summary", "resnet18", "--hw", "64", "--shapes", "keras"]) == 0
    assert "(None, 2, 2, 512)" in capsys.readouterr().out
    assert main(["summary", "keras_vgg16", "--hw", "32", "--shapes", "torch"]) == 0
    assert "512×1×1" in capsys.readouterr().out


def test_show_views_take_the_head_options(tmp_path, capsys):
    out = tmp_path / "filters.png"
    assert main(["show", "filters", "resnet18", "--img-size", "64", "--no-include-top", "--out", str(out)]) == 0
    assert out.stat().st_size > 0 and "conv1 filters" in capsys.readouterr().out
