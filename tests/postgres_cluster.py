"""A throwaway PostgreSQL server for tests: Optuna's shared study storage needs a real RDB server.

`postgres_server()` builds a fresh cluster in a temporary directory, serves it on a free port of
127.0.0.1 only, and yields a SQLAlchemy URL; on exit the server is stopped and the directory removed.

PostgreSQL refuses to run as root, and CI runs the tests as root. The server then runs as the Debian
`postgres` system user (or `nobody` where that does not exist): the root process starts initdb,
pg_ctl and postgres with that uid, so no user is created and no sudo is needed. Run by an ordinary
user, everything runs as that user.

Authentication is `trust` for TCP from 127.0.0.1 and nothing else: pg_hba.conf has no line for the unix
socket (it lives in the private temporary directory anyway) nor for any other address.
While a test runs, any local process could connect as the cluster's superuser; that is acceptable
for a short-lived test cluster holding nothing, and is why it never listens beyond the loopback.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

# Users a root process may hand the server to, in order of preference; never created here.
SERVER_USERS_FOR_ROOT = ("postgres", "nobody")
REQUIRED_PROGRAMS = ("initdb", "pg_ctl", "postgres")
LOOPBACK = "127.0.0.1"
CLUSTER_MARKER = "CNNCOST_TEST_PG_CLUSTER"


class PostgresClusterError(RuntimeError):
    """The throwaway server could not be set up, started or stopped; the message says which step."""


@dataclass(frozen=True)
class ServerAccount:
    """The OS account the cluster runs as; `switch` is true when we must setuid to it (we are root)."""

    name: str
    uid: int
    gid: int
    switch: bool


def _version_key(bindir: str) -> tuple[int, ...]:
    """Sort key of /usr/lib/postgresql/<version>/bin by version number ('9.6' < '15')."""
    version = Path(bindir).parent.name
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def _has_programs(bindir: str) -> bool:
    """Whether bindir holds every program the cluster needs, executable."""
    return all(os.access(os.path.join(bindir, name), os.X_OK) for name in REQUIRED_PROGRAMS)


def find_bindir() -> str:
    """The newest Debian-style /usr/lib/postgresql/*/bin, else `pg_config --bindir`."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
    for bindir in candidates:
        if _has_programs(bindir):
            return bindir
    pg_config = shutil.which("pg_config")
    if pg_config:
        answer = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10)
        bindir = answer.stdout.strip()
        if answer.returncode == 0 and _has_programs(bindir):
            return bindir
    raise PostgresClusterError("PostgreSQL server programs (initdb, pg_ctl, postgres) not found in "
                               "/usr/lib/postgresql/*/bin nor in `pg_config --bindir`")


def server_account() -> ServerAccount:
    """Who runs the server: ourselves, or when we are root the first existing unprivileged system user."""
    if os.geteuid() != 0:
        try:
            me = pwd.getpwuid(os.geteuid())
        except KeyError:
            # initdb itself refuses a uid without a passwd entry; say so before it does.
            raise PostgresClusterError(f"uid {os.geteuid()} has no passwd entry; initdb needs a user name") from None
        return ServerAccount(me.pw_name, me.pw_uid, me.pw_gid, switch=False)
    for name in SERVER_USERS_FOR_ROOT:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        if entry.pw_uid != 0:
            return ServerAccount(entry.pw_name, entry.pw_uid, entry.pw_gid, switch=True)
    raise PostgresClusterError(f"running as root and none of the users {', '.join(SERVER_USERS_FOR_ROOT)} "
                               "exists; PostgreSQL will not run as root")


def postgres_available() -> tuple[bool, str]:
    """(True, what will be used) where a throwaway server can be started here, else (False, why not)."""
    try:
        import psycopg2  # noqa: F401  (the URL names this driver)
    except ImportError:
        return False, "psycopg2 is not installed (pip install psycopg2-binary)"
    try:
        bindir = find_bindir()
        account = server_account()
    except PostgresClusterError as error:
        return False, str(error)
    return True, f"PostgreSQL from {bindir}, run as {account.name}"


def _private_base_dir(account: ServerAccount) -> Path:
    """A fresh 0700 temporary directory owned by the server account: data, socket and log live in it."""
    parent = Path(tempfile.gettempdir())
    if account.switch and not _world_traversable(parent):
        # $TMPDIR may sit under /root, which the server user cannot enter; /tmp always can be.
        parent = Path("/tmp")
    base = Path(tempfile.mkdtemp(prefix="cnncost-pg-", dir=parent))
    if account.switch:
        os.chown(base, account.uid, account.gid)
    return base


def _world_traversable(path: Path) -> bool:
    """Whether every directory from / down to path lets other users through (o+x)."""
    resolved = path.resolve()
    for directory in [resolved, *resolved.parents]:
        if not os.stat(directory).st_mode & 0o001:
            return False
    return True


def _server_env(base: Path, bindir: str) -> dict[str, str]:
    """A clean environment for the server programs: no PG* variables of the caller leak in.

    CLUSTER_MARKER tags every process of this cluster: postgres children call setsid(), so neither the
    process group nor (after a kill) the parent pid finds them all, but they all inherit the environment.
    """
    return {"PATH": f"{bindir}{os.pathsep}/usr/bin{os.pathsep}/bin", "HOME": str(base), "LC_ALL": "C", "LANG": "C",
            CLUSTER_MARKER: str(base)}


def _as_account(account: ServerAccount) -> dict:
    """Popen keywords that run the child as the server account (only root may, and must, switch)."""
    if not account.switch:
        return {}
    return {"user": account.uid, "group": account.gid, "extra_groups": []}


def _run_as(account: ServerAccount, base: Path, bindir: str, argv: list[str], timeout: float, step: str) -> None:
    """Run one server program to completion as the account; a failure raises with its output."""
    try:
        done = subprocess.run(argv, cwd=base, env=_server_env(base, bindir), capture_output=True, text=True,
                              timeout=timeout, **_as_account(account))
    except subprocess.TimeoutExpired:
        raise PostgresClusterError(f"{step} did not finish within {timeout:g} s") from None
    if done.returncode != 0:
        raise PostgresClusterError(f"{step} failed (exit {done.returncode}): {(done.stderr or done.stdout).strip()}")


def _init_cluster(account: ServerAccount, base: Path, bindir: str) -> Path:
    """initdb a new cluster and restrict its pg_hba.conf to trusted TCP from 127.0.0.1."""
    data_dir = base / "data"
    argv = [os.path.join(bindir, "initdb"), "-D", str(data_dir), "-U", account.name, "-E", "UTF8", "--locale=C",
            "--auth-local=reject", "--auth-host=trust", "--no-sync"]
    _run_as(account, base, bindir, argv, timeout=120, step="initdb")
    hba = data_dir / "pg_hba.conf"
    # Truncating the file initdb wrote keeps its owner and mode, so the server can still read it.
    with open(hba, "w", encoding="utf-8") as out:
        out.write("# throwaway test cluster: TCP from this machine only, no password\n"
                  f"host all all {LOOPBACK}/32 trust\n")
    return data_dir


def _free_port() -> int:
    """A TCP port of 127.0.0.1 that is free right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def _log_tail(log_path: Path, lines: int = 15) -> str:
    """The last lines of the server log, for error messages."""
    try:
        return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


def _launch(account: ServerAccount, base: Path, bindir: str, data_dir: Path, port: int) -> subprocess.Popen:
    """Start postgres in the background, in a session of its own: a Ctrl-C meant for pytest does not reach it."""
    argv = [os.path.join(bindir, "postgres"), "-D", str(data_dir), "-p", str(port),
            "-c", f"listen_addresses={LOOPBACK}", "-c", f"unix_socket_directories={base}",
            # Durability is pointless for a cluster deleted at the end of the test; skipping it is faster.
            "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
    with open(base / "postgres.log", "ab") as log:
        return subprocess.Popen(argv, cwd=base, env=_server_env(base, bindir), stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True, **_as_account(account))


def _wait_until_ready(process: subprocess.Popen, port: int, user: str, log_path: Path, timeout: float) -> None:
    """Poll until the server accepts a connection; raise if it exits or the bounded wait runs out."""
    import psycopg2

    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise PostgresClusterError(f"postgres exited with code {process.returncode} before accepting "
                                       f"connections on {LOOPBACK}:{port}:\n{_log_tail(log_path)}")
        try:
            psycopg2.connect(host=LOOPBACK, port=port, user=user, dbname="postgres", connect_timeout=2).close()
            return
        except psycopg2.OperationalError:
            pass
        if time.monotonic() > deadline:
            raise PostgresClusterError(f"postgres did not accept connections on {LOOPBACK}:{port} within "
                                       f"{timeout:g} s:\n{_log_tail(log_path)}")
        time.sleep(0.05)


def _start_server(account: ServerAccount, base: Path, bindir: str, data_dir: Path,
                  timeout: float, processes: list[subprocess.Popen]) -> int:
    """Start postgres on a free port and return the port once it accepts connections.

    Another process may take the port between our probe and the server's bind; then retry on a new one.
    Every process started is appended to `processes` at once, so the caller stops it whatever happens.
    """
    log_path = base / "postgres.log"
    for _attempt in range(3):
        port = _free_port()
        process = _launch(account, base, bindir, data_dir, port)
        processes.append(process)
        try:
            _wait_until_ready(process, port, account.name, log_path, timeout)
            return port
        except PostgresClusterError:
            if process.poll() is None or "Address already in use" not in _log_tail(log_path):
                raise
    raise PostgresClusterError(f"postgres found no free port on {LOOPBACK} in 3 tries:\n{_log_tail(log_path)}")


def _create_database(port: int, user: str, dbname: str) -> None:
    """CREATE DATABASE dbname, owned by the cluster's superuser."""
    import psycopg2
    from psycopg2 import sql

    connection = psycopg2.connect(host=LOOPBACK, port=port, user=user, dbname="postgres", connect_timeout=5)
    try:
        connection.autocommit = True  # CREATE DATABASE cannot run inside a transaction
        with connection.cursor() as cursor:
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    finally:
        connection.close()


def _cluster_processes(base: Path) -> list[int]:
    """Live pids whose environment carries this cluster's marker (zombies awaiting a reaper do not count).

    Reading another process's environment needs root or the same user: exactly who started the cluster.
    """
    tag = f"{CLUSTER_MARKER}={base}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            environment = Path(f"/proc/{entry}/environ").read_bytes().split(b"\0")
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue  # ended while we looked, or not ours to read
        if tag in environment and state != "Z":
            found.append(int(entry))
    return found


def _wait_quietly(process: subprocess.Popen, seconds: float) -> None:
    """Wait up to `seconds` for the process to end; not ending is for the caller to handle."""
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=seconds)


def _stop_server(account: ServerAccount, base: Path, bindir: str, data_dir: Path,
                 process: subprocess.Popen) -> None:
    """Stop the postmaster, politely first, and make sure no process of the cluster outlives this call.

    The ladder: `pg_ctl stop -m fast`; SIGQUIT (immediate shutdown: the postmaster stops its children and
    reaps them); SIGKILL. Only the last leaves children to be reaped by PID 1, which in a container
    often reaps nothing, so they can stay as zombies: harmless, but visible to pgrep.
    """
    if process.poll() is None:
        argv = [os.path.join(bindir, "pg_ctl"), "stop", "-D", str(data_dir), "-m", "fast", "-w", "-t", "20"]
        try:
            _run_as(account, base, bindir, argv, timeout=30, step="pg_ctl stop")
            _wait_quietly(process, 5)  # pg_ctl returns when postmaster.pid is gone, just before the exit
        except PostgresClusterError:
            pass  # the signals below still stop it
    for stop_signal in (signal.SIGQUIT, signal.SIGKILL):
        if process.poll() is None:
            process.send_signal(stop_signal)
            _wait_quietly(process, 5)
    process.wait()
    deadline = time.monotonic() + 10
    while survivors := _cluster_processes(base):
        if time.monotonic() > deadline:
            raise PostgresClusterError(f"postgres processes {survivors} survived SIGKILL")
        for pid in survivors:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)


@contextlib.contextmanager
def postgres_server(dbname: str = "cnncost_test", start_timeout: float = 60.0) -> Iterator[str]:
    """Run a throwaway PostgreSQL server; yield `postgresql+psycopg2://USER@127.0.0.1:PORT/DBNAME`.

    On exit, also when the body raises, the server is stopped and its temporary directory removed.
    """
    bindir = find_bindir()
    account = server_account()
    base = _private_base_dir(account)
    processes: list[subprocess.Popen] = []
    data_dir = base / "data"
    try:
        _init_cluster(account, base, bindir)
        port = _start_server(account, base, bindir, data_dir, start_timeout, processes)
        _create_database(port, account.name, dbname)
        yield f"postgresql+psycopg2://{quote(account.name, safe='')}@{LOOPBACK}:{port}/{quote(dbname, safe='')}"
    finally:
        try:
            for process in processes:
                _stop_server(account, base, bindir, data_dir, process)
        finally:
            shutil.rmtree(base, ignore_errors=True)
