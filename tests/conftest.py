"""Hypothesis profiles: deterministic in CI, so a green run is reproducible."""

import os
import warnings

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", derandomize=True, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# torch warns on every even-kernel padding="same" conv; that case is tested on purpose.
warnings.filterwarnings("ignore", message=".*padding='same'.*")



@pytest.fixture(autouse=True)
def private_formula_cache(tmp_path, monkeypatch):
    """Every test gets an empty formula cache of its own, never the user's."""
    monkeypatch.setenv("CNNCOST_CACHE_DIR", str(tmp_path / "formula-cache"))


@pytest.fixture
def one_torch_thread():
    """Tiny convolutions run fastest, and most reproducibly, on one intra-op thread: on a
    busy 2-core machine two torch threads make them about ten times slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
