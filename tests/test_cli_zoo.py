"""`cnncost zoo` and `cnncost verify` through typer's CliRunner."""

import json

from typer.testing import CliRunner

from cnncost import layers as L
from cnncost import kinds
from cnncost.cli import app

runner = CliRunner()


def test_verify_agrees_and_exits_0():
    result = runner.invoke(app, ["verify", "scratch5", "--m", "4", "--k", "4", "--hw", "70",
                                 "--padding", "same", "--bn"])
    assert result.exit_code == 0, result.output
    body = result.output.split("\n", 1)[1]  # the header line explains the marks
    assert "all agree" in body and "✗" not in body
    assert "aten::_convolution_mode" in result.output  # the fvcore bug is named


def test_verify_reports_a_wrong_rule_and_exits_1(monkeypatch):
    honest = kinds.KINDS[L.Conv2d]

    def off_by_one(node, x, y):
        return honest.counts(node, x, y)._replace(params=honest.counts(node, x, y).params + 1)

    monkeypatch.setitem(kinds.KINDS, L.Conv2d, honest._replace(counts=off_by_one))
    result = runner.invoke(app, ["verify", "--m", "2", "--json"])
    assert result.exit_code == 1
    doc = json.loads(result.output)
    assert doc["ok"] is False
    conv1 = next(r for r in doc["layers"] if r["name"] == "conv1")
    assert conv1["cells"]["params"] == {"engine": 57, "reference": 56, "ok": False}


def test_zoo_lists_every_network_with_costs():
    doc = json.loads(runner.invoke(app, ["zoo", "--json"]).output)
    by_name = {row["name"]: row for row in doc}
    assert by_name["scratch5"]["params"] == 159_114 and by_name["scratch5"]["torchvision"] is None
    assert all(row["params"] > 0 and row["macs"] > 0 for row in doc)
    text = runner.invoke(app, ["zoo"]).output
    assert "scratch5" in text and "multiply-accumulates" in text
