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



def _registration(typer_app) -> tuple:
    """What typer builds a click command from: the app's callback, commands and sub-apps (recursively). The
    objects themselves, so that comparing two tuples compares identities (none of them defines __eq__)."""
    return (typer_app.registered_callback, typer_app.info.callback, tuple(typer_app.registered_commands),
            tuple((group, _registration(group.typer_instance)) for group in typer_app.registered_groups))


def _get_command_once(build):
    """``typer.main.get_command`` built once per Typer app and registration state.

    Building cnncost's click group takes ~0.13 s of typing introspection, and ``main()`` and ``CliRunner`` rebuild
    it on every call: most of an in-process CLI test's time (a real ``cnncost`` process builds it once, so
    nothing a user meets is skipped). A command registered later changes the state and rebuilds the group."""
    built: dict = {}

    def get_command(typer_app):
        registration = _registration(typer_app)
        entry = built.get(id(typer_app))
        if entry is None or entry[0] is not typer_app or entry[1] != registration:
            entry = built[id(typer_app)] = (typer_app, registration, build(typer_app))
        return entry[2]

    return get_command


@pytest.fixture(autouse=True, scope="session")
def click_commands_built_once():
    """Every in-process CLI call (``cnncost.cli.main``, typer's ``CliRunner``) reuses the built click command."""
    import typer.main
    import typer.testing

    once = _get_command_once(typer.main.get_command)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(typer.main, "get_command", once)
        patch.setattr(typer.testing, "_get_command", once)
        yield


@pytest.fixture(autouse=True)
def private_formula_cache(tmp_path, monkeypatch):
    """Every test gets an empty formula cache of its own, never the user's."""
    monkeypatch.setenv("CNNCOST_CACHE_DIR", str(tmp_path / "formula-cache"))


@pytest.fixture(autouse=True)
def no_inherited_width(monkeypatch):
    """No test reads the width of the shell that started pytest (a COLUMNS exported there, or set for pytest-xdist's
    workers): a test about fitting a width sets COLUMNS itself; the others see none (no limit, as in a pipe)."""
    monkeypatch.delenv("COLUMNS", raising=False)


@pytest.fixture
def one_torch_thread():
    """Tiny convolutions run fastest, and most reproducibly, on one intra-op thread: on a
    busy 2-core machine two torch threads make them about ten times slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
