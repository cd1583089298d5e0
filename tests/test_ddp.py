"""Data-parallel ``cnncost train`` (torchrun's engine, DDP, gloo on CPU) against one-process runs.

Independent reference: the same run in one process (loop.train_epoch, untouched by the parallel code),
whose weights two processes must reproduce within float rounding when the global batch is the same;
and an uninterrupted two-process run, which a killed-and-resumed one must reproduce.

Networks without dropout (``--dropout 0`` / scratch5): dropout masks are drawn per process, so with
dropout no two world sizes see the same masks. Every launch starts two spawned Python processes (a few
seconds each on a loaded machine): runs are tiny and shared between tests through module fixtures.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from cnncost.cli import main
from zoo import build
from zoo.runtime.config import TrainConfig
from zoo.training.run import train

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMALL = {"m": 8, "n": 32}
EPOCHS = 6  # long enough that a rank can be killed after the first checkpoint and before the end
ROOT = Path(__file__).resolve().parent.parent


def options(out, **overrides) -> dict:
    """A tiny smallcnn_res run: 64 synthetic images (54 train: a short last step of 6), batch 16."""
    values = dict(arch="smallcnn_res", hyperparameters=dict(SMALL), img_size=32, synthetic_size=64, epochs=EPOCHS,
                  batch_size=16, lr=3e-3, dropout=0.0, device="cpu", out=str(out), quiet=True, plots=False)
    values.update(overrides)
    return values


def weights(folder) -> dict:
    return torch.load(Path(folder) / "checkpoint.pt", weights_only=True)["model"]


# Two ranks sum each gradient in another order than one process does, so the weights drift apart by fp32
# rounding: 1.3e-5 after the 6 epochs with the packages installed on 2026-12-02, under 1e-5 before. A real
# fault (a rank training on the other's shard, a skipped step) moves them by about one Adam step, lr = 3e-3.
TOLERANCE = 5e-5


def assert_close(left: dict, right: dict, atol=TOLERANCE):
    assert left.keys() == right.keys()
    for key in left:
        assert torch.allclose(left[key].double(), right[key].double(), atol=atol, rtol=0), (
            key, float((left[key].double() - right[key].double()).abs().max()))


def cli_words(out, *extra) -> list:
    return [sys.executable, "-m", "cnncost", "train", "smallcnn_res", "--m", "8", "--n", "32", "--img-size", "32",
            "--synthetic-size", "64", "--epochs", str(EPOCHS), "--batch-size", "16", "--lr", "0.003",
            "--dropout", "0", "--device", "cpu", "--quiet", "--no-plots", "--nproc-per-node", "2", "--sync-bn",
            "--out", str(out), *extra]


def environment() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


@pytest.fixture(scope="module")
def two_process_run(tmp_path_factory):
    """The reference two-process run (``--sync-bn``, logging to every file sink), started through the command
    line."""
    out = tmp_path_factory.mktemp("ddp") / "two"
    done = subprocess.run(cli_words(out, "--log", "console,jsonl,csv"), env=environment(), cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return out


def test_two_processes_train_the_one_process_weights(tmp_path, two_process_run):
    one = train(TrainConfig(**options(tmp_path / "one")))
    assert_close(weights(two_process_run), weights(tmp_path / "one"))
    saved = torch.load(two_process_run / "checkpoint.pt", weights_only=True)
    assert saved["world_size"] == 2 and len(saved["rank_rng"]) == 2
    import json

    metrics = json.loads((two_process_run / "metrics.json").read_text())
    assert metrics["parallel"] == {"processes": 2, "global_batch": 16, "per_process": 8, "accumulate": 1,
                                   "micro_batch": 8, "sync_bn": True}
    # All-reduced metrics are the one-process figures: the same counts, losses within rounding.
    for mine, theirs in zip(metrics["epochs"], one["epochs"]):
        assert mine["val_acc"] == theirs["val_acc"] and mine["train_acc"] == theirs["train_acc"]
        assert abs(mine["train_loss"] - theirs["train_loss"]) < 1e-4


def test_only_rank_0_writes_the_log_files(two_process_run):
    """Two processes: each epoch is in events.jsonl and epochs.csv once, as metrics.json has it."""
    from tests.test_train_events import assert_csv_equals, epoch_records, records

    import json

    saved = json.loads((two_process_run / "metrics.json").read_text())
    assert [row["epoch"] for row in saved["epochs"]] == list(range(1, EPOCHS + 1))
    assert epoch_records(two_process_run) == saved["epochs"]
    assert_csv_equals(two_process_run, saved["epochs"])
    assert [r["processes"] for r in records(two_process_run) if r["type"] == "run_started"] == [2]


def test_accumulation_over_two_processes_is_the_one_process_step(tmp_path):
    """scratch5 without BatchNorm: 2 processes × 2 micro-batches (the short last step of 6 images cut 2 + 1
    on each process) against one process with the whole batch."""
    network = dict(arch="scratch5", hyperparameters={"m": 4, "n": 16, "padding": "same"}, dropout=None, epochs=2)
    train(TrainConfig(**options(tmp_path / "one", **network)))
    train(TrainConfig(**options(tmp_path / "two", nproc_per_node=2, accumulate=2, **network)))
    assert_close(weights(tmp_path / "two"), weights(tmp_path / "one"))


def _workers(parent: int) -> list:
    """The spawned training processes under ``parent`` (not multiprocessing's resource tracker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent and "spawn_main" in command \
                and "resource_tracker" not in command:
            found.append(int(entry.name))
    return sorted(found)


def test_a_killed_rank_stops_the_run_and_resume_finishes_it(tmp_path, two_process_run):
    out = tmp_path / "killed"
    run = subprocess.Popen(cli_words(out), env=environment(), cwd=ROOT, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 90
    while not (out / "checkpoint.pt").exists() and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    workers = _workers(run.pid)
    assert len(workers) == 2, workers
    os.kill(workers[-1], signal.SIGKILL)
    stderr = run.communicate(timeout=60)[1]
    assert run.returncode == 1, stderr[-2000:]
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("rank ") and "stopped (killed by SIGKILL)" in last, stderr[-2000:]
    assert last.endswith(f"the last finished epoch is saved in {out}; continue with --resume")
    stopped_at = torch.load(out / "checkpoint.pt", weights_only=True)["epoch"]
    assert 1 <= stopped_at < EPOCHS  # the kill landed mid-run
    resumed = subprocess.run(cli_words(out, "--resume"), env=environment(), cwd=ROOT, capture_output=True,
                             text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    end, reference = weights(out), weights(two_process_run)
    assert all(torch.equal(end[key], reference[key]) for key in reference)  # every rank's stream restored


def test_resume_on_another_world_size_is_refused(tmp_path, two_process_run, capsys):
    code = main(["train", "smallcnn_res", "--m", "8", "--n", "32", "--img-size", "32", "--synthetic-size", "64",
                 "--epochs", str(EPOCHS + 1), "--batch-size", "16", "--lr", "0.003", "--dropout", "0", "--device", "cpu",
                 "--quiet", "--no-plots", "--sync-bn", "--out", str(two_process_run), "--resume"])
    error = capsys.readouterr().err.strip()
    assert code == 2 and error == (f"error: --nproc-per-node: the run in {two_process_run} trained on 2 processes; resume it "
                                   "on 2 (processes per machine × machines), not 1, to continue it exactly")


def test_last_layer_on_cached_features_under_two_processes(tmp_path):
    torch.manual_seed(1)
    pretrained = tmp_path / "pretrained.pth"
    torch.save(build("smallcnn_res", num_classes=1000, h=32, w=32, **SMALL).state_dict(), pretrained)
    common = dict(strategy="last-layer", weights=str(pretrained), epochs=2)
    one = train(TrainConfig(**options(tmp_path / "one", **common)))
    train(TrainConfig(**options(tmp_path / "two", nproc_per_node=2, **common)))
    two, reference = weights(tmp_path / "two"), weights(tmp_path / "one")
    assert one["epochs"][0]["cached"]
    assert_close({k: v for k, v in two.items() if k.startswith("fc2.")},
                 {k: v for k, v in reference.items() if k.startswith("fc2.")})
    assert all(torch.equal(two[k], reference[k]) for k in reference if not k.startswith("fc2."))  # frozen


@pytest.mark.parametrize("args, message", [
    (["--nproc-per-node", "4", "--batch-size", "30"],
     "--batch-size: 30 does not share out over 4 processes × 1 micro-batch (need a multiple of 4: 28 or 32)"),
    (["--nproc-per-node", "2", "--accumulate", "4", "--batch-size", "4"],
     "--batch-size: 4 does not share out over 2 processes × 4 micro-batches (need a multiple of 8: 8)"),
    (["--nnodes", "2"], "--rdzv-endpoint: None is out of range (need HOST:PORT, the port from 1 to 65,535)"),
    (["--nproc-per-node", "0"], "--nproc-per-node: 0 is out of range (need an integer from 1 to 1,024)"),
])
def test_impossible_setups_are_one_line(tmp_path, capsys, args, message):
    code = main(["train", "smallcnn_res", "--img-size", "32", "--out", str(tmp_path / "o"), "--quiet", *args])
    assert (code, capsys.readouterr().err.strip()) == (2, "error: " + message)
    assert not (tmp_path / "o").exists()


@pytest.mark.skipif(torch.cuda.device_count() >= 2, reason="the machine has the GPUs")
def test_more_processes_than_gpus_is_one_line(tmp_path, capsys):
    code = main(["train", "smallcnn_res", "--img-size", "32", "--out", str(tmp_path / "o"), "--quiet",
                 "--nproc-per-node", "2", "--device", "cuda"])
    assert (code, capsys.readouterr().err.strip()) == (
        2, f"error: --nproc-per-node: 2 processes on this machine need one GPU each with --device cuda; torch sees "
           f"{torch.cuda.device_count()} (use at most that many, or --device cpu)")


def test_an_unreachable_rendezvous_is_one_line(tmp_path, capsys):
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code = main(["train", "smallcnn_res", "--img-size", "32", "--out", str(tmp_path / "o"), "--quiet", "--device",
                 "cpu", "--nnodes", "2", "--node-rank", "1", "--rdzv-endpoint", f"127.0.0.1:{port}",
                 "--rdzv-timeout", "2"])
    error = capsys.readouterr().err.strip()
    assert code == 2 and error.startswith(f"error: --rdzv-endpoint: machine 1 could not reach 127.0.0.1:{port} "
                                          "within 2 s ("), error
    assert "\n" not in error
