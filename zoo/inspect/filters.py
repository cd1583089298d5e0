"""A conv layer's filters as pictures, each filter scaled to [0, 1] on its own.

Three layouts, by what the filter's input is:

* ``rgb``: the first conv layer of an RGB network: a filter's three input
  kernels are one colour picture (report 000's and 001's 8×8 grid of 64 filters);
* ``grey``: one input channel per filter (a grey network's first layer, a
  depthwise conv): one grey picture per filter, in a near-square grid;
* ``channels``: any other layer: one row per filter, one grey kernel per input
  channel (rows and columns capped).

A filter is scaled over all its input channels together (min to 0, max to 1),
so the balance between its channels survives; a constant filter is 0.5 grey.
This is ``training.plots.normalise_filters``'s rule, on tensors.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from .layers import conv_names

MAX_FILTERS = 64  # rgb and grey layouts: at most an 8 × 8 grid
MAX_ROWS = 32  # channels layout: filters shown
MAX_COLUMNS = 32  # channels layout: input channels shown per filter


class FilterPictures(NamedTuple):
    """The pictures of one conv layer's filters."""

    pictures: torch.Tensor  # [n, c, kh, kw] in [0, 1]: n filters shown, c of their input channels
    layout: str  # rgb | grey | channels
    filters: int  # the layer's filters in all
    channels: int  # input channels of each filter in all (in_channels / groups)


def layout_of(subject, layer: str) -> str:
    """rgb for the RGB network's first conv layer, grey for single-input-channel filters, else channels."""
    weight = subject.model._leaves[layer].weight
    if weight.shape[1] == 1:
        return "grey"
    if weight.shape[1] == 3 and subject.channels == 3 and conv_names(subject)[0] == layer:
        return "rgb"
    return "channels"


def filter_pictures(weight: torch.Tensor, layout: str) -> FilterPictures:
    """``weight`` [out, in, kh, kw] as pictures: the first filters (and input channels) of the layout's caps."""
    filters, channels = weight.shape[:2]
    rows = MAX_ROWS if layout == "channels" else MAX_FILTERS
    kept = weight.detach().float().cpu()[:rows]
    low = kept.flatten(1).min(1).values.view(-1, 1, 1, 1)
    span = kept.flatten(1).max(1).values.view(-1, 1, 1, 1) - low
    scaled = torch.where(span > 0, (kept - low) / span.clamp_min(1e-30), torch.full_like(kept, 0.5))
    if layout == "channels":
        scaled = scaled[:, :MAX_COLUMNS]
    return FilterPictures(scaled, layout, filters, channels)
