"""Options shared by the commands, and their translation into builder keywords."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

Arch = Annotated[str, typer.Argument(help="architecture name (zoo. prefix accepted)")]
M = Annotated[Optional[int], typer.Option("--m", help="filters in the first conv layer")]
K = Annotated[Optional[int], typer.Option("--k", help="kernel size k (k×k)")]
N = Annotated[Optional[int], typer.Option("--n", help="neurons in the dense layer")]
HW = Annotated[Optional[int], typer.Option("--hw", help="input height and width (square input)")]
H = Annotated[Optional[int], typer.Option("--h", help="input height")]
W = Annotated[Optional[int], typer.Option("--w", help="input width")]
Classes = Annotated[Optional[int], typer.Option("--classes", help="output classes")]
InChannels = Annotated[Optional[int], typer.Option("--in-channels", help="input channels")]
PaddingOpt = Annotated[Optional[str], typer.Option("--padding", help="conv padding: valid or same")]
Org = Annotated[Optional[str], typer.Option("--org", help="filter organisation: same, double or half")]
BN = Annotated[Optional[bool], typer.Option("--bn/--no-bn", help="BatchNorm after each conv")]
DropoutOpt = Annotated[Optional[float], typer.Option("--dropout", help="dropout rate (no cost)")]
ActivationOpt = Annotated[Optional[str], typer.Option("--activation", help="activation function")]
Aux = Annotated[Optional[bool], typer.Option("--aux-logits/--no-aux-logits",
                                             help="auxiliary classifiers (GoogLeNet, Inception-v3; training only)")]
Json = Annotated[bool, typer.Option("--json", help="print JSON instead of tables")]


def hyperparameters(m=None, k=None, n=None, hw=None, h=None, w=None, classes=None, in_channels=None,
                    padding=None, org=None, bn=None, dropout=None, activation=None, aux_logits=None) -> dict:
    """The options the user actually gave, as builder keywords (``--hw`` sets both h and w)."""
    from ..errors import CnncostError

    if hw is not None and (h is not None or w is not None):
        raise CnncostError("--hw: give either --hw or --h/--w, not both")
    if hw is not None:
        h = w = hw
    given = dict(m=m, k=k, n=n, h=h, w=w, classes=classes, in_channels=in_channels, padding=padding,
                 org=org, bn=bn, dropout=dropout, activation=activation, aux_logits=aux_logits)
    return {key: value for key, value in given.items() if value is not None}
