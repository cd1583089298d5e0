"""cnncost tune end to end on CPU: tiny networks, synthetic data, real Optuna studies in SQLite (and PostgreSQL
in test_tune_postgres.py). Each trial's stored counts are checked against `cnncost count`, budgets and invalid
configurations prune without training, the pruner stops trials early, and a killed worker's trial comes back."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from cnncost.cli import main
from zoo.training.data import load_data
from zoo.tune import study as studies
from zoo.tune.launch import tune

TINY = {"img_size": 32, "synthetic_size": 40, "batch_size": 8, "device": "cpu", "plots": False}


def write_config(folder: Path, name="small", **document) -> str:
    """A tune config for tiny scratch5 runs (same padding, so a 32×32 input is valid)."""
    body = {"method": "grid", "metric": {"name": "val_acc", "goal": "maximize"}, "network": "scratch5", "epochs": 1,
            "train": dict(TINY), "parameters": {"padding": {"value": "same"}}}
    body.update(document)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(body, sort_keys=False))
    return str(path)


def load(out: Path, name="small") -> optuna.Study:
    return optuna.load_study(study_name=name, storage=studies.storage_url(out, None))


def counted(capsys, config_trial, classes: int) -> dict:
    """`cnncost count` of one trial's configuration: the independent reference for its stored counts."""
    args = ["count", "scratch5", "--hw", "32", "--classes", str(classes), "--json", "--batch", "8",
            "--optimizer", "adam", "--dtype", "fp32", "--device", "cpu", "--strategy", "scratch"]
    for name, value in config_trial.items():
        args += [f"--{name}", str(value)]
    capsys.readouterr()
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    return {"params": out["totals"]["params"], "macs": out["totals"]["macs"],
            "train_flops": out["step"]["totals"]["train-flops"], "train_bytes": out["step"]["totals"]["train-bytes"]}


def test_a_grid_trains_each_point_once_counts_each_exactly_and_prunes_over_budget(tmp_path, capsys, one_torch_thread):
    config = write_config(tmp_path, parameters={"padding": {"value": "same"}, "m": {"values": [2, 8]},
                                                "lr": {"values": [0.001, 0.01]}}, max_macs=200_000)
    lines = []
    counts = tune(config, str(tmp_path / "out"), say=lines.append)
    assert counts == {"COMPLETE": 2, "PRUNED": 2}
    study = load(tmp_path / "out")
    assert [t.params for t in study.trials] == [{"m": 2, "lr": 0.001}, {"m": 2, "lr": 0.01}, {"m": 8, "lr": 0.001},
                                               {"m": 8, "lr": 0.01}]
    classes = len(load_data("synthetic", synthetic_size=40).classes)
    for trial in study.trials:
        reference = counted(capsys, {"m": trial.params["m"], "padding": "same"}, classes)
        assert {key: trial.user_attrs[key] for key in reference} == reference
        run = tmp_path / "out" / trial.user_attrs["run"]
        if trial.params["m"] == 8:  # 419,328 MACs: pruned before anything was trained or written
            assert trial.state == TrialState.PRUNED
            assert trial.user_attrs["reason"] == f"macs {reference['macs']:,} > max_macs 200,000"
            assert not (run / "checkpoint.pt").exists() and not (run / "metrics.json").exists()
        else:
            metrics = json.loads((run / "metrics.json").read_text())
            assert trial.values == [max(row["val_acc"] for row in metrics["epochs"])]
            assert metrics["config"]["lr"] == trial.params["lr"]
    assert any(line.startswith("trial 2 · pruned before training: macs 419,328 > max_macs 200,000") for line in lines)
    # Running it again continues the same study: nothing is left to run, nothing is added.
    assert tune(config, str(tmp_path / "out"), say=lines.append) == counts
    assert len(load(tmp_path / "out").trials) == 4
    # The report: the leaderboard, the best trial's command, every plot, and CSV/JSON that agree with the study.
    capsys.readouterr()
    assert main(["tune", "report", str(tmp_path / "out"), "--csv", str(tmp_path / "board.csv")]) == 0
    shown = capsys.readouterr().out
    best = max((t for t in study.trials if t.values), key=lambda t: (t.values[0], -t.number))
    assert f"best: trial {best.number}: cnncost train scratch5" in shown
    for name in ("metric_vs_trial", "parallel_coordinates", "correlation", "pareto_macs", "pareto_params"):
        assert (tmp_path / "out" / "report" / f"{name}.png").stat().st_size > 0
    assert "importance.png" in shown  # written, or skipped with its reason (its two trials share lr values)
    assert main(["tune", "report", str(tmp_path / "out"), "--json", "--plots", "none"]) == 0
    board = json.loads(capsys.readouterr().out)
    assert board["best"]["number"] == best.number
    assert (tmp_path / "board.csv").read_text().count("\n") == 5  # a header and one row per trial


def test_random_and_bayes_make_exactly_run_cap_trials_and_prune_invalid_ones(tmp_path, one_torch_thread):
    invalid = write_config(tmp_path, "bayes", method="bayes", run_cap=3, epochs=1,
                           parameters={"padding": {"values": ["same", "valid"]}, "m": {"min": 2, "max": 4},
                                       "lr": {"min": 1e-4, "max": 1e-1, "distribution": "log_uniform_values"}})
    tune(invalid, str(tmp_path / "bayes"), quiet=True)
    trials = load(tmp_path / "bayes", "bayes").trials
    assert len(trials) == 3 and all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
    for trial in trials:
        assert 2 <= trial.params["m"] <= 4 and 1e-4 <= trial.params["lr"] <= 1e-1
        if trial.params["padding"] == "valid":  # 32×32 is too small for five valid 3×3 convs and pools
            assert trial.state == TrialState.PRUNED
            # named by the config's key, whichever process pruned it
            assert trial.user_attrs["reason"].startswith("train.img_size: 32 is too small for scratch5 (the smallest "
                                                         "valid input is")
    capped = write_config(tmp_path, "random", method="random", run_cap=5, max_params=100,
                          parameters={"padding": {"value": "same"}, "m": {"min": 2, "max": 64}})
    assert tune(capped, str(tmp_path / "random"), quiet=True) == {"PRUNED": 5}  # every one over 100 parameters
    trials = load(tmp_path / "random", "random").trials
    assert all(t.user_attrs["reason"].startswith("params ") for t in trials)
    assert len({t.params["m"] for t in trials}) > 1  # sampled, not repeated


def test_the_pruner_stops_a_trial_early_from_its_epoch_metric(tmp_path, monkeypatch):
    """A scripted run (val_acc fixed per learning rate) makes the median rule's decision known in advance."""
    script = {0.1: 0.9, 0.01: 0.8, 0.001: 0.1, 0.0001: 0.95}

    def scripted_train(config, console=None, on_epoch_end=None):
        rows = []
        for epoch in range(1, config.epochs + 1):
            rows.append({"epoch": epoch, "val_acc": script[config.lr], "val_loss": 1.0})
            on_epoch_end(epoch, rows[-1])
        return {"epochs": rows, "test_accuracy": 0.5}

    monkeypatch.setattr("zoo.training.run.train", scripted_train)
    config = write_config(tmp_path, epochs=4, early_terminate={"type": "median", "min_iter": 2},
                          parameters={"padding": {"value": "same"}, "m": {"value": 2},
                                      "lr": {"values": [0.1, 0.01, 0.001, 0.0001]}})
    tune(config, str(tmp_path / "out"), quiet=True)
    trials = load(tmp_path / "out").trials
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.COMPLETE, TrialState.PRUNED,
                                         TrialState.COMPLETE]
    pruned = trials[2]
    assert pruned.intermediate_values == {1: 0.1, 2: 0.1} and pruned.user_attrs["epochs_run"] == 2
    assert "reason" not in pruned.user_attrs  # the pruner stopped it; the engine had let it train
    assert trials[3].values == [0.95] and trials[3].intermediate_values == {e: 0.95 for e in (1, 2, 3, 4)}


def test_a_killed_worker_loses_no_trial_and_its_trial_resumes(tmp_path, one_torch_thread):
    # Epochs long enough (400 images) for the kill to land after the first checkpoint, before the last.
    config = write_config(tmp_path, epochs=5, heartbeat=1, train={**TINY, "synthetic_size": 400},
                          parameters={"padding": {"value": "same"}, "m": {"values": [2, 4]}})
    out = tmp_path / "out"
    worker = subprocess.Popen([sys.executable, "-m", "cnncost", "tune", config, "--out", str(out), "--quiet"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ,
                                                                                      "OMP_NUM_THREADS": "1"})
    checkpoint = out / "trials" / "0000" / "checkpoint.pt"
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and worker.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert checkpoint.exists(), worker.stderr.read().decode() if worker.poll() is not None else "no checkpoint"
    worker.send_signal(signal.SIGKILL)  # mid-trial: no chance to say anything to the study
    worker.wait()
    assert [t.state for t in load(out).trials] == [TrialState.RUNNING, TrialState.WAITING]
    counts = tune(config, str(out), quiet=True)  # trial 1 first, then trial 0 once its heartbeat is stale
    assert counts == {"COMPLETE": 2, "RETRIED": 1}
    trials = load(out).trials
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.COMPLETE, TrialState.COMPLETE]
    retry = trials[2]
    assert retry.params == trials[0].params and retry.system_attrs["failed_trial"] == 0
    assert retry.user_attrs["run"] == "trials/0000"  # the killed trial's own folder, continued from its checkpoint
    metrics = json.loads((out / "trials" / "0000" / "metrics.json").read_text())
    assert [row["epoch"] for row in metrics["epochs"]] == [1, 2, 3, 4, 5]


def test_a_corrupt_foreign_or_changed_study_is_refused_in_one_line(tmp_path, capsys):
    config = write_config(tmp_path, parameters={"padding": {"value": "same"}, "m": {"values": [2]}})
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "study.db").write_bytes(b"this is not a database" * 100)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    optuna.create_study(study_name="small", storage=studies.storage_url(foreign, None)).enqueue_trial({"x": 1})
    changed = tmp_path / "changed"
    tune(config, str(changed), quiet=True)
    other = write_config(tmp_path, parameters={"padding": {"value": "same"}, "m": {"values": [2, 4]}})
    for out, config_file, message in (
            (broken, config, "--storage: cannot open sqlite:///"),
            (foreign, config, "study 'small' exists but was not made by cnncost tune"),
            (changed, other, "CONFIG: study 'small' was made with another parameters"),
            (tmp_path / "new", str(tmp_path / "missing.yaml"), "CONFIG: "),
    ):
        capsys.readouterr()
        assert main(["tune", config_file, "--out", str(out)]) == 2
        error = capsys.readouterr().err
        assert error.startswith("error: ") and message in error and error.count("\n") == 1, error
    assert main(["tune", config, "--out", str(tmp_path / "w"), "--workers", "0"]) == 2
    assert "--workers: 0 is out of range" in capsys.readouterr().err


@pytest.mark.parametrize("args", [["tune"], ["tune", "--help"], ["tune", "report", "--help"]])
def test_tune_help_lists_both_commands(args, capsys):
    assert main(args) == 0
    shown = capsys.readouterr().out
    assert "report" in shown or "leaderboard" in shown


def test_ctrl_c_queues_the_running_trial_again_and_a_larger_run_cap_extends_a_study(tmp_path, monkeypatch):
    calls = []

    def interrupted_once(config, console=None, on_epoch_end=None):
        calls.append(config.lr)
        if len(calls) == 1:
            on_epoch_end(1, {"epoch": 1, "val_acc": 0.5})
            raise KeyboardInterrupt
        rows = [{"epoch": 1, "val_acc": 0.5}]
        on_epoch_end(1, rows[0])
        return {"epochs": rows, "test_accuracy": 0.5}

    monkeypatch.setattr("zoo.training.run.train", interrupted_once)
    config = write_config(tmp_path, method="random", run_cap=2,
                          parameters={"padding": {"value": "same"}, "m": {"value": 2},
                                      "lr": {"min": 0.001, "max": 0.1}})
    out = str(tmp_path / "out")
    with pytest.raises(KeyboardInterrupt):
        tune(config, out, quiet=True)
    trials = load(tmp_path / "out").trials
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.WAITING, TrialState.WAITING]
    assert trials[2].params == trials[0].params  # the interrupted trial, queued again as it was
    assert tune(config, out, quiet=True) == {"RETRIED": 1, "COMPLETE": 2}
    assert calls.count(calls[0]) == 2  # the retry trained the interrupted configuration again
    bigger = write_config(tmp_path, method="random", run_cap=4,
                          parameters={"padding": {"value": "same"}, "m": {"value": 2},
                                      "lr": {"min": 0.001, "max": 0.1}})
    assert tune(bigger, out, quiet=True) == {"RETRIED": 1, "COMPLETE": 4}
    assert load(tmp_path / "out").user_attrs["cnncost"]["run_cap"] == 4


def test_two_workers_each_running_two_process_trials_do_not_clash(tmp_path):
    """--workers 2 with data-parallel trials (nproc_per_node 2, gloo on CPU): each trial meets on its own port,
    trains, and reports its epochs."""
    config = write_config(tmp_path, "ddp", epochs=2, train={**TINY, "nproc_per_node": 2},
                          parameters={"padding": {"value": "same"}, "m": {"values": [2, 4]}})
    out = tmp_path / "out"
    assert main(["tune", config, "--out", str(out), "--workers", "2", "--quiet"]) == 0
    trials = load(out, "ddp").trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 2
    for trial in trials:
        metrics = json.loads((out / trial.user_attrs["run"] / "metrics.json").read_text())
        assert metrics["config"]["nproc_per_node"] == 2 and len(metrics["epochs"]) == 2
        assert sorted(trial.intermediate_values) == [1, 2] and trial.user_attrs["epochs_run"] == 2


def _take_all(url: str, name: str, config: str, use_lock: bool, queue) -> None:
    """One process taking trials from a SQLite study until none is left (test helper: a module-level function,
    so a spawned process can run it)."""
    from zoo.tune.spec import read_spec

    spec = read_spec(config)
    study = optuna.load_study(study_name=name, storage=studies.open_storage(url, spec.heartbeat))
    lock = studies.take_lock(url) if use_lock else None
    while (trial := studies.take_trial(study, spec, lock)) is not None:
        queue.put(trial.number)
        study.tell(trial, state=TrialState.PRUNED)


def test_racing_processes_never_take_one_sqlite_trial_twice(tmp_path):
    """Four processes empty one queue of 40 trials at once: each trial is taken by exactly one of them."""
    import multiprocessing

    config = write_config(tmp_path, "race", method="random", run_cap=40,
                          parameters={"padding": {"value": "same"}, "m": {"min": 2, "max": 8}})
    from zoo.tune.spec import read_spec

    spec = read_spec(config)
    url = studies.storage_url(tmp_path, None)
    studies.join(spec, studies.open_storage(url, spec.heartbeat), lambda s: studies.queue_trials(s, spec))
    context = multiprocessing.get_context("spawn")
    taken = context.Queue()
    racers = [context.Process(target=_take_all, args=(url, "race", config, True, taken)) for _ in range(4)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(120)
    numbers = []
    while not taken.empty():
        numbers.append(taken.get())
    assert sorted(numbers) == list(range(40))
