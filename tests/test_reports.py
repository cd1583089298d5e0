"""The hand-derived numbers of the seed reports, reproduced by the engine."""

import cnncost
from cnncost.conventions import totals


def test_report_000_totals():
    """000: m=64, k=3, n=128, 100×100, valid: 159,114 params, 233,603,072 computations."""
    t = totals(cnncost.count("scratch5", m=64, k=3, n=128, h=100, w=100))
    assert t["params"] == 159_114
    assert t["macs"] == 116_801_536
    assert t["mults+adds"] == 233_603_072


def test_report_000_per_layer():
    """000 lists every conv's multiplications and its total computations (mults + adds)."""
    rows = {r.name: r for r in cnncost.count("scratch5", m=64, k=3, n=128, h=100, w=100).layers}
    published = {  # layer: (output, multiplications, total computations)
        "conv1": ((64, 98, 98), 16_595_712, 33_191_424),
        "conv2": ((64, 47, 47), 81_432_576, 162_865_152),
        "conv3": ((64, 21, 21), 16_257_024, 32_514_048),
        "conv4": ((64, 8, 8), 2_359_296, 4_718_592),
        "conv5": ((64, 2, 2), 147_456, 294_912),
        "fc1": ((128,), 8_192, 16_384),
        "fc2": ((10,), 1_280, 2_560),
    }
    for name, (shape, mults, computations) in published.items():
        assert rows[name].output_shape == shape
        assert rows[name].mults == mults
        assert rows[name].mults + rows[name].adds == computations


def test_report_000_additions_without_bias():
    """000: conv1 additions within the sums = 98·98·64·(27 − 1) = 15,981,056; bias adds 614,656."""
    row = next(r for r in cnncost.count("scratch5", m=64, k=3, h=100, w=100).layers if r.name == "conv1")
    outputs = 64 * 98 * 98
    assert row.adds - outputs == 15_981_056
    assert outputs == 614_656


def test_report_001_macs_polynomial():
    """001: same padding, H, W divisible by 32: MACs = k²HW(3m + 85m²/256) + n(64m + 10) at 256×256."""
    for m, k, n in [(32, 3, 128), (64, 5, 256), (16, 7, 64)]:
        t = totals(cnncost.count("scratch5", m=m, k=k, n=n, h=256, w=256, padding="same"))
        hw = 256 * 256
        assert 256 * t["macs"] == 256 * k * k * hw * 3 * m + 85 * k * k * hw * m * m + 256 * n * (64 * m + 10)


def test_report_001_params_claim_misses_conv_biases():
    """001's claim k²·3m + 4k²m² + (64mn + n) + (10n + 10) omits the 5m conv biases."""
    m, k, n = 32, 3, 128
    claimed = k * k * 3 * m + (k * k * m * m) * 4 + (8 * 8 * m * n + n) + (10 * n + 10)
    true = cnncost.count("scratch5", m=m, k=k, n=n, h=256, w=256, padding="same").total("params")
    assert true - claimed == 5 * m
