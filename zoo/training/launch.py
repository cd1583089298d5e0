"""``cnncost train --nproc-per-node N [--nnodes M --node-rank R --rdzv-endpoint HOST:PORT]``.

The processes are started by torchrun's own engine (``torch.distributed.launcher.api.elastic_launch``),
never by a launcher of ours: one machine uses a static rendezvous on a free local port; several
machines use a static rendezvous at machine 0's ``HOST:PORT`` (machine 0 listens there, the others
connect within ``--rdzv-timeout`` seconds). There are no restarts: a process that dies stops the run,
and ``--resume`` continues from the last finished epoch.

Each process runs :func:`run_rank`, which rebuilds the configuration from plain data and calls
``run.train`` as one rank. A rank's one-line error comes back as its return value, so the user sees
one line (not one per process) and the exit status of a bad option (2).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import tempfile
import time

from cnncost.arch import ParameterError
from cnncost.errors import CnncostError

from ..runtime.config import TrainConfig, endpoint_parts
from .distributed import check_gpus

RUN_ID = "cnncost-train"


class RankStopped(RuntimeError):
    """A training process died (killed, out of memory, a crash): the run stopped; exit status 1."""


def launch(config: TrainConfig) -> dict:
    """Train ``config`` on its processes; rank 0's metrics ({} on machines other than 0)."""
    from torch.distributed.elastic.multiprocessing import DefaultLogsSpecs, Std
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    check_gpus(config.device, config.nproc_per_node)
    endpoint = config.rdzv_endpoint if config.nnodes > 1 else f"127.0.0.1:{_free_port()}"
    assert endpoint is not None  # TrainConfig.check: more than one machine needs --rdzv-endpoint
    if config.nnodes > 1:
        _check_rendezvous(config)
    # torchelastic logs each failure as a traceback and every SIGTERM it sends: the one line below says it all.
    logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)
    with tempfile.TemporaryDirectory(prefix="cnncost-torchelastic-") as logs:
        settings = LaunchConfig(
            min_nodes=config.nnodes, max_nodes=config.nnodes, nproc_per_node=config.nproc_per_node, run_id=RUN_ID,
            rdzv_backend="static", rdzv_endpoint=endpoint,
            rdzv_configs={"rank": config.node_rank, "timeout": config.rdzv_timeout},
            max_restarts=0, monitor_interval=0.1, start_method="spawn",
            logs_specs=DefaultLogsSpecs(log_dir=os.path.join(logs, "logs"), redirects=Std.NONE, tee=Std.NONE))
        try:
            results = elastic_launch(settings, run_rank)(config.to_dict())
        except ChildFailedError as failure:
            raise RankStopped(stopped_line(failure, config.out)) from None
        except Exception as error:  # noqa: BLE001 - the rendezvous fails as RendezvousError, DistError, ...
            if _is_interrupt(error):
                raise KeyboardInterrupt from None
            raise _unreachable(config, endpoint, error) from None
    return _outcome(results)


def run_rank(values: dict):
    """One training process: the configuration rebuilt from ``values``, trained as this process's rank.
    Returns rank 0's metrics, {} on the others, or {"error": line} for a one-line error."""
    import torch

    from .freeze import EngineMismatch
    from .run import train

    config = TrainConfig.from_dict(values)
    local_processes = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    if "OMP_NUM_THREADS" not in os.environ:  # the machine's cores shared out, not each process taking all
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // local_processes))
    try:
        return {"metrics": train(config)}
    except ParameterError as error:  # its parts: the parent spells the parameter as its caller does (--weights)
        return {"parameter_error": (error.parameter, error.complaint, error.listed)}
    except CnncostError as error:
        return {"error": str(error)}
    except EngineMismatch as bug:
        return {"bug": str(bug)}


def _outcome(results: dict) -> dict:
    """Rank 0's metrics; a rank's error raised as the one line it is."""
    from .freeze import EngineMismatch

    for key in sorted(results or {}):
        value = results[key] or {}
        if "parameter_error" in value:
            raise ParameterError(*value["parameter_error"])
        if "error" in value:
            raise CnncostError(value["error"])
        if "bug" in value:
            raise EngineMismatch(value["bug"])
    first = (results or {}).get(0) or {}
    return first.get("metrics") or {}


def stopped_line(failure, out: str) -> str:
    """'rank 1 stopped (killed by SIGKILL): the last finished epoch is saved in OUT; continue with --resume'."""
    from .runfolder import saved_an_epoch

    rank, process = failure.get_first_failure()
    code = process.exitcode
    how = f"killed by {_signal_name(-code)}" if code < 0 else f"exit {code}"
    if saved_an_epoch(out):
        return f"rank {rank} stopped ({how}): the last finished epoch is saved in {out}; continue with --resume"
    return f"rank {rank} stopped ({how}) before the first epoch finished: nothing was saved; run the command again"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _is_interrupt(error: Exception) -> bool:
    """Ctrl-C (or SIGTERM) reaching the launcher: torchelastic raises its SignalException."""
    return type(error).__name__ == "SignalException"


def _unreachable(config: TrainConfig, endpoint: str, error: Exception) -> ParameterError:
    """The error for a rendezvous that failed: who was waited for, where, and for how long."""
    first = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
    if config.nnodes == 1:
        return ParameterError("nproc_per_node", f"the {config.nproc_per_node} local processes could not meet at "
                                                f"{endpoint} ({first})")
    host, port = endpoint_parts(endpoint)
    role = "listen on" if config.node_rank == 0 else "reach"
    return ParameterError("rdzv_endpoint", f"machine {config.node_rank} could not {role} {host}:{port} with all "
                                           f"{config.nnodes} machines within {config.rdzv_timeout} s ({first}); start "
                                           "every machine with the same {param:rdzv_endpoint} (machine 0's address) "
                                           "and {param:nnodes}, or raise {param:rdzv_timeout}")


def _check_rendezvous(config: TrainConfig) -> None:
    """Machine 0 can listen at ``--rdzv-endpoint``; another machine reaches it within ``--rdzv-timeout`` s.

    Checked here, before torch's TCPStore tries (its failures print C++ stack traces, not one line).
    """
    host, port = endpoint_parts(config.rdzv_endpoint)
    if config.node_rank == 0:
        try:
            with socket.create_server(("", port)):
                return
        except OSError as error:
            raise ParameterError("rdzv_endpoint", f"machine 0 cannot listen on port {port} "
                                                  f"({error.strerror or error}); choose a free port, the same on every "
                                                  "machine") from None
    deadline, last = time.monotonic() + config.rdzv_timeout, None
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=max(0.1, min(2.0, deadline - time.monotonic()))):
                return
        except OSError as error:  # not listening yet (machine 0 not started), or no route
            last = error.strerror or type(error).__name__
            time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
    raise ParameterError("rdzv_endpoint", f"machine {config.node_rank} could not reach {host}:{port} within "
                                          f"{config.rdzv_timeout} s ({last}); start machine 0 with the same "
                                          "{param:rdzv_endpoint} and {param:nnodes}, check the address and firewall, "
                                          "or raise {param:rdzv_timeout}")


def _free_port() -> int:
    """A TCP port free on this machine now (the kernel's choice), for a one-machine rendezvous."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
