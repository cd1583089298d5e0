"""A trial's counts (``zoo.tune.costs.count``) for ``--binary`` and ``--ema`` runs.

Independent references: the parameters of the module ``cnncost train`` builds (torch numel), and the
bytes of torch's own ``AveragedModel`` of that module (what ``--ema`` keeps resident beside the step).
"""

from __future__ import annotations

import pytest
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from zoo.runtime import model
from zoo.runtime.config import TrainConfig
from zoo.tune import costs

SMALL = {"m": 8, "n": 32}  # smallcnn_res: conv, BatchNorm (buffers), residual, dense


def config(tmp_path, **overrides) -> TrainConfig:
    """A tiny run's configuration (nothing is trained: only counted)."""
    values = dict(arch="smallcnn_res", data="synthetic", epochs=1, batch_size=8, img_size=16,
                  hyperparameters=dict(SMALL), out=str(tmp_path / "run"), quiet=True, plots=False)
    values.update(overrides)
    return TrainConfig(**values)


def built(binary: bool) -> torch.nn.Module:
    """The module a 2-class run builds, with or without --binary's 1-output head."""
    return model.prepare("smallcnn_res", dict(SMALL), 16, 2, binary=binary).model


@pytest.mark.parametrize("binary", [False, True])
def test_params_are_those_of_the_module_the_run_builds(tmp_path, binary):
    counted = costs.count(config(tmp_path, binary=binary), classes=2, device="cpu", amp=False)
    assert counted["params"] == sum(p.numel() for p in built(binary).parameters())


def test_ema_adds_the_averaged_copy_to_the_train_bytes(tmp_path):
    plain = costs.count(config(tmp_path), classes=2, device="cpu", amp=False)
    averaged = costs.count(config(tmp_path, ema=0.9), classes=2, device="cpu", amp=False)
    average = AveragedModel(built(False), multi_avg_fn=get_ema_multi_avg_fn(0.9), use_buffers=True)
    copy_bytes = sum(t.numel() * t.element_size() for t in (*average.module.parameters(), *average.module.buffers()))
    copy_bytes += average.n_averaged.numel() * average.n_averaged.element_size()
    assert averaged["train_bytes"] - plain["train_bytes"] == copy_bytes
    assert averaged["saved_bytes"] == plain["saved_bytes"]  # the copy never runs a training forward
