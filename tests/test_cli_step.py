"""The training step on the command line: `memory`, and the step options of `count`, `formula`, `summary`, `sweep`,
`check` and `plot`. The numbers are the engine's step, the largest
batch is the bound it claims, the closed forms equal the numbers, and bad input is one line with exit code 2."""

from __future__ import annotations

import json
from functools import lru_cache

import pytest
from hypothesis import given, settings, strategies as st

from cnncost import archs, engine
from cnncost.cli import main
from cnncost.cli.memory_command import parse_bytes
from cnncost.errors import CnncostError
from cnncost.render.memory_view import largest_batch
from cnncost.trainstep import analyze_step, parse_step


def run(capsys, *argv: str) -> tuple:
    """(exit code, stdout, stderr) of one in-process command."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def step_of(name: str, step, **overrides):
    spec = archs.get(name)
    return analyze_step(engine.analyze(spec.build(**archs.resolve(spec, overrides))), step)


def test_memory_json_is_the_engine_step(capsys):
    code, out, _ = run(capsys, "memory", "resnet18", "--batch", "8", "--strategy", "partial:1", "--optimizer",
                       "adam", "--dtype", "bf16", "--device", "cpu", "--gpu-memory", "2GiB", "--json")
    assert code == 0
    document = json.loads(out)
    cost = step_of("resnet18", parse_step("partial:1", 8, "adam", "bf16", "cpu"))
    assert document["bytes"] == {k: v for k, v in cost.quantities().items() if k != "train-flops"}
    assert document["train_flops"] == cost.train_flops
    assert document["bytes"]["train-bytes"] == sum(document["bytes"][k] for k in (
        "param-bytes", "buffer-bytes", "grad-bytes", "optimizer-bytes", "saved-bytes"))
    assert document["largest_batch"] == largest_batch(cost, 2 * 2**30)
    assert document["step"] == {"strategy": "partial:1", "batch": 8, "optimizer": "adam", "dtype": "bf16",
                                "device": "cpu"}


def test_memory_table_names_every_component(capsys):
    code, out, _ = run(capsys, "memory", "scratch5", "--batch", "4", "--gpu-memory", "1GiB")
    assert code == 0
    for word in ("parameters", "buffers", "gradients", "optimizer state", "saved tensors", "train-bytes",
                 "train-bytes(B) =", "no batch above"):
        assert word in out
    cost = step_of("scratch5", parse_step(batch=4))
    assert f"{cost.train_bytes:,}" in out


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 2**36))
def test_largest_batch_is_the_bound_it_claims(memory):
    cost = _resnet18_step()
    best = largest_batch(cost, memory)
    assert cost.peak_lower_bound(best + 1) > memory
    if best:
        assert cost.peak_lower_bound(best) <= memory


@lru_cache(maxsize=None)
def _resnet18_step():
    return step_of("resnet18", parse_step("scratch", 1, "momentum", "fp32", "cpu"))


def test_peak_lower_bound_holds_every_saved_tensor_and_the_state():
    cost = _resnet18_step()
    resident = cost.state.params + cost.state.buffers + cost.state.optimizer
    for batch in (1, 7, 64):
        saved = batch * cost.saved_per_sample + cost.saved_fixed
        assert cost.peak_lower_bound(batch) >= resident + saved
        assert cost.peak_lower_bound(batch) >= resident + cost.state.grads


@pytest.mark.parametrize("text, size", [("24GiB", 24 * 2**30), ("80 GB", 80 * 10**9), ("16000MiB", 16000 * 2**20),
                                        ("1.5TiB", int(1.5 * 2**40)), ("4096", 4096), ("2kb", 2000)])
def test_sizes_parse_in_both_unit_systems(text, size):
    assert parse_bytes(text) == size


@pytest.mark.parametrize("argv, option", [
    (["--gpu-memory", "24 apples"], "--gpu-memory"), (["--gpu-memory", "0GiB"], "--gpu-memory"),
    (["--gpu-memory", "-3GiB"], "--gpu-memory"), (["--batch", "0"], "--batch"), (["--batch", "-2"], "--batch"),
    (["--optimizer", "lion"], "--optimizer"), (["--dtype", "int8"], "--dtype"), (["--device", "tpu"], "--device"),
    (["--strategy", "partial:0"], "--strategy"), (["--strategy", "partial:99"], "--strategy"),
])
def test_bad_step_options_are_one_line(capsys, argv, option):
    for command in ("memory", "count"):
        code, out, err = run(capsys, command, "resnet18", *argv)
        assert code == 2, (command, argv)
        assert err.startswith("error: ") and err.count("\n") == 1 and option in err, err
        assert "Traceback" not in err and out == ""


def test_a_detector_and_a_topless_network_are_refused(capsys):
    code, _, err = run(capsys, "memory", "yolov3", "--hw", "64")
    assert code == 2 and "class scores" in err
    code, _, err = run(capsys, "memory", "resnet18", "--no-include-top")
    assert code == 2 and "class scores" in err


def test_batch_one_batchnorm_at_one_by_one_is_refused(capsys):
    code, _, err = run(capsys, "memory", "resnet18", "--hw", "32", "--batch", "1")
    assert code == 2 and "one value per channel" in err
    assert run(capsys, "memory", "resnet18", "--hw", "32", "--batch", "2")[0] == 0


def test_count_with_a_batch_adds_per_layer_figures_that_sum_to_the_step(capsys):
    code, out, _ = run(capsys, "count", "mobilenet_v2", "--hw", "64", "--batch", "3", "--strategy", "partial:2",
                       "--device", "cpu", "--json")
    assert code == 0
    step = json.loads(out)["step"]
    cost = step_of("mobilenet_v2", parse_step("partial:2", 3, "sgd", "fp32", "cpu"), h=64, w=64)
    assert step["totals"] == cost.quantities()
    assert sum(layer["train_flops"] for layer in step["layers"]) == step["totals"]["train-flops"]
    loss = 3 * cost.loss_saved_per_sample + cost.loss_saved_fixed
    assert sum(layer["saved_bytes"] for layer in step["layers"]) + loss == step["totals"]["saved-bytes"]


def test_count_without_step_options_is_unchanged(capsys):
    code, out, _ = run(capsys, "count", "scratch5")
    assert code == 0 and "train FLOPs" not in out and "one training step" not in out


@lru_cache(maxsize=None)
def _scratch5_forms():
    """scratch5's closed forms of the step quantities in H, W, m, k, n and B (derived once)."""
    from cnncost import symbolic as sym

    derivation = sym.derive("scratch5", {})
    names = ["train-flops", "saved-bytes", "train-bytes"]
    sym.add_step_quantities(derivation, parse_step("partial:2", sym.symbol("B"), "adam", "bf16", "cpu"), names)
    return {name: derivation.formulas[name] for name in names}


@settings(max_examples=12, deadline=None)
@given(k=st.sampled_from([1, 3, 5]), m=st.integers(1, 40), n=st.integers(1, 64), batch=st.integers(1, 50),
       extra_h=st.integers(0, 90), extra_w=st.integers(0, 90))
def test_closed_forms_equal_the_numbers(k, m, n, batch, extra_h, extra_w):
    from cnncost.symbolic import symbol

    h, w = 31 * k + 1 + extra_h, 31 * k + 1 + extra_w  # the network's validity condition
    cost = step_of("scratch5", parse_step("partial:2", batch, "adam", "bf16", "cpu"), m=m, k=k, n=n, h=h, w=w)
    point = {symbol("h"): h, symbol("w"): w, symbol("m"): m, symbol("k"): k, symbol("n"): n, symbol("B"): batch}
    numbers = cost.quantities()
    for name, form in _scratch5_forms().items():
        assert int(form.subs(point)) == numbers[name], name


def test_formula_prints_step_quantities_in_b(capsys):
    code, out, _ = run(capsys, "formula", "scratch5", "--quantity", "saved-bytes", "--no-cache")
    assert code == 0 and "B: batch size" in out and "saved-bytes" in out
    code, _, err = run(capsys, "formula", "scratch5", "--quantity", "saved-bites")
    assert code == 2 and "saved-bytes" in err


def test_step_errors_name_their_option():
    with pytest.raises(CnncostError, match="^batch: "):
        parse_step(batch=0)


def test_sweep_rows_are_the_engine_step(capsys):
    code, out, _ = run(capsys, "sweep", "scratch5", "--m", "8,16", "--hw", "96,120", "--batch", "1,5",
                       "--quantity", "train-flops,saved-bytes,train-bytes", "--optimizer", "momentum",
                       "--dtype", "bf16", "--device", "cpu", "--json")
    assert code == 0
    document = json.loads(out)
    assert document["valid"] == 8 and document["step"]["optimizer"] == "momentum"
    for row in document["rows"]:
        cost = step_of("scratch5", parse_step("scratch", row["batch"], "momentum", "bf16", "cpu"),
                       m=row["m"], h=row["hw"], w=row["hw"])
        for name in ("train-flops", "saved-bytes", "train-bytes"):
            assert row[name] == cost.quantities()[name], (row, name)


def test_sweep_marks_batch_one_batchnorm_at_one_by_one_invalid(capsys):
    code, out, _ = run(capsys, "sweep", "resnet18", "--hw", "32", "--batch", "1:2", "--quantity", "saved-bytes",
                       "--device", "cpu", "--json")
    assert code == 0
    document = json.loads(out)
    assert [row["batch"] for row in document["rows"]] == [2]
    assert "one value per channel" in document["invalid"][0]["reason"]


def test_sweep_batch_needs_a_step_quantity(capsys):
    code, _, err = run(capsys, "sweep", "scratch5", "--batch", "2,4")
    assert code == 2 and err.startswith("error: --batch:") and err.count("\n") == 1


def test_formula_states_the_batchnorm_condition_in_b(capsys):
    code, out, _ = run(capsys, "formula", "resnet18", "--quantity", "saved-bytes", "--no-cache")
    assert code == 0 and "valid when B·" in out and "≥ 2" in out


def test_summary_adds_the_step_only_for_step_options(capsys):
    code, out, _ = run(capsys, "summary", "resnet18", "--strategy", "last-layer", "--hw", "32")
    assert code == 0 and "Training step" not in out  # --strategy alone: the trainable split, as before
    code, out, _ = run(capsys, "summary", "resnet18", "--strategy", "last-layer", "--batch", "4", "--json")
    assert code == 0
    cost = step_of("resnet18", parse_step("last-layer", 4))
    document = json.loads(out)
    assert {k: v for k, v in document["step"].items() if k != "options"} == cost.quantities()
    code, out, _ = run(capsys, "summary", "resnet18", "--batch", "4")
    assert code == 0 and "Training step (--strategy scratch, batch 4" in out and "train-bytes" in out


def _own_formula(capsys, quantity: str, *options: str) -> str:
    code, out, _ = run(capsys, "formula", "scratch5", "--quantity", quantity, "--json", "--no-cache", *options)
    assert code == 0
    return json.loads(out)["formulas"][quantity]


@pytest.mark.parametrize("quantity, options", [("saved-bytes", ("--device", "cpu")),
                                               ("train-bytes", ("--optimizer", "adam", "--dtype", "bf16")),
                                               ("train-flops", ("--strategy", "partial:2"))])
def test_check_proves_the_step_formula_and_refutes_a_perturbation(capsys, quantity, options):
    own = _own_formula(capsys, quantity, *options)
    code, out, _ = run(capsys, "check", own, "--quantity", quantity, *options, "--json")
    assert code == 0 and json.loads(out)["verdict"] == "EQUAL"
    code, out, _ = run(capsys, "check", own + " + B", "--quantity", quantity, *options, "--json")
    result = json.loads(out)
    assert code == 1 and result["verdict"] == "NOT EQUAL"
    point = result["counterexample"]  # a real counterexample: the numeric step disagrees with the claim there
    given = dict(zip(("--device", "--optimizer", "--dtype", "--strategy"), (None,) * 4))
    given.update(dict(zip(options[::2], options[1::2])))
    step = parse_step(given["--strategy"] or "scratch", point["B"], given["--optimizer"] or "sgd",
                      given["--dtype"] or "fp32", given["--device"] or "cuda")
    cost = step_of("scratch5", step, m=point["m"], k=point["k"], n=point["n"], h=point["H"], w=point["W"])
    import sympy

    expression = sympy.sympify(own)  # the JSON's text: plain symbols named as printed (B, H, W, m, k, n)
    claimed = expression.subs({s: point[str(s)] for s in expression.free_symbols}) + point["B"]
    assert int(claimed) != cost.quantities()[quantity]


def test_check_a_step_number_needs_the_batch(capsys):
    code, _, err = run(capsys, "check", "123", "--quantity", "saved-bytes")
    assert code == 2 and err.startswith("error: ")
    cost = step_of("scratch5", parse_step(batch=4))
    code, out, _ = run(capsys, "check", str(cost.saved_bytes), "--quantity", "saved-bytes", "--batch", "4")
    assert code == 0 and "EQUAL" in out


@pytest.mark.parametrize("arch, vary, xs, given", [("resnet18", "batch", range(1, 9), {"h": 32, "w": 32}),
                                                   ("scratch5", "hw", range(94, 130, 7), {}),
                                                   ("scratch5", "m", range(1, 40, 6), {})])
def test_plot_series_are_the_engine_step_at_every_point(arch, vary, xs, given):
    from cnncost.render.plot import series

    step = parse_step("partial:1" if arch == "resnet18" else "scratch", 3, "adam", "fp32", "cpu")
    s = series(arch, vary, xs, "train-bytes", given, step)
    assert s.xs  # some valid points
    for x, y in zip(s.xs, s.ys):
        point = dict(given, **({"h": x, "w": x} if vary == "hw" else {} if vary == "batch" else {vary: x}))
        at = step._replace(batch=x) if vary == "batch" else step
        assert y == step_of(arch, at, **point).train_bytes, (vary, x)
    if vary == "batch":
        assert s.skipped == 1 and 1 not in s.xs  # batch 1: layer4's BatchNorms see one value (torch refuses)


def test_plot_batch_needs_a_step_quantity(capsys, tmp_path):
    code, _, err = run(capsys, "plot", "scratch5", "--vary", "batch", "--from", "1", "--to", "3",
                       "--out", str(tmp_path / "x.png"))
    assert code == 2 and "training-step" in err
    code, _, err = run(capsys, "plot", "scratch5", "--vary", "batch", "--from", "1", "--to", "3", "--batch", "2",
                       "--quantity", "saved-bytes", "--out", str(tmp_path / "x.png"))
    assert code == 2 and err.startswith("error: --batch")
