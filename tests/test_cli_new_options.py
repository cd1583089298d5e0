"""CLI property tests for the newer options: train's --monitor, --clip-value, --dropout-at, --accumulate,
--nproc-per-node, --data FORM=PATH, --augment SPEC, --resize, --ema, --log and --binary, and tune report's --top, drawn in random combinations with hostile
values. Every run exits 0 or 2; a 2 is one `error:` line naming the option; nothing is a traceback."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnncost.cli import main

FLAG = object()  # an option that takes no value
TINY = ["train", "smallcnn_res", "--img-size", "32", "--m", "4", "--n", "16", "--synthetic-size", "20",
        "--epochs", "1", "--batch-size", "8", "--device", "cpu", "--no-plots", "--quiet"]
VALUES = {
    "--monitor": st.sampled_from(["val_acc", "val_loss", "train_loss", "loss", "", "VAL_ACC", "val_acc;rm"]),
    "--clip-value": st.sampled_from(["0.5", "1e-3", "0", "-1", "nan", "inf", "1e400", "abc"]),
    "--dropout-at": st.sampled_from(["fc1", "conv1,fc1", "conv9", ",", "fc1,fc1", "", "a" * 300]),
    "--dropout": st.sampled_from(["0.2", "1.5", "-0.1", "nan"]),
    "--accumulate": st.sampled_from(["1", "0", "-3", "9" * 40, "x"]),
    "--nproc-per-node": st.sampled_from(["0", "-1", "9" * 30, "1025"]),  # never a valid count above 1: no spawns
    "--data": st.sampled_from(["cifar10=", "mnist=/nonexistent", "cifar11=x", "csv=/nonexistent.csv", "folder="]),
    "--augment": st.sampled_from(["hflip,vflip,rotate=0.4", "mixup=0.2,cutmix=1", "crop=0.35,pad-crop=4,jitter=0.2",
                                  "rotate=9", "flip", "hflip,hflip", "mixup=-1", "pad-crop=x", ",", "=", "hflip=1"]),
    "--resize": st.sampled_from(["plain", "crop", "stretch", ""]),
    "--ema": st.sampled_from(["0.9", "0.999", "0", "1", "-0.5", "nan", "x"]),
    "--log": st.sampled_from(["console", "jsonl,csv", "csv", "tensorbord", "", "jsonl,jsonl", "console;rm"]),
    "--binary": st.just(FLAG),  # synthetic data has more than 2 classes: a refusal, in one line
}


# capsys is read out before and after each example, so sharing it across examples is safe.
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chosen=st.dictionaries(st.sampled_from(sorted(VALUES)), st.just(None), max_size=5), data=st.data())
def test_train_new_options_in_any_combination(chosen, data, tmp_path_factory, capsys):
    args = list(TINY) + ["--out", str(tmp_path_factory.mktemp("run") / "out")]
    for option in chosen:
        value = data.draw(VALUES[option], label=option)
        args += [option] if value is FLAG else [option, value]
    capsys.readouterr()
    code = main(args)
    captured = capsys.readouterr()
    assert code in (0, 2), (args, code, captured.err)
    assert "Traceback" not in captured.err and "Traceback" not in captured.out
    if code == 2:
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (args, captured.err)
        assert len(lines[0]) < 600, lines[0]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(top=st.sampled_from(["0", "-1", "x", "9" * 40, "3"]), plots=st.sampled_from(["none", "/nonexistent/dir/x"]),
       folder=st.sampled_from(["", "nowhere", "/"]))
def test_tune_report_hostile_options(top, plots, folder, tmp_path_factory, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
    args = ["tune", "report"] + ([folder] if folder else []) + ["--top", top, "--plots", plots]
    capsys.readouterr()
    code = main(args)
    captured = capsys.readouterr()
    assert code == 2, (args, code)  # no study anywhere: always a refusal
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in captured.err, captured.err
