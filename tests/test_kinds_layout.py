"""Dims reordered and channels split: ``Permute`` (ConvNeXt's channels-last blocks) and
``ChannelSlice`` (ShuffleNetV2's ``x.chunk(2, dim=1)``), against torch, fvcore and ptflops."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from cnncost import engine
from cnncost import layers as L
from cnncost.errors import CnncostError
from zoo.fx_import import convert_module

from .kind_oracles import check_case, module_agrees

CASES = [
    (L.Permute("p", (1, 2, 0)), (3, 4, 5)),
    (L.Permute("p", (2, 0, 1), call="torch"), (3, 4, 5)),
    (L.ChannelSlice("c", 2, 0), (6, 4, 5)),
    (L.ChannelSlice("c", 2, 1, call="torch"), (6, 4, 5)),
    (L.ChannelSlice("c", 3, 2), (7, 4, 5)),  # torch.chunk: pieces of ⌈7/3⌉ = 3, the last one 1
]


@pytest.mark.parametrize("node, shape", CASES, ids=[f"{type(n).__name__}-{i}" for i, (n, _) in enumerate(CASES)])
def test_each_case_matches_every_oracle(node, shape):
    check_case(node, shape)


def test_a_missing_chunk_is_an_error():
    with pytest.raises(CnncostError, match="chunk 3 of 4 does not exist for 3 channels"):
        engine.analyze(L.Network("t", (3, 4, 4), (L.ChannelSlice("c", 4, 3),)))


class ChannelsLast(nn.Module):
    """ConvNeXt's block layout: permute to channels-last, LayerNorm and Linear on the channels, back."""

    def __init__(self, channels: int, hidden: int, form: str):
        super().__init__()
        self.conv = nn.Conv2d(3, channels, 3, padding=1, groups=1)
        self.norm = nn.LayerNorm(channels)
        self.fc1, self.fc2 = nn.Linear(channels, hidden), nn.Linear(hidden, channels)
        self.form = form

    def forward(self, x):
        x = self.conv(x)
        x = x.permute(0, 2, 3, 1) if self.form == "method" else torch.permute(x, (0, 2, 3, 1))
        x = self.fc2(nn.functional.gelu(self.fc1(self.norm(x))))
        return x.permute(0, 3, 1, 2)


class Split(nn.Module):
    """ShuffleNetV2's unit: half the channels pass, half go through a conv, then a shuffle."""

    def __init__(self, channels: int, groups: int):
        super().__init__()
        self.conv = nn.Conv2d(channels // 2, channels // 2, 1)
        self.stem = nn.Conv2d(3, channels, 1)
        self.groups = groups

    def forward(self, x):
        x = self.stem(x)
        a, b = x.chunk(2, dim=1)
        x = torch.cat((a, self.conv(b)), dim=1)
        n, c, h, w = x.size()
        x = x.view(n, self.groups, c // self.groups, h, w)
        return torch.transpose(x, 1, 2).contiguous().view(n, -1, h, w)


@settings(max_examples=10, deadline=None)
@given(st.integers(1, 6), st.integers(1, 8), st.sampled_from(["method", "torch"]), st.integers(2, 7),
       st.integers(2, 7))
def test_channels_last_blocks_match_the_tools(channels, hidden, form, h, w):
    module_agrees(ChannelsLast(channels, hidden, form), (3, h, w))


@settings(max_examples=10, deadline=None)
@given(st.sampled_from([(4, 2), (8, 2), (8, 4), (12, 3)]), st.integers(2, 7), st.integers(2, 7))
def test_channel_split_and_shuffle_match_the_tools(widths, h, w):
    channels, groups = widths
    module = Split(channels, groups)
    module_agrees(module, (3, h, w))
    kinds = [type(leaf).__name__ for leaf in L.leaves(convert_module(module, "m", (3, h, w)).layers)]
    assert kinds.count("ChannelSlice") == 2 and kinds.count("ChannelShuffle") == 1


def test_other_views_and_transposes_are_refused():
    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 1)

        def forward(self, x):
            x = self.conv(x)
            n, c, h, w = x.size()
            return torch.transpose(x.view(n, 2, c // 2, h, w), 1, 3).reshape(n, -1, h, w)

    with pytest.raises(CnncostError, match="torch.transpose"):
        convert_module(Odd(), "m", (3, 4, 4))
