"""The throwaway PostgreSQL server serves one Optuna study to several processes, and leaves nothing behind.

What the helper claims is checked from outside it: the server is asked (over SQL) where its data lives
and on which addresses it listens, the postmaster's pid is read from the data directory, the processes
are found with pgrep, and the trials the workers report on stdout are compared with raw SQL counts.
"""

import json
import os
import pwd
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from . import postgres_cluster
from .postgres_cluster import postgres_available, postgres_server

AVAILABLE, WHY_NOT = postgres_available()
# CI can insist on the real server: then "not installed" is a failure, never a quiet skip.
if not AVAILABLE and os.environ.get("CNNCOST_REQUIRE_POSTGRES") == "1":
    raise RuntimeError(f"CNNCOST_REQUIRE_POSTGRES=1 but {WHY_NOT}")
pytestmark = pytest.mark.skipif(not AVAILABLE, reason=WHY_NOT)

URL_FORM = re.compile(r"postgresql\+psycopg2://(?P<user>[A-Za-z0-9_.-]+)@127\.0\.0\.1:(?P<port>\d+)/(?P<db>\w+)")
TRIALS_PER_WORKER = 4

# One worker process: joins the existing study and reports, as JSON, the trial numbers it ran.
WORKER = """
import json, sys
import optuna
url, study_name, worker, n_trials = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
optuna.logging.set_verbosity(optuna.logging.WARNING)
study = optuna.load_study(study_name=study_name, storage=url, sampler=optuna.samplers.RandomSampler(seed=worker))
ran = []
def objective(trial):
    trial.set_user_attr("worker", worker)
    x = trial.suggest_float("x", -10.0, 10.0)
    ran.append(trial.number)
    return x * x
study.optimize(objective, n_trials=n_trials)
print(json.dumps(ran))
"""


def server_facts(url):
    """Ask the running server itself: its data directory, listen addresses, socket directory."""
    import psycopg2

    parts = URL_FORM.fullmatch(url)
    connection = psycopg2.connect(host="127.0.0.1", port=int(parts["port"]), user=parts["user"], dbname=parts["db"])
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT name, setting FROM pg_settings WHERE name IN "
                           "('data_directory', 'listen_addresses', 'unix_socket_directories')")
            return dict(cursor.fetchall())
    finally:
        connection.close()


def postmaster_pid(data_directory):
    """The postmaster's pid, from the first line of postmaster.pid in its data directory."""
    return int(Path(data_directory, "postmaster.pid").read_text().splitlines()[0])


def process_owner(pid):
    """User name owning a live process (real uid, from /proc)."""
    uid_line = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("Uid:"))
    return pwd.getpwuid(int(uid_line.split()[1])).pw_name


def pgrep(*args):
    """Pids `pgrep ARGS` finds (exit 1 means none matched; anything else is a pgrep error)."""
    found = subprocess.run(["pgrep", *args], capture_output=True, text=True)
    assert found.returncode in (0, 1), found.stderr
    return {int(pid) for pid in found.stdout.split()}


def server_tree(user, postmaster):
    """The postmaster and the postgres processes it forked (each child calls setsid, so -P, not -g)."""
    return pgrep("-u", user, "postgres") & ({postmaster} | pgrep("-u", user, "-P", str(postmaster), "postgres"))


def port_is_open(port):
    """Whether something accepts TCP connections on 127.0.0.1:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def raw_trial_counts(url, study_name):
    """(all trials, COMPLETE trials) of the study, counted with plain SQL in Optuna's tables."""
    import psycopg2

    parts = URL_FORM.fullmatch(url)
    connection = psycopg2.connect(host="127.0.0.1", port=int(parts["port"]), user=parts["user"], dbname=parts["db"])
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*), count(*) FILTER (WHERE t.state = 'COMPLETE') FROM trials t "
                           "JOIN studies s ON s.study_id = t.study_id WHERE s.study_name = %s", (study_name,))
            return cursor.fetchone()
    finally:
        connection.close()


def run_workers(url, study_name, count):
    """Start `count` worker processes at once on the same study; return the trial numbers each reports."""
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, url, study_name, str(worker), str(TRIALS_PER_WORKER)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for worker in range(count)]
    reports = []
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
        reports.append(json.loads(out.strip().splitlines()[-1]))
    return reports


def test_two_processes_share_one_study_and_nothing_is_left_behind():
    import optuna

    with postgres_server() as url:
        parts = URL_FORM.fullmatch(url)
        assert parts, url
        port, user = int(parts["port"]), parts["user"]
        facts = server_facts(url)
        assert facts["listen_addresses"] == "127.0.0.1"
        data_directory = Path(facts["data_directory"])
        assert facts["unix_socket_directories"] == str(data_directory.parent)  # the temp dir, not /var/run
        pid = postmaster_pid(data_directory)
        assert process_owner(pid) == user != "root"
        assert len(server_tree(user, pid)) >= 5  # postmaster, checkpointer, bgwriter, walwriter, launchers

        storage = optuna.storages.RDBStorage(url)
        assert storage.engine.dialect.name == "postgresql"
        optuna.create_study(storage=storage, study_name="shared", direction="minimize")
        reports = run_workers(url, "shared", count=2)

        trials = optuna.load_study(study_name="shared", storage=url).get_trials(deepcopy=False)
        assert sorted(t.number for t in trials) == list(range(2 * TRIALS_PER_WORKER))
        for worker, numbers in enumerate(reports):
            assert len(numbers) == TRIALS_PER_WORKER
            assert {t.number for t in trials if t.user_attrs["worker"] == worker} == set(numbers)
        assert all(t.state == optuna.trial.TrialState.COMPLETE and t.value == t.params["x"] ** 2 for t in trials)
        assert raw_trial_counts(url, "shared") == (2 * TRIALS_PER_WORKER, 2 * TRIALS_PER_WORKER)
        # Left open on purpose: the server must end the backend serving this pool when the context exits.
        assert storage.engine.pool.checkedin() >= 1
        last_seen = server_tree(user, pid)

    assert not port_is_open(port)
    assert pid in last_seen and not last_seen & pgrep("-u", user, "postgres")
    assert not data_directory.parent.exists()


class BodyFailed(Exception):
    """Raised inside the context on purpose."""


def test_a_failing_body_still_stops_the_server_and_removes_its_directory():
    with pytest.raises(BodyFailed):
        with postgres_server(dbname="doomed") as url:
            parts = URL_FORM.fullmatch(url)
            assert parts and parts["db"] == "doomed", url
            port, user = int(parts["port"]), parts["user"]
            data_directory = Path(server_facts(url)["data_directory"])
            pid = postmaster_pid(data_directory)
            last_seen = server_tree(user, pid)
            assert port_is_open(port) and pid in last_seen
            raise BodyFailed("the test body fails while the server runs")
    assert not port_is_open(port)
    assert not last_seen & pgrep("-u", user, "postgres")
    assert not data_directory.parent.exists()


def test_when_pg_ctl_stop_fails_the_server_is_killed_children_included(monkeypatch):
    real_run_as = postgres_cluster._run_as

    def pg_ctl_stop_fails(account, base, bindir, argv, timeout, step):
        """Every step as usual, except that the polite stop never happens."""
        if step == "pg_ctl stop":
            raise postgres_cluster.PostgresClusterError("pg_ctl stop failed (simulated)")
        return real_run_as(account, base, bindir, argv, timeout, step)

    monkeypatch.setattr(postgres_cluster, "_run_as", pg_ctl_stop_fails)
    with postgres_server() as url:
        parts = URL_FORM.fullmatch(url)
        port, user = int(parts["port"]), parts["user"]
        data_directory = Path(server_facts(url)["data_directory"])
        last_seen = server_tree(user, postmaster_pid(data_directory))
        assert len(last_seen) >= 5
    assert not port_is_open(port)
    assert not last_seen & pgrep("-u", user, "postgres")
    assert not data_directory.parent.exists()
