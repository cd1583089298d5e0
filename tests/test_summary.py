"""cnncost summary: Keras-style rows and totals, checked against the Keras summaries report 003 prints.

Keras prints output shapes as (None, H, W, C); the summary prints C×H×W. Keras'
"Param #" counts BatchNorm's moving statistics, and so does the summary's.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

import cnncost
from cnncost.cli import app, main
from cnncost.conventions import totals

runner = CliRunner()
DATA = Path(__file__).parent / "data" / "user_modules"
CIFAR = ["--hw", "32", "--classes", "10", "--padding", "same"]

# Report 003, Fig. 2 (CIFAR-10 naive CNN), as printed: layer, output shape, Param #.
FIG2 = """conv2d (Conv2D) (None, 32, 32, 32) 896
max_pooling2d (MaxPooling2D) (None, 16, 16, 32) 0
conv2d_1 (Conv2D) (None, 16, 16, 64) 18496
batch_normalization (BatchNormalization) (None, 16, 16, 64) 256
max_pooling2d_1 (MaxPooling2D) (None, 8, 8, 64) 0
dropout (Dropout) (None, 8, 8, 64) 0
conv2d_2 (Conv2D) (None, 8, 8, 128) 73856
max_pooling2d_2 (MaxPooling2D) (None, 4, 4, 128) 0
conv2d_3 (Conv2D) (None, 4, 4, 128) 147584
max_pooling2d_3 (MaxPooling2D) (None, 2, 2, 128) 0
flatten (Flatten) (None, 512) 0
dense (Dense) (None, 256) 131328
dense_1 (Dense) (None, 10) 2570"""

# Report 003, Fig. 1 (cats vs dogs, 150×150, valid padding, one sigmoid unit): smallcnn's defaults.
FIG1 = """conv2d_12 (Conv2D) (None, 148, 148, 32) 896
max_pooling2d_12 (MaxPooling2D) (None, 74, 74, 32) 0
conv2d_13 (Conv2D) (None, 72, 72, 64) 18496
batch_normalization_3 (BatchNormalization) (None, 72, 72, 64) 256
max_pooling2d_13 (MaxPooling2D) (None, 36, 36, 64) 0
dropout_3 (Dropout) (None, 36, 36, 64) 0
conv2d_14 (Conv2D) (None, 34, 34, 128) 73856
max_pooling2d_14 (MaxPooling2D) (None, 17, 17, 128) 0
conv2d_15 (Conv2D) (None, 15, 15, 128) 147584
max_pooling2d_15 (MaxPooling2D) (None, 7, 7, 128) 0
flatten_4 (Flatten) (None, 6272) 0
dense_8 (Dense) (None, 256) 1605888
dense_9 (Dense) (None, 1) 257"""

KERAS_TYPES = {"Conv2D": "Conv2d", "MaxPooling2D": "MaxPool2d", "BatchNormalization": "BatchNorm2d",
               "Dropout": "Dropout", "Flatten": "Flatten", "Dense": "Linear"}


def keras_rows(printed: str) -> list:
    """(type, C×H×W, Param #) per printed Keras row, in the summary's terms."""
    rows = []
    for line in printed.splitlines():
        kind, dims, params = re.fullmatch(r"\S+ \((\w+)\) \(None, ([\d, ]+)\) (\d+)", line).groups()
        dims = [int(d) for d in dims.split(",")]
        shape = dims[-1:] + dims[:-1]  # NHWC -> CHW
        rows.append((KERAS_TYPES[kind], "×".join(map(str, shape)), f"{int(params):,}"))
    return rows


def table_rows(output: str) -> list:
    """(type, output shape, Param #) of each row of the printed table."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:2] == ["Layer", "Type"]) + 2
    end = lines.index("", start)
    return [tuple(re.split(r"\s{2,}", line.strip())[1:4]) for line in lines[start:end]]


def summary(*args):
    result = runner.invoke(app, ["summary", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_report_003_fig2_rows_and_keras_totals():
    out = summary("smallcnn", *CIFAR)
    assert table_rows(out) == keras_rows(FIG2)
    # "Total params: 374,986 Trainable params: 374,858 Non-trainable params: 128"
    assert re.search(r"Total params:\s+374,986\s+keras = Keras 'Total params'", out)
    assert re.search(r"Trainable params:\s+374,858\s+params = PyTorch trainable parameters", out)
    assert re.search(r"Non-trainable params:\s+128\s+buffers = BatchNorm running mean", out)


def test_report_003_fig1_rows():
    out = summary("smallcnn")
    assert table_rows(out) == keras_rows(FIG1)
    printed = sum(int(line.rsplit(" ", 1)[1]) for line in FIG1.splitlines())
    assert re.search(rf"Total params:\s+{printed:,}\s", out)  # the report prints no total for Fig. 1


def test_operation_totals_name_their_conventions():
    out = summary("smallcnn", *CIFAR)
    t = totals(cnncost.count("smallcnn", h=32, w=32, classes=10, padding="same"))
    assert re.search(rf"MACs:\s+{t['macs']:,}\s+macs = multiply-accumulates", out)
    assert re.search(rf"FLOPs:\s+{2 * t['macs']:,}\s+flops = 2 × MACs", out)


def test_json_rows_add_up_to_the_totals():
    doc = json.loads(summary("smallcnn_res", "--json"))
    t = doc["totals"]
    printed = 896 + 18_496 + 256 + 36_928 + 256 + 1_048_832 + 2_570  # report 003, Fig. 3's rows
    assert (t["keras"], t["params"], t["buffers"]) == (printed, printed - 256, 256)
    assert sum(r["keras_params"] for r in doc["layers"]) == t["keras"]
    assert sum(r["macs"] for r in doc["layers"]) == t["macs"] and t["flops"] == 2 * t["macs"]
    add = next(r for r in doc["layers"] if r["type"] == "Add")
    assert add["output_shape"] == [64, 8, 8] and add["name"] == "res.add"
    assert set(doc["conventions"]) == {"keras", "params", "buffers", "macs", "flops"}


def test_rows_nest_by_module_path_with_subtotals():
    out = summary("resnet18")
    doc = json.loads(summary("resnet18", "--json"))
    layer1 = sum(r["keras_params"] for r in doc["layers"] if r["name"].startswith("layer1."))
    assert re.search(rf"^layer1\s+Sequential\s+64×56×56\s+{layer1:,}\s", out, re.M)
    assert re.search(r"^├─ 0\s+Residual\s+64×56×56\s+74,240\s", out, re.M)
    assert re.search(r"^│  ├─ downsample\s+128×28×28\s+8,704\s", out, re.M)
    assert re.search(r"^│  │  ├─ 0\s+Conv2d\s+128×28×28\s+8,192\s", out, re.M)
    assert re.search(r"Total params:\s+11,699,112\s", out)  # 11,689,512 trainable + 9,600 BatchNorm statistics
    assert re.search(r"Trainable params:\s+11,689,512\s", out)  # torchvision's published count


def test_concat_rows_show_the_concatenated_shape():
    doc = json.loads(summary("smallcnn_inception", "--json"))
    cat = next(r for r in doc["layers"] if r["type"] == "Concat")
    assert cat["name"] == "inception.cat" and cat["output_shape"] == [352, 4, 4]  # 64 + 128 + 32 + the pool's 128
    conv4 = next(r for r in cnncost.count("smallcnn_inception").layers if r.name == "conv4")
    assert list(conv4.input_shape) == cat["output_shape"]  # the engine's own walk agrees


def test_activations_only_with_all_layers():
    assert "Activation" not in summary("smallcnn")
    assert summary("smallcnn", "--all-layers").count("Activation") == 5


def test_user_module_summary():
    out = summary("--module", f"{DATA / 'residual.py'}:ResNetLike", "--hw", "32")
    doc = json.loads(summary("--module", f"{DATA / 'residual.py'}:ResNetLike", "--hw", "32", "--json"))
    assert [r["name"] for r in doc["layers"] if r["type"] == "Add"] == [f"blocks.{i}.add" for i in range(6)]
    assert doc["totals"]["params"] == 175_258 and doc["input_shape"] == [3, 32, 32]
    assert re.search(r"^blocks\s+64×8×8\s", out, re.M) and "└─ add" in out


def test_errors_are_one_line(capsys):
    assert main(["summary", "--module", f"{DATA / 'unsupported.py'}:WithNorms"]) == 2
    err = capsys.readouterr().err
    assert "RMSNorm at norm (unsupported.py:" in err and err.strip().count("\n") == 0
    assert main(["summary", "smallcnn", "--module", "x.py:make"]) == 2
    assert main(["summary", "smallcnn", "--k", "0"]) == 2


def test_summary_never_imports_torch():
    code = ("import sys; from cnncost.cli import main; main(['summary', 'resnet18']); "
            "print('TORCH' if 'torch' in sys.modules else 'NO TORCH')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("NO TORCH")


def test_summary_splits_parameters_by_training_strategy(capsys):
    """--strategy: last-layer of scratch5 trains fc2 only, n·classes + classes = 128·10 + 10 (by hand)."""
    from cnncost.cli import main

    assert main(["summary", "scratch5", "--strategy", "last-layer", "--json"]) == 0
    split = json.loads(capsys.readouterr().out)["strategy"]
    assert split == {"strategy": "last-layer", "trainable": 1290, "frozen": 159114 - 1290, "layers": ["fc2"],
                     "buffers": 0, "non_trainable": 159114 - 1290, "total": 159114}
    assert main(["summary", "scratch5", "--strategy", "partial:9"]) == 2
    assert "partial:9 is out of range for scratch5 (need 1 ≤ K ≤ 5" in capsys.readouterr().err


# vgg11_bn partial:2 trains the last two conv+BN blocks and the classifier (torchvision paths, by hand).
VGG11_BN_PARTIAL2 = {"features.22", "features.23", "features.25", "features.26",
                     "classifier.0", "classifier.3", "classifier.6"}


def test_strategy_totals_are_keras_after_freezing(capsys):
    """Trainable / Non-trainable under --strategy are what torch's requires_grad gives after freezing,
    Keras-style (non-trainable = frozen parameters + BatchNorm moving statistics), and every row says
    whether it trains; before, the totals ignored the strategy (Non-trainable: 0 beside "N frozen")."""
    import torch

    import zoo

    model = zoo.build("vgg11_bn", num_classes=10)
    for name, module in model.named_modules():
        for parameter in module.parameters(recurse=False):
            parameter.requires_grad_(name in VGG11_BN_PARTIAL2)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    moving = sum(m.running_mean.numel() + m.running_var.numel() for m in model.modules()
                 if isinstance(m, torch.nn.BatchNorm2d))
    assert main(["summary", "vgg11_bn", "--classes", "10", "--strategy", "partial:2"]) == 0
    out = capsys.readouterr().out
    printed = {label: int(value.replace(",", "")) for label, value in
               re.findall(r"^(Total|Trainable|Non-trainable) params:\s+([\d,]+)", out, re.MULTILINE)}
    assert printed == {"Total": trainable + frozen + moving, "Trainable": trainable, "Non-trainable": frozen + moving}
    assert f"{frozen:,} frozen parameters + {moving:,} BatchNorm moving statistics" in out
    marks, group = {}, ""
    for line in out.splitlines():  # "features ... part", then "├─ 22  Conv2d ... Y" under it
        top = re.match(r"^(\w+)\s", line)
        group = top.group(1) if top else group
        row = re.match(r"^[├└]─ (\d+)\s+(?:Conv2d|BatchNorm2d|Linear)\s.*\s([YN])\s*$", line)
        if row:
            marks[f"{group}.{row.group(1)}"] = row.group(2)
    assert len(marks) == 8 + 8 + 3  # every parametrised row is marked
    assert {name for name, mark in marks.items() if mark == "Y"} == VGG11_BN_PARTIAL2
    assert main(["summary", "vgg11_bn", "--classes", "10", "--strategy", "partial:2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    marked = {row["name"]: row["trainable"] for row in result["layers"] if "trainable" in row}
    assert {name for name, trains in marked.items() if trains} == VGG11_BN_PARTIAL2
    assert len(marked) == 19 and all(row["params"] == 0 for row in result["layers"] if "trainable" not in row)
    assert (result["strategy"]["trainable"], result["strategy"]["non_trainable"]) == (trainable, frozen + moving)


def test_the_strategy_line_counts_layers_in_words():
    """One trained layer is '1 layer' (the line used to say '1 layers')."""
    one = runner.invoke(app, ["summary", "smallcnn", "--strategy", "last-layer"])
    assert one.exit_code == 0 and "frozen) in 1 layer: fc2\n" in one.output
    more = runner.invoke(app, ["summary", "smallcnn", "--strategy", "full"])
    assert more.exit_code == 0 and re.search(r"frozen\) in \d+ layers: ", more.output)
