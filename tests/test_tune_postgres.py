"""Two worker processes share one study on a real PostgreSQL server (a throwaway cluster the test starts):
every queued trial runs exactly once, none is lost, and each lands in its own run folder."""

import json
import os

import optuna
import pytest
from optuna.trial import TrialState

from cnncost.cli import main
from tests.postgres_cluster import postgres_available, postgres_server
from tests.test_tune import write_config


def test_two_workers_share_a_postgres_study_and_run_each_trial_once(tmp_path, capsys):
    available, reason = postgres_available()
    if not available:
        if os.environ.get("CNNCOST_REQUIRE_POSTGRES") == "1":  # CI has PostgreSQL: a skip there would hide a loss
            pytest.fail(f"CNNCOST_REQUIRE_POSTGRES=1 but {reason}")
        pytest.skip(reason)
    config = write_config(tmp_path, "shared", heartbeat=2,
                          parameters={"padding": {"value": "same"}, "m": {"values": [2, 4]},
                                      "lr": {"values": [0.001, 0.01, 0.1]}})
    out = tmp_path / "study"
    with postgres_server() as url:
        assert main(["tune", config, "--out", str(out), "--storage", url, "--workers", "2"]) == 0
        shown = capsys.readouterr().out
        trials = optuna.load_study(study_name="shared", storage=url).trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 6
    expected = [{"m": m, "lr": lr} for m in (2, 4) for lr in (0.001, 0.01, 0.1)]
    assert sorted(map(json.dumps, (t.params for t in trials))) == sorted(map(json.dumps, expected))
    folders = [t.user_attrs["run"] for t in trials]
    assert len(set(folders)) == 6
    for trial in trials:  # each run folder trained its own trial's configuration, once
        metrics = json.loads((out / trial.user_attrs["run"] / "metrics.json").read_text())
        assert (metrics["config"]["lr"], metrics["arch_config"]["m"]) == (trial.params["lr"], trial.params["m"])
    assert sorted((out / "logs").iterdir()) == [out / "logs" / "worker-0.log", out / "logs" / "worker-1.log"]
    assert "6 of 6 trials finished: 6 complete, 0 pruned, 0 failed" in shown
    assert all(f"trial {n} · val_acc" in shown for n in range(6))
    assert json.loads((out / "tune.json").read_text())["study"] == "shared"
