"""torchvision's published figures for its models, reproduced by derivation.

GFLOPS as torchvision's model documentation tables print them (multiply-accumulates of conv and
linear layers, in units of 10⁹, rounded to two decimals), at 224×224 (299×299 for Inception-v3).
Parameter counts are checked exactly in test_zoo_registry against the state_dict manifest.
"""

import pytest

import cnncost

PUBLISHED_GFLOPS = {
    "alexnet": 0.71, "vgg11": 7.61, "vgg11_bn": 7.61, "vgg13": 11.31, "vgg13_bn": 11.31,
    "vgg16": 15.47, "vgg16_bn": 15.47, "vgg19": 19.63, "vgg19_bn": 19.63,
    "resnet18": 1.81, "resnet34": 3.66, "resnet50": 4.09, "resnet101": 7.80, "resnet152": 11.51,
    "googlenet": 1.50, "inception_v3": 5.71, "mobilenet_v2": 0.30,
}


@pytest.mark.parametrize("name, gflops", sorted(PUBLISHED_GFLOPS.items()))
def test_macs_match_torchvision_gflops(name, gflops):
    macs = cnncost.count(name).total("macs")
    assert round(macs / 1e9, 2) == gflops


def test_every_torchvision_network_has_a_published_figure():
    names = {n for n in cnncost.archs.names() if cnncost.archs.get(n).torchvision}
    assert names == set(PUBLISHED_GFLOPS)
