"""Classifier tops: keep a network's own, take it off, or put a new one in its place.

A zoo network names where its top begins (``Network.top``: the first top-level node of the
global pool / flatten / dropout / dense run at its end). Two parameters, declared once here
and given to every zoo image network by the registry, say what happens there:

* ``include_top`` (default true): false takes the top off, as Keras' ``include_top=False``
  with ``pooling=None`` — the network ends with its last feature map;
* ``head``: ``keep`` (default) leaves the top as the network has it, ``gap`` puts a global
  average pool and one dense layer of ``classes`` outputs in its place, ``flatten`` a flatten
  and one dense layer (report 002's Flatten + Dense(8) on Keras' ResNet50 without its top).

A new head's layers are named ``head.pool``, ``head.flatten`` and ``head.fc``.
"""

from __future__ import annotations

from . import layers as L
from .arch import Param, ParameterError

HEADS = ("keep", "gap", "flatten")
PARAMS = (
    Param("include_top", True, "keep the network's classifier top (--no-include-top: end at the last feature map)"),
    Param("head", "keep", "classifier top: keep the network's own, or replace it by gap or flatten + one dense "
          "layer of --classes outputs", choices=HEADS),
)
NAMES = tuple(p.name for p in PARAMS)


def features(network: L.Network) -> tuple:
    """The network's top-level nodes before its classifier top."""
    names = [node.name for node in network.layers]
    if network.top is None or network.top not in names:
        raise ParameterError("head", f"{network.name} declares no classifier top to replace or remove")
    return network.layers[:names.index(network.top)]


def new_head(kind: str, classes) -> tuple:
    """The nodes of a replacement head: global average pool or flatten, then one dense layer."""
    pool = (L.AdaptiveAvgPool2d("head.pool", (1, 1)),) if kind == "gap" else ()
    return pool + (L.Flatten("head.flatten"), L.Linear("head.fc", classes))


def with_head(network: L.Network, include_top: bool = True, head: str = "keep", classes=None) -> L.Network:
    """``network`` with its top kept, taken off, or replaced (see the module docstring)."""
    if include_top and head == "keep":
        return network
    layers = features(network)
    if head != "keep":
        if classes is None:
            raise ParameterError("head", f"{network.name} takes no classes: a new head needs them")
        layers += new_head(head, classes)
    top = layers[len(features(network))].name if head != "keep" else None
    return network._replace(layers=layers, top=top)
