"""Layers that change the spatial resolution by resampling: upsampling, transposed convolution, pixel shuffle."""

from __future__ import annotations

KINDS: tuple = ()
