"""The small networks of seed reports 003 and 004 against the numbers those reports print.

Keras prints output shapes as (None, H, W, C); the engine's are (C, H, W).
"""

import cnncost
from cnncost.conventions import totals

CIFAR = dict(h=32, w=32, classes=10, padding="same")


def _rows(name: str, **config) -> dict:
    """Layer name -> (output shape, Keras params: trainable + BatchNorm moving stats)."""
    table = cnncost.count(name, **config)
    return {r.name: (r.output_shape, r.params + r.buffers) for r in table.layers}


def _check(rows: dict, published: dict) -> None:
    for name, (shape, params) in published.items():
        assert rows[name] == (shape, params), name


def test_report_003_fig2_cifar10_totals():
    """003, Fig. 2 (CIFAR-10): "Total params: 374,986 Trainable params: 374,858 Non-trainable params: 128"."""
    t = totals(cnncost.count("smallcnn", **CIFAR))
    assert t["keras"] == 374_986
    assert t["params"] == 374_858
    assert t["buffers"] == 128


def test_report_003_fig2_cifar10_per_layer():
    """003, Fig. 2: every Keras summary row with parameters, and the pooled shapes."""
    rows = _rows("smallcnn", **CIFAR)
    _check(rows, {
        "conv1": ((32, 32, 32), 896), "pool1": ((32, 16, 16), 0),
        "conv2": ((64, 16, 16), 18_496), "bn2": ((64, 16, 16), 256), "pool2": ((64, 8, 8), 0),
        "conv3": ((128, 8, 8), 73_856), "pool3": ((128, 4, 4), 0),
        "conv4": ((128, 4, 4), 147_584), "pool4": ((128, 2, 2), 0),
        "flatten": ((512,), 0), "fc1": ((256,), 131_328), "fc2": ((10,), 2_570),
    })


def test_report_003_fig1_cats_vs_dogs_per_layer():
    """003, Fig. 1 (cats vs dogs, 150×150, valid, one sigmoid unit) — the default smallcnn.

    The report prints no totals for this model, only the rows below.
    """
    rows = _rows("smallcnn")
    _check(rows, {
        "conv1": ((32, 148, 148), 896), "pool1": ((32, 74, 74), 0),
        "conv2": ((64, 72, 72), 18_496), "bn2": ((64, 72, 72), 256), "pool2": ((64, 36, 36), 0),
        "drop2": ((64, 36, 36), 0),
        "conv3": ((128, 34, 34), 73_856), "pool3": ((128, 17, 17), 0),
        "conv4": ((128, 15, 15), 147_584), "pool4": ((128, 7, 7), 0),
        "flatten": ((6_272,), 0), "fc1": ((256,), 1_605_888), "fc2": ((1,), 257),
    })


def test_report_003_fig1_sum_of_printed_rows():
    """003, Fig. 1: the Keras total is the sum of the printed rows; 128 of them are BN moving stats."""
    t = totals(cnncost.count("smallcnn", h=150, w=150, classes=1, padding="valid"))
    printed = 896 + 18_496 + 256 + 73_856 + 147_584 + 1_605_888 + 257
    assert t["keras"] == printed
    assert t["params"] == printed - 128


def test_report_003_fig3_residual_per_layer():
    """003, Fig. 3 (model with residual block, CIFAR-10): every summary row, the add and flatten."""
    rows = _rows("smallcnn_res")
    _check(rows, {
        "conv1": ((32, 32, 32), 896), "pool1": ((32, 16, 16), 0),
        "conv2": ((64, 16, 16), 18_496), "bn2": ((64, 16, 16), 256), "pool2": ((64, 8, 8), 0),
        "drop2": ((64, 8, 8), 0),
        "res.conv": ((64, 8, 8), 36_928), "res.bn": ((64, 8, 8), 256), "res.drop": ((64, 8, 8), 0),
        "flatten": ((4_096,), 0), "fc1": ((256,), 1_048_832), "drop_fc1": ((256,), 0),
        "fc2": ((10,), 2_570),
    })
    t = totals(cnncost.count("smallcnn_res"))
    printed = 896 + 18_496 + 256 + 36_928 + 256 + 1_048_832 + 2_570  # no total line in Fig. 3
    assert (t["keras"], t["buffers"]) == (printed, 256)


def test_report_003_inception_block_position():
    """003: the naive inception block sits "in between 'maxpooling2d_2' and 'conv2d_3'" of Fig. 2.

    The report prints no numbers for this model: the layers it shares with Fig. 2
    keep Fig. 2's rows; the block takes pool3's (4, 4, 128) and keeps 4×4.
    """
    table = cnncost.count("smallcnn_inception")
    order = [r.name for r in table.layers]
    block = [n for n in order if n.startswith("inception.")]
    assert order.index("pool3") < order.index(block[0]) and order.index(block[-1]) < order.index("conv4")
    rows = _rows("smallcnn_inception")
    _check(rows, {"conv1": ((32, 32, 32), 896), "conv2": ((64, 16, 16), 18_496), "bn2": ((64, 16, 16), 256),
                  "conv3": ((128, 8, 8), 73_856), "pool3": ((128, 4, 4), 0), "inception.pool": ((128, 4, 4), 0),
                  "pool4": ((128, 2, 2), 0), "fc1": ((256,), 131_328), "fc2": ((10,), 2_570)})
    assert rows["conv4"][1] != 147_584  # conv4 now reads the concatenation, not 128 channels


def test_report_004_mlp_widths():
    """004, question 1: "2 hidden layers of size 500. The output layer size is 10" on MNIST (28×28)."""
    rows = _rows("mlp3")
    assert [rows[n][0] for n in ("flatten", "fc1", "fc2", "fc3")] == [(784,), (500,), (500,), (10,)]
    # 004 prints no parameter count; this one follows from its widths.
    assert totals(cnncost.count("mlp3"))["params"] == (784 * 500 + 500) + (500 * 500 + 500) + (500 * 10 + 10)


def test_report_004_dropout_costs_nothing():
    """004 compares no regularisation with dropout: the same network, the same counts."""
    plain, dropped = (totals(cnncost.count("mlp3", dropout=p)) for p in (0.0, 0.5))
    for convention in ("params", "keras", "macs", "mults+adds"):
        assert plain[convention] == dropped[convention]
    assert any(r.name == "drop1" for r in cnncost.count("mlp3", dropout=0.5).layers)
