"""Shared helpers for tests/test_torchvision_conversion.py: torchvision's CNNs converted through ``--module``.

Every factory of ``tests/data/torchvision_nets`` (68 models + idiom variants) is built once on the
meta device and converted once with ``zoo.fx_import.convert_module``; the conversion does not depend
on the input size, so each check asks ``converted.network(h, w)`` for its own sizes. The references
are torch's (parameter numel, BatchNorm running statistics, FlopCounterMode) and the real fvcore and
ptflops; ``mismatches`` lists every quantity where cnncost and its reference differ, so a test asserts
an empty list and the negative control asserts a non-empty one through the very same comparison.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import sympy
import torch
from torch.utils.flop_counter import FlopCounterMode

from cnncost import conventions, engine
from tests.data import torchvision_nets
from zoo import fx_import, oracles

PACKAGE = Path(torchvision_nets.__file__).parent
H = sympy.Symbol("H", integer=True, positive=True)  # the symbols cnncost's formulas use (cnncost.symbolic.symbol)
W = sympy.Symbol("W", integer=True, positive=True)

# The smallest square input torch's forward accepts, by family file (or model name where one file's
# models differ), found with torch on the meta device: every size from 1 up, in eval mode and in
# training mode (batch 2, so BatchNorm has more than one value per channel). The training-mode
# figure is the one listed: it is smaller than or equal to the eval one everywhere but inception_v3,
# whose AuxLogits head (run in training only) needs 299 while its eval forward takes 75.
# test_smallest_size_is_torchs re-derives each figure from torch (accepted at s, refused at s - 1).
SMALLEST = {"alexnet": 63, "convnext": 32, "densenet": 29, "googlenet": 15, "inception": 299,
            "squeezenet1_0": 21, "squeezenet1_1": 17, "vgg": 32}


class Net(NamedTuple):
    """One factory of the package: its name, the model it equals, its family file and the factory."""

    name: str
    model: str
    file: str  # family file stem: "resnet", "mobilenet", ...
    factory: object

    @property
    def crop(self) -> int:
        """torchvision's evaluation crop (the factory's ``input_size``)."""
        return self.factory.input_size[1]

    @property
    def smallest(self) -> int:
        """The smallest square size torch accepts (SMALLEST; 1 where no layer limits it)."""
        return SMALLEST.get(self.model, SMALLEST.get(self.file, 1))

    @property
    def spec(self) -> str:
        """``path/to/file.py:factory``, as a user gives it to ``--module``."""
        return f"{PACKAGE / self.file}.py:{self.name}"


def networks() -> list:
    """Every canonical factory, then every variant, as ``Net`` records."""
    found = [Net(name, name, f.__module__.rpartition(".")[2], f) for name, f in torchvision_nets.factories().items()]
    found += [Net(name, model, f.__module__.rpartition(".")[2], f)
              for name, (f, model) in torchvision_nets.variants().items()]
    return found


NETWORKS = {net.name: net for net in networks()}


@lru_cache(maxsize=None)
def converted(name: str) -> tuple:
    """(the module on the meta device, in eval mode; its ``Converted``), built and traced once per process."""
    net = NETWORKS[name]
    with torch.device("meta"):
        module = net.factory().eval()
    return module, fx_import.convert_module(module, name, net.factory.input_size)


def cnncost_totals(name: str, h, w) -> dict:
    """cnncost's totals (every convention) of the converted network at h×w (ints or sympy symbols)."""
    return conventions.totals(engine.analyze(converted(name)[1].network(h, w)))


def flop_counter_macs(module: torch.nn.Module, h: int, w: int) -> int:
    """FlopCounterMode's total of one eval forward of a 1×3×h×w input (on the module's device), halved."""
    device = next(module.parameters()).device
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module.eval()(torch.empty(1, 3, h, w, device=device))
    flops = counter.get_total_flops()
    assert flops % 2 == 0, "FlopCounterMode counts 2 FLOPs per multiply-accumulate"
    return flops // 2


def torch_references(module: torch.nn.Module, h: int, w: int) -> dict:
    """torch's own figures for the module at h×w: parameter numel, BatchNorm running mean + var, MACs."""
    return {"params": sum(p.numel() for p in module.parameters()),
            "buffers": oracles.batchnorm_buffers(module),
            "macs": flop_counter_macs(module, h, w)}


def cpu_module(name: str) -> torch.nn.Module:
    """The module as real CPU tensors (fvcore traces with torch.jit, which refuses meta tensors; ptflops
    on meta counts resnet18's fc once more than on CPU), without paying for weight initialisation:
    built on meta, given uninitialised CPU storage, then zeroed (garbage could hold slow denormals)."""
    with torch.device("meta"):
        module = NETWORKS[name].factory()
    module = module.to_empty(device="cpu")
    with torch.no_grad():
        for tensor in list(module.parameters()) + list(module.buffers()):
            tensor.zero_()
    return module.eval()


def tool_references(module: torch.nn.Module, h: int, w: int) -> dict:
    """What the real tools report for the CPU module at h×w: fvcore's total, ptflops' MACs."""
    return {"fvcore": oracles.fvcore_total(module, (3, h, w)), "ptflops": oracles.ptflops_macs(module, (3, h, w))}


def mismatches(ours: dict, references: dict) -> list:
    """(quantity, cnncost, reference) for every quantity of ``references`` cnncost counts differently."""
    return [(q, ours[q], want) for q, want in references.items() if ours[q] != want]


def closed_forms(name: str) -> dict:
    """cnncost's totals of the converted network with H and W left as positive integer symbols."""
    return cnncost_totals(name, H, W)


def at(expression, h: int, w: int) -> int:
    """A closed form (or a constant) evaluated at H = h, W = w, as an exact int."""
    if not isinstance(expression, sympy.Basic):
        return expression
    value = expression.subs({H: h, W: w})
    assert value.is_Integer, f"{expression} at {h}×{w} is {value}, not an integer"
    return int(value)
