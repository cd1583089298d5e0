"""zoo.tune.report and zoo.tune.plots on hand-built Optuna studies that follow the tune study contract.

References are independent of the code under test: hard-coded expected orders, a textbook Pearson and a
counting Spearman written here, and a brute-force O(n²) dominance check for Pareto fronts.
"""

from __future__ import annotations

import csv
import json
import math
import random

import pytest

optuna = pytest.importorskip("optuna")
pytest.importorskip("matplotlib")
Image = pytest.importorskip("PIL.Image")

from optuna.distributions import CategoricalDistribution, FloatDistribution  # noqa: E402
from optuna.trial import TrialState, create_trial  # noqa: E402

from cnncost.errors import CnncostError  # noqa: E402
from zoo.tune import plots, report  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)

PARAMETERS = {"lr": {"values": [0.001, 0.01]}, "m": {"values": [16, 32]}, "activation": {"values": ["relu", "silu"]},
              "bn": {"values": [True, False]}, "dropout": {"min": 0.0, "max": 0.5, "distribution": "uniform"}}
DISTRIBUTIONS = {"lr": CategoricalDistribution([0.001, 0.01]), "m": CategoricalDistribution([16, 32]),
                 "activation": CategoricalDistribution(["relu", "silu"]), "bn": CategoricalDistribution([True, False]),
                 "dropout": FloatDistribution(0.0, 0.5)}
METRIC = {"name": "val_acc", "goal": "maximize"}


def spec(objectives, method="bayes", parameters=PARAMETERS):
    """The cnncost spec a tune study carries."""
    return {"version": 1, "method": method, "metric": objectives[0], "objectives": objectives,
            "parameters": parameters, "network": "scratch5", "strategy": "scratch", "data": "synthetic",
            "epochs": 3, "train": {"batch": 32}, "budgets": {"max_macs": 1_000_000}}


def new_study(objectives=(METRIC,), method="bayes", parameters=PARAMETERS):
    """An empty in-memory study with the cnncost spec."""
    study = optuna.create_study(directions=[o["goal"] for o in objectives], storage=optuna.storages.InMemoryStorage())
    study.set_user_attr("cnncost", spec(list(objectives), method, parameters))
    return study


def counts(m):
    """Exact counts of a configuration with width m (any ints will do; they differ per m)."""
    return {"params": 1_000 * m + 7, "macs": 20_000 * m + 11, "flops": 40_000 * m + 22,
            "train_flops": 3 * (40_000 * m + 22), "train_bytes": 4_096 * m, "saved_bytes": 2_048 * m}


def add(study, number_hint, params, state=TrialState.COMPLETE, values=None, intermediate=None, attrs=None):
    """Add one trial; COMPLETE ones get a run folder and a command."""
    user_attrs = dict(counts(params["m"])) if "m" in params else {}
    user_attrs.update({"run": f"trials/{number_hint:04d}",
                       "command": f"cnncost train scratch5 --m {params.get('m')} --lr {params.get('lr')}"})
    user_attrs.update(attrs or {})
    study.add_trial(create_trial(params=params, distributions={k: DISTRIBUTIONS[k] for k in params},
                                 values=values, intermediate_values=intermediate or {}, user_attrs=user_attrs,
                                 state=state))


# Six complete trials with a tie on val_acc (trials 1 and 4), one pruned over budget, one pruned by the
# pruner (with a NaN at its last epoch), one failed with nothing, one running.
TABLE = [  # lr, m, activation, bn, dropout, val_acc
    (0.001, 16, "relu", True, 0.0, 0.50),
    (0.01, 32, "silu", False, 0.1, 0.70),
    (0.001, 32, "silu", True, 0.2, 0.60),
    (0.01, 16, "relu", False, 0.3, 0.40),
    (0.001, 16, "silu", True, 0.4, 0.70),
    (0.01, 32, "relu", True, 0.5, 0.55),
]


def params_of(row):
    """The params dict of a TABLE row."""
    return dict(zip(("lr", "m", "activation", "bn", "dropout"), row[:5]))


def single_study():
    """The single-objective fixture (trials 0-5 complete, 6 and 7 pruned, 8 failed, 9 running)."""
    study = new_study()
    for number, row in enumerate(TABLE):
        add(study, number, params_of(row), values=[row[5]], intermediate={1: row[5] - 0.2, 2: row[5] - 0.1, 3: row[5]})
    add(study, 6, params_of((0.01, 32, "silu", True, 0.2, None)), state=TrialState.PRUNED,
        attrs={"reason": "over budget: macs 640,011 > max_macs"})
    add(study, 7, params_of((0.001, 16, "relu", False, 0.1, None)), state=TrialState.PRUNED,
        intermediate={1: 0.3, 2: float("nan")})
    study.add_trial(create_trial(state=TrialState.FAIL))
    study.add_trial(create_trial(state=TrialState.RUNNING))
    return study


def two_objective_study():
    """val_acc (max) and macs (min): the same table, macs from the counts."""
    study = new_study((METRIC, {"name": "macs", "goal": "minimize"}))
    for number, row in enumerate(TABLE):
        params = params_of(row)
        # Multi-objective trials report no intermediate values; the worker's epochs_run attr says how far they got.
        add(study, number, params, values=[row[5], counts(params["m"])["macs"]], attrs={"epochs_run": 2})
    add(study, 6, params_of((0.01, 32, "silu", True, 0.2, None)), state=TrialState.PRUNED, attrs={"reason": "over budget"})
    add(study, 7, params_of(TABLE[0]), state=TrialState.FAIL, attrs={"error": "RuntimeError: boom", "epochs_run": 1})
    return study


def one_trial_study():
    """A study with a single complete trial."""
    study = new_study()
    add(study, 0, params_of(TABLE[0]), values=[0.5], intermediate={1: 0.5})
    return study


# ---------------------------------------------------------------- leaderboard, best, table

def test_leaderboard_order_ranks_and_exact_counts():
    rows = report.leaderboard(single_study())
    # val_acc 0.70 (trials 1, 4: tie, lower number first), 0.60, 0.55, 0.50, 0.40; then the rest by number.
    assert [r["number"] for r in rows] == [1, 4, 2, 5, 0, 3, 6, 7, 8, 9]
    assert [r["rank"] for r in rows] == [1, 2, 3, 4, 5, 6, None, None, None, None]
    assert [r["state"] for r in rows[6:]] == ["PRUNED", "PRUNED", "FAIL", "RUNNING"]
    first = rows[0]
    assert first["val_acc"] == 0.70 and first["activation"] == "silu" and first["bn"] is False
    assert first["macs"] == 20_000 * 32 + 11 and type(first["macs"]) is int and type(first["train_bytes"]) is int
    assert first["epochs"] == 3
    by_number = {r["number"]: r for r in rows}
    assert by_number[6]["epochs"] == 0 and by_number[6]["reason"].startswith("over budget")
    assert by_number[6]["val_acc"] is None and by_number[6]["macs"] == 640_011  # counted even though pruned
    assert by_number[7]["epochs"] == 2 and by_number[7]["reason"] is None and math.isnan(by_number[7]["last_metric"])
    assert by_number[8]["macs"] is None and by_number[8]["epochs"] is None and by_number[8]["lr"] is None


def test_minimize_goal_ranks_smallest_first():
    study = new_study(({"name": "val_loss", "goal": "minimize"},))
    for number, loss in enumerate([0.9, 0.3, 0.6, 0.3]):
        add(study, number, {"m": 16}, values=[loss])
    assert [r["number"] for r in report.leaderboard(study)] == [1, 3, 2, 0]
    assert report.best_trial(study).number == 1 and report.best_trial_reason(study) is None


def test_best_trial_single_and_pareto_and_none():
    assert report.best_trial(single_study()).number == 1
    # Two objectives: 1 and 4 tie at 0.70; 4 (m=16) has fewer MACs, so only 4 is on the Pareto front.
    two = two_objective_study()
    assert report.best_trial(two).number == 4
    rows = {r["number"]: r for r in report.leaderboard(two)}
    assert rows[4]["epochs"] == 2 and rows[4]["macs"] == 320_011 and type(rows[4]["macs"]) is int
    assert rows[7]["epochs"] == 1 and rows[7]["error"] == "RuntimeError: boom" and rows[7]["rank"] is None
    assert "error: RuntimeError: boom" in report.render_table(list(rows.values()), two.user_attrs["cnncost"])
    empty = new_study()
    add(empty, 0, params_of(TABLE[0]), state=TrialState.PRUNED, attrs={"reason": "over budget"})
    assert report.best_trial(empty) is None
    reason = report.best_trial_reason(empty)
    assert "no trial is complete" in reason and "1 pruned" in reason
    assert report.best_line(empty).startswith("best: none")


def test_render_table_headline_cells_and_top(monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)  # no width limit: nothing dropped or wrapped
    study = single_study()
    rows = report.leaderboard(study)
    text = report.render_table(rows, study.user_attrs["cnncost"])
    lines = text.splitlines()
    assert lines[0] == ("scratch5 · bayes search · metric val_acc (maximize) · "
                        "10 trials: 6 complete, 2 pruned, 1 failed, 1 running")
    header = lines[1].split()
    assert header[:5] == ["rank", "trial", "state", "val_acc", "params"]
    assert "640,011" in text and "32,007" in text  # digit-grouped exact counts
    assert "pruner stopped it after epoch 2 (val_acc NaN)" in text
    failed = next(line for line in lines if line.split()[:2] == ["8", "failed"])
    assert failed.strip() == "8  failed"  # every other cell of a trial with no attrs is empty
    short = report.render_table(rows, study.user_attrs["cnncost"], top=2)
    assert len(short.splitlines()) == 1 + 1 + 2 + 1 and short.endswith("(top 2 of 10 trials shown)")
    with pytest.raises(CnncostError, match="^top: "):
        report.render_table(rows, study.user_attrs["cnncost"], top=0)
    full = report.render_report(study)
    assert "best: cnncost train scratch5 --m 32 --lr 0.01" in full and "spearman rho" in full


def test_csv_round_trip(tmp_path):
    rows = report.leaderboard(single_study())
    path = report.write_csv(rows, tmp_path / "leaderboard.csv")
    with open(path, newline="") as handle:
        read = list(csv.DictReader(handle))
    assert len(read) == len(rows) and list(read[0]) == list(rows[0])
    for original, back in zip(rows, read):
        for key, value in original.items():
            cell = back[key]
            if value is None:
                assert cell == ""
            elif isinstance(value, bool):
                assert cell == str(value)
            elif isinstance(value, int):
                assert int(cell) == value
            elif isinstance(value, float):
                assert (math.isnan(value) and math.isnan(float(cell))) or float(cell) == value
            else:
                assert cell == value


def test_json_is_strict_with_a_nan_metric():
    study = single_study()
    text = report.to_json(study)

    def refuse(constant):
        raise AssertionError(f"non-strict JSON constant {constant}")

    document = json.loads(text, parse_constant=refuse)
    assert document["spec"]["network"] == "scratch5"
    pruned = next(r for r in document["leaderboard"] if r["number"] == 7)
    assert pruned["last_metric"] is None  # the NaN became null
    assert document["best"]["number"] == 1 and document["best"]["command"].startswith("cnncost train")
    assert document["pareto"] is None  # one objective
    assert document["counts"] == {"complete": 6, "pruned": 2, "failed": 1, "running": 1, "waiting": 0}
    two = json.loads(report.to_json(two_objective_study()), parse_constant=refuse)
    assert two["pareto"] == brute_front({n: (row[5], counts(row[1])["macs"]) for n, row in enumerate(TABLE)},
                                        ("maximize", "minimize"))
    assert two["fronts"]["macs"] == two["pareto"]


# ---------------------------------------------------------------- correlations

def reference_pearson(x, y):
    """Textbook Pearson r; None for n < 3 or zero variance."""
    n = len(x)
    if n < 3:
        return None
    mx, my = sum(x) / n, sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sxx, syy = sum((a - mx) ** 2 for a in x), sum((b - my) ** 2 for b in y)
    return None if sxx == 0 or syy == 0 else sxy / math.sqrt(sxx * syy)


def reference_ranks(values):
    """Average ranks by counting: (number smaller) + (number equal + 1) / 2."""
    return [sum(v < w for v in values) + (sum(v == w for v in values) + 1) / 2 for w in values]


def test_correlations_match_a_hand_computation():
    study = single_study()
    got = {label: (r, rho, n) for label, r, rho, n in report.correlations(study)}
    assert list(got) == ["lr", "m", "activation=relu", "activation=silu", "bn", "dropout"]
    y = [row[5] for row in TABLE]
    columns = {"lr": [row[0] for row in TABLE], "m": [row[1] for row in TABLE],
               "activation=relu": [float(row[2] == "relu") for row in TABLE],
               "activation=silu": [float(row[2] == "silu") for row in TABLE],
               "bn": [float(row[3]) for row in TABLE], "dropout": [row[4] for row in TABLE]}
    for label, x in columns.items():
        r, rho, n = got[label]
        assert n == 6
        assert r == pytest.approx(reference_pearson(x, y), abs=1e-12)
        assert rho == pytest.approx(reference_pearson(reference_ranks(x), reference_ranks(y)), abs=1e-12)
    assert got["activation=relu"][0] == pytest.approx(-got["activation=silu"][0])


def test_correlation_worked_example_and_undefined_cases():
    # x = 1..5, y = 2,1,4,3,5: deviations (-2,-1,0,1,2) and (-1,-2,1,0,2), products sum 8, squares 10 and 10:
    # r = 8/10 = 0.8; the values are their own ranks, so rho = 0.8 too.
    study = new_study(parameters={"dropout": PARAMETERS["dropout"]})
    for number, (x, y) in enumerate(zip([0.1, 0.2, 0.3, 0.4, 0.5], [2, 1, 4, 3, 5])):
        add(study, number, {"dropout": x}, values=[y / 10])
    [(label, r, rho, n)] = report.correlations(study)
    assert (label, n) == ("dropout", 5) and r == pytest.approx(0.8) and rho == pytest.approx(0.8)
    # A constant column and a two-trial study are undefined (None), never NaN.
    constant = new_study(parameters={"m": PARAMETERS["m"]})
    for number, y in enumerate([0.1, 0.5, 0.3]):
        add(constant, number, {"m": 16}, values=[y])
    assert report.correlations(constant) == [("m", None, None, 3)]
    assert all(r is None and rho is None for _, r, rho, _ in report.correlations(one_trial_study()))
    assert report.average_ranks([3, 1, 3, 2]) == [3.5, 1.0, 3.5, 2.0]


# ---------------------------------------------------------------- Pareto fronts

def brute_front(points, goals):
    """Keys of points no other point dominates (at least as good everywhere, strictly better somewhere)."""
    def better_or_equal(a, b, goal):
        return a >= b if goal == "maximize" else a <= b

    def dominates(p, q):
        return all(better_or_equal(a, b, g) for a, b, g in zip(p, q, goals)) and p != q

    return sorted(k for k, p in points.items() if not any(dominates(q, p) for q in points.values()))


@pytest.mark.parametrize("goal", ["maximize", "minimize"])
def test_pareto_matches_brute_force(goal):
    generator = random.Random(7)
    study = new_study(({"name": "val_acc", "goal": goal},))
    points = {}
    for number in range(60):
        macs, params = generator.choice([100, 200, 300, 5_000, 90_000]), generator.randint(1, 8) * 1_000
        value = generator.choice([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])  # few values: ties in both coordinates
        add(study, number, {"dropout": 0.1}, values=[value], attrs={"macs": macs, "params": params})
        points[number] = (value, macs, params)
    add(study, 60, {"dropout": 0.1}, state=TrialState.PRUNED, attrs={"macs": 1, "params": 1, "reason": "x"})
    for cost, index in (("macs", 1), ("params", 2)):
        front = report.pareto(study, cost)
        expected = brute_front({n: (p[0], p[index]) for n, p in points.items()}, (goal, "minimize"))
        assert sorted(t.number for t in front) == expected
        assert [report.exact_count(t, cost) for t in front] == sorted(report.exact_count(t, cost) for t in front)
    with pytest.raises(CnncostError, match="^cost: must be one of macs, params"):
        report.pareto(study, "flops")


def test_study_pareto_matches_brute_force_on_three_objectives():
    generator = random.Random(3)
    goals = ("maximize", "minimize", "minimize")
    study = new_study(({"name": "val_acc", "goal": "maximize"}, {"name": "macs", "goal": "minimize"},
                       {"name": "params", "goal": "minimize"}))
    points = {}
    for number in range(40):
        point = (generator.choice([0.2, 0.4, 0.6]), generator.choice([10, 20, 30]), generator.choice([1, 2, 3]))
        add(study, number, {"dropout": 0.2}, values=list(point), attrs={"macs": point[1], "params": point[2]})
        points[number] = point
    assert report.study_pareto(study) == brute_front(points, goals)


# ---------------------------------------------------------------- importance

def test_importance_none_with_reason_and_a_dominant_parameter():
    values, reason = report.importance(one_trial_study())
    assert values is None and "at least 2 complete trials" in reason
    constant = new_study(parameters={"m": PARAMETERS["m"]})
    for number, y in enumerate([0.1, 0.5, 0.3]):
        add(constant, number, {"m": 16}, values=[y])
    values, reason = report.importance(constant)
    assert values is None and "no parameter varies" in reason
    pytest.importorskip("sklearn")
    study = new_study()
    generator = random.Random(0)
    for number in range(24):
        activation = ["relu", "silu"][number % 2]
        params = {"lr": generator.choice([0.001, 0.01]), "m": generator.choice([16, 32]), "activation": activation,
                  "bn": generator.choice([True, False]), "dropout": generator.uniform(0, 0.5)}
        # The metric is set by the activation, with small noise from nothing else.
        add(study, number, params, values=[0.3 + 0.4 * (activation == "silu") + generator.uniform(0, 0.01)])
    values, reason = report.importance(study)
    assert reason is None and next(iter(values)) == "activation"
    assert sum(values.values()) == pytest.approx(1.0) and values["activation"] > 0.8


# ---------------------------------------------------------------- plots

ALL_PLOTS = ["metric_vs_trial.png", "parallel_coordinates.png", "importance.png", "correlation.png",
             "pareto_macs.png", "pareto_params.png"]


def check_written(study, folder, expected):
    """write_plots writes exactly ``expected``, each a PNG of its figure's size at 100 dpi, titled and labelled."""
    written = plots.write_plots(study, folder)
    assert sorted(p.name for p in written) == sorted(expected)
    builders = {"metric_vs_trial.png": plots.metric_vs_trial_figure,
                "parallel_coordinates.png": plots.parallel_coordinates_figure,
                "importance.png": plots.importance_figure, "correlation.png": plots.correlation_figure,
                "pareto_macs.png": lambda s: plots.pareto_figure(s, "macs"),
                "pareto_params.png": lambda s: plots.pareto_figure(s, "params")}
    for path in written:
        figure, _ = builders[path.name](study)
        width, height = figure.get_size_inches()
        with Image.open(path) as image:
            assert image.format == "PNG" and image.size == (round(width * 100), round(height * 100))
        main = figure.axes[0]
        assert "val_acc" in main.get_title() and "scratch5" in main.get_title() and "bayes" in main.get_title()
        assert main.get_xlabel() and main.get_ylabel()
    return written


def test_write_plots_single_objective(tmp_path):
    study = single_study()
    check_written(study, tmp_path, ALL_PLOTS)
    figure, _ = plots.parallel_coordinates_figure(study)
    colour_bar = figure.axes[1]
    assert colour_bar.get_ylabel() == "val_acc (maximize)"  # the colour carries the metric and says so
    labels = {t.get_text() for t in figure.axes[0].texts}
    assert {"relu", "silu", "true", "false"} <= labels
    with Image.open(tmp_path / "metric_vs_trial.png") as image:
        assert image.size == (800, 450)


def test_write_plots_two_objectives(tmp_path):
    check_written(two_objective_study(), tmp_path, ALL_PLOTS)


def test_write_plots_skips_importance_with_its_reason(tmp_path):
    written = check_written(one_trial_study(), tmp_path, [p for p in ALL_PLOTS if p != "importance.png"])
    assert "at least 2 complete trials" in written.skipped["importance.png"]
    assert not (tmp_path / "importance.png").exists()


def test_missing_spec_is_one_clear_line():
    study = optuna.create_study(storage=optuna.storages.InMemoryStorage())
    with pytest.raises(CnncostError, match="^study: user attr 'cnncost' is missing"):
        report.leaderboard(study)
