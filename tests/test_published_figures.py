"""torchvision's published figures for its models, reproduced by derivation.

GFLOPS as torchvision publishes them with each model's weights (multiply-accumulates of conv and
linear layers, in units of 10⁹, three decimals), at each model's evaluation crop.
Parameter counts are checked exactly in test_zoo_registry against the state_dict manifest.
"""

import json
from pathlib import Path

import pytest

import cnncost
import cnncost.archs

MANIFEST = json.loads((Path(__file__).parent / "data" / "torchvision_cnn_manifest.json").read_text())
# GFLOPS as torchvision publishes them with each model's weights (three decimals), at its crop.
PUBLISHED_GFLOPS = {name: entry["gflops_published"] for name, entry in MANIFEST.items()}
CROP = {name: entry["crop_size"] for name, entry in MANIFEST.items()}
REGISTERED = sorted(n for n in cnncost.archs.names() if cnncost.archs.get(n).torchvision)


@pytest.mark.parametrize("name", REGISTERED)
def test_macs_match_torchvision_gflops(name):
    table = cnncost.count(name)
    assert table.network.input_shape[1:] == (CROP[name], CROP[name])  # the zoo's default size is the crop
    assert round(table.total("macs") / 1e9, 3) == PUBLISHED_GFLOPS[name]


def test_every_torchvision_classification_cnn_is_in_the_zoo():
    names = {cnncost.archs.get(n).torchvision for n in REGISTERED}
    assert names == set(MANIFEST)
