"""``cnncost train`` against hostile and unusual input (issue 12): every bad option is one line and
exit 2 before anything is written; the run folder is locked, never overwritten, resumable however it
is spelled or wherever it moved; unreadable data is refused; Ctrl-C tells the truth.

References: the file system itself (what exists after a refused run), fcntl (a lock held by this
test), torch (parameter and activation sizes counted on the module for the memory estimate).
"""

import os
import shutil
import warnings

import pytest
import torch
from PIL import Image

from cnncost.cli import main
from cnncost.errors import CnncostError
from zoo.runtime import images
from zoo.runtime import model
from zoo.training import memory, runfolder
from zoo.runtime.config import TrainConfig
from zoo.training.run import train

pytestmark = pytest.mark.usefixtures("one_torch_thread", "no_plots")


@pytest.fixture
def no_plots(monkeypatch):
    """The PNGs take most of a tiny run's time and are tested in test_train_reports.py."""
    from zoo.training import report

    monkeypatch.setattr(report, "_plots", lambda *args: None)

FAST = ["--img-size", "32", "--m", "8", "--n", "32", "--synthetic-size", "40", "--epochs", "1", "--quiet"]


def config(out, **overrides) -> TrainConfig:
    values = dict(arch="smallcnn_res", data="synthetic", epochs=1, batch_size=32, img_size=32, out=str(out),
                  hyperparameters={"m": 8, "n": 32}, synthetic_size=40, quiet=True)
    values.update(overrides)
    return TrainConfig(**values)


def run_cli(capsys, *args):
    """(exit code, stderr) of ``cnncost train smallcnn_res ...``."""
    capsys.readouterr()
    code = main(["train", "smallcnn_res", *args])
    return code, capsys.readouterr().err


def one_line(err: str, prefix: str, *phrases) -> None:
    assert err.startswith("error: " + prefix) and err.count("\n") == 1 and "Traceback" not in err, err
    for phrase in phrases:
        assert phrase in err, err


# ---------------------------------------------------------------- options: range, finiteness, memory


@pytest.mark.parametrize("option, value, allowed", [
    ("--seed", str(2**70), "from 0 to 4,294,967,295"),
    ("--seed", "-1", "from 0 to 4,294,967,295"),
    ("--momentum", "-1", "0 ≤ value < 1"),
    ("--momentum", "nan", "0 ≤ value < 1"),
    ("--momentum", "1", "0 ≤ value < 1"),
    ("--lr", "inf", "finite number > 0"),
    ("--weight-decay", "inf", "finite number ≥ 0"),
    ("--warmup-epochs", "inf", "finite number ≥ 0"),
    ("--clip-grad", "inf", "finite number > 0"),
    ("--gamma", "nan", "0 < value ≤ 1"),
    ("--label-smoothing", "nan", "0 ≤ value < 1"),
    ("--img-size", "100000", "from 1 to 8,192"),
    ("--synthetic-size", str(10**20), "from 20 to 1,000,000"),
    ("--device", "tpu", "one of auto, cpu, cuda"),
])
def test_out_of_range_options_are_refused_before_anything_is_written(tmp_path, capsys, option, value, allowed):
    out = tmp_path / "run"
    code, err = run_cli(capsys, *FAST, "--out", str(out), option, value)
    assert code == 2
    one_line(err, option + ":", allowed)
    assert not out.exists()


def test_empty_out_is_refused_not_the_current_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, err = run_cli(capsys, *FAST, "--out", "")
    assert code == 2
    one_line(err, "--out: empty")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("where, phrase", [
    (lambda tmp: tmp / "file", "is a file"),
    (lambda tmp: tmp / "file" / "run", "is a file, so"),
    (lambda tmp: "/proc/cnncost-run", "virtual file system"),
    (lambda tmp: "/proc/self", "virtual file system"),
])
def test_out_that_cannot_be_a_folder(tmp_path, capsys, where, phrase):
    (tmp_path / "file").write_text("precious")
    code, err = run_cli(capsys, *FAST, "--out", str(where(tmp_path)))
    assert code == 2
    one_line(err, "--out:", phrase)
    assert (tmp_path / "file").read_text() == "precious" and os.listdir(tmp_path) == ["file"]


def test_memory_estimate_counts_what_torch_allocates():
    """4 float32 copies of every parameter + 2 of every activation of a batch (input included)."""
    prepared = model.prepare("smallcnn_res", {"m": 8, "n": 32}, 32, 10)
    outputs = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: outputs.append(out.numel()))
             for m in prepared.model.modules() if not list(m.children())]
    prepared.model.eval()(torch.zeros(1, 3, 32, 32))
    for hook in hooks:
        hook.remove()
    params = sum(p.numel() for p in prepared.model.parameters())
    expected = 4 * (4 * params + 2 * 5 * (3 * 32 * 32 + sum(outputs)))
    assert memory.training_bytes(prepared.table, 5) == expected


def test_a_run_too_big_for_memory_is_refused_before_the_module_is_built(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda device: 2**30)  # a 1 GiB machine
    built = []
    monkeypatch.setattr(model, "prepare", lambda *a, **k: built.append(a))
    code, err = run_cli(capsys, "--img-size", "2048", "--m", "8", "--n", "32", "--synthetic-size", "40",
                        "--batch-size", "64", "--quiet", "--out", str(tmp_path / "run"))
    assert code == 2
    one_line(err, "--img-size:", "2048×2048", "GiB", "1.0 GiB", "--batch-size")
    assert built == [] and not (tmp_path / "run").exists()


# ---------------------------------------------------------------- names: --hw, module:SPEC


def test_hw_is_an_alias_of_img_size(tmp_path, capsys):
    code, err = run_cli(capsys, "--hw", "3", "--quiet", "--out", str(tmp_path / "run"))
    assert code == 2
    one_line(err, "--img-size: 3 is too small")


def test_a_user_module_trains_without_a_classes_option(tmp_path):
    spec = "module:" + os.path.join(os.path.dirname(__file__), "data", "user_modules", "plain_cnn.py") + ":make"
    metrics = train(config(tmp_path / "run", arch=spec, img_size=None, hyperparameters={}))
    assert metrics["params"]["trainable"] == sum(p.numel() for p in model.prepare(spec, {}, None, 10).model
                                                 .parameters())


def test_a_user_module_with_other_classes_names_the_mismatch(tmp_path, capsys):
    spec = "module:" + os.path.join(os.path.dirname(__file__), "data", "user_modules", "plain_cnn.py") + ":make"
    data = tmp_path / "data"
    for name in ("a", "b"):
        (data / "train" / name).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (32, 32), (i * 60, 90, 10)).save(data / "train" / name / f"{i}.png")
    capsys.readouterr()
    assert main(["train", spec, "--data", str(data), "--quiet", "--out", str(tmp_path / "run")]) == 2
    one_line(capsys.readouterr().err, "--data:", "outputs 10 values", "2 classes")


# ---------------------------------------------------------------- data where nothing is readable


def test_a_folder_of_only_unreadable_images_is_refused(tmp_path, capsys):
    data = tmp_path / "data"
    for name in ("a", "b"):
        (data / "train" / name).mkdir(parents=True)
        for i in range(3):
            (data / "train" / name / f"{i}.jpg").write_bytes(b"not a jpeg \x00\xff" * 20)
    out = tmp_path / "run"
    code, err = run_cli(capsys, "--data", str(data), *FAST, "--out", str(out))
    assert code == 2
    one_line(err, "--data: no readable training images", str(data), "unreadable image files skipped")
    assert not out.exists()


def test_a_decompression_bomb_is_an_unreadable_image_not_a_raw_warning(tmp_path, monkeypatch):
    path = tmp_path / "big.png"
    Image.new("RGB", (40, 40), (1, 2, 3)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 1,600 pixels: PIL warns (it errors at 2×)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with pytest.raises(Image.DecompressionBombWarning):
            images.decode(str(path))
    assert seen == []


# ---------------------------------------------------------------- the run folder


def test_a_non_empty_folder_is_never_overwritten(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "metrics.json").write_text("mine")
    code, err = run_cli(capsys, *FAST, "--out", str(out))
    assert code == 2
    one_line(err, "--out:", "not empty", "metrics.json")
    assert os.listdir(out) == ["metrics.json"] and (out / "metrics.json").read_text() == "mine"


def test_an_empty_folder_is_a_new_run(tmp_path):
    (tmp_path / "run").mkdir()
    train(config(tmp_path / "run"))
    assert (tmp_path / "run" / "checkpoint.pt").is_file()


def test_a_finished_run_asks_for_resume(tmp_path, capsys):
    out = tmp_path / "run"
    train(config(out))
    before = (out / "checkpoint.pt").read_bytes()
    code, err = run_cli(capsys, *FAST, "--out", str(out))
    assert code == 2
    one_line(err, "--out:", "already holds a run", "--resume")
    assert (out / "checkpoint.pt").read_bytes() == before


def test_resume_with_the_folder_spelled_differently_or_moved(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    train(config("run", epochs=1))
    train(config("./run", epochs=2, resume=True))  # ./run is run
    shutil.move(str(tmp_path / "run"), str(tmp_path / "moved"))
    metrics = train(config(str(tmp_path / "moved"), epochs=3, resume=True))  # the folder is the run
    assert [row["epoch"] for row in metrics["epochs"]] == [1, 2, 3]


def test_resume_with_the_data_folder_spelled_differently(tmp_path, monkeypatch):
    data = tmp_path / "data"
    for name in ("a", "b"):
        (data / "train" / name).mkdir(parents=True)
        for i in range(4):
            Image.new("RGB", (32, 32), (i * 60, 90 * (name == "a"), 10)).save(data / "train" / name / f"{i}.png")
    monkeypatch.chdir(tmp_path)
    train(config("run", data="data"))
    metrics = train(config("run", data=str(data) + "/", epochs=2, resume=True))
    assert len(metrics["epochs"]) == 2


def test_a_locked_folder_is_refused_naming_the_holder(tmp_path, capsys):
    out = tmp_path / "run"
    with runfolder.claim(out, resume=False):  # another run holds it (flock: per open file, so this conflicts)
        code, err = run_cli(capsys, *FAST, "--out", str(out))
        assert os.listdir(out) == [runfolder.LOCK]
    assert code == 2
    one_line(err, "--out:", "in use by another cnncost train", f"process {os.getpid()}")
    assert not out.exists()  # the holder created it, wrote nothing, and removed it


def test_the_lock_is_released_and_removed_after_a_run(tmp_path):
    out = tmp_path / "run"
    train(config(out))
    assert runfolder.LOCK not in os.listdir(out)
    with runfolder.claim(out, resume=True):  # nobody holds it any more
        pass


def test_temporaries_of_a_killed_write_are_removed_on_the_next_start(tmp_path):
    out = tmp_path / "run"
    train(config(out))
    stale = [out / ".best.pt.k3j4h5.tmp", out / ".checkpoint.pt.abc.tmp"]
    for path in stale:
        path.write_bytes(b"half a checkpoint")
    (out / ".notes.txt").write_text("not ours")
    train(config(out, epochs=2, resume=True))
    assert not any(path.exists() for path in stale) and (out / ".notes.txt").exists()


def test_a_folder_holding_only_stale_temporaries_is_empty(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / ".checkpoint.pt.x1y2.tmp").write_bytes(b"")
    train(config(out))
    assert not (out / ".checkpoint.pt.x1y2.tmp").exists() and (out / "checkpoint.pt").is_file()


# ---------------------------------------------------------------- Ctrl-C


def test_ctrl_c_before_the_first_epoch_says_nothing_was_saved(tmp_path, capsys, monkeypatch):
    from zoo.training import run

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(run, "_one_epoch", interrupt)
    out = tmp_path / "run"
    code, err = run_cli(capsys, *FAST, "--out", str(out))
    assert code == 130 and "nothing was saved" in err and "--resume" not in err, err
    assert not out.exists()


def test_ctrl_c_after_an_epoch_says_it_is_saved(tmp_path, capsys, monkeypatch):
    from zoo.training import run

    saved = run.checkpoint.save

    def save_then_interrupt(*args, **kwargs):
        saved(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(run.checkpoint, "save", save_then_interrupt)
    out = tmp_path / "run"
    code, err = run_cli(capsys, *FAST, "--out", str(out))
    assert code == 130 and "the last finished epoch is saved" in err and "--resume" in err, err
    assert (out / "checkpoint.pt").is_file()


def test_check_out_alone():
    with pytest.raises(CnncostError, match="^out: empty"):
        runfolder.check_out("   ")
