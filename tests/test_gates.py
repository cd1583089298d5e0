"""The gates .ci/run applies beside ruff, shown able to fail: import contracts (lint-imports) and types (mypy).

A gate that cannot fail proves nothing, so each test breaks something the way the gate exists to catch (a
forbidden import in a copy of the tree, a stale ignore entry, a typing mistake in a small file) and checks
that the gate names exactly that. The contracts and the mypy settings are pyproject.toml's; see
docs/architecture.md, "Gates".
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("cnncost", "zoo")
LAYERS_CONTRACT = {"cnncost": "cnncost-layers", "zoo": "zoo-layers"}


def _contracts() -> dict:
    """pyproject.toml's import contracts, by id."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return {contract["id"]: contract for contract in config["tool"]["importlinter"]["contracts"]}


def _layer_modules(contract: dict) -> set:
    """Every module a layers contract names, the optional ones (in parentheses) included."""
    return {part.strip().strip("()") for layer in contract["layers"] for part in re.split(r"[|:]", layer)}


def _direct_submodules(package: str) -> set:
    """The package's modules and subpackages one level down, as the files on disk have them."""
    base = ROOT / package
    modules = {f"{package}.{path.stem}" for path in base.glob("*.py") if path.name != "__init__.py"}
    return modules | {f"{package}.{path.parent.name}" for path in base.glob("*/__init__.py")}


def _lint_imports(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """Run lint-imports in ``cwd`` (it analyses the packages found there first) without its cache."""
    beside = Path(sys.executable).with_name("lint-imports")
    command = str(beside) if beside.exists() else shutil.which("lint-imports")
    assert command, "lint-imports is not installed (pip install -e '.[dev]')"
    return subprocess.run([command, "--no-cache", "--no-logo", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("package", PACKAGES)
def test_every_module_has_a_layer(package):
    """A module that no layer names escapes every layers contract, so a new one fails here until placed."""
    contract = LAYERS_CONTRACT[package]
    unplaced = sorted(_direct_submodules(package) - _layer_modules(_contracts()[contract]))
    assert not unplaced, f"give these a layer in pyproject.toml's {contract} contract: {unplaced}"


# Crossings each contract exists to stop, written where a reviewer would miss them: inside a function and
# under TYPE_CHECKING (both count as dependencies). Each file is new, so the tree's own files stay as they are.
PROBES = {
    "cnncost/kinds/gate_probe.py": (
        "def probe():\n"
        "    import cnncost.cli.app  # noqa: F401\n"
        "    import zoo.weights  # noqa: F401\n"),
    "zoo/training/gate_probe.py": (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    import zoo.inspect.layers  # noqa: F401\n"),
}
EXPECTED = {  # contract id -> the import it must report, as "importer -> imported (l.LINE)"
    "cnncost-layers": "cnncost.kinds.gate_probe -> cnncost.cli.app (l.2)",
    "cnncost-without-zoo": "cnncost.kinds.gate_probe -> zoo.weights (l.3)",
    "zoo-layers": "zoo.training.gate_probe -> zoo.inspect.layers (l.3)",
}


def test_each_contract_reports_a_new_crossing(tmp_path):
    """On a copy of the tree with one forbidden import per contract, every contract is broken and names it."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for path, text in PROBES.items():
        (tmp_path / path).write_text(text)
    result = _lint_imports(tmp_path)
    report = result.stdout + result.stderr
    assert result.returncode == 1, report
    names = {contract["id"]: contract["name"] for contract in _contracts().values()}
    assert set(EXPECTED) == set(names), "a contract was added or renamed: give it a probe here"
    for contract, crossing in EXPECTED.items():
        assert f"{names[contract]} BROKEN" in report, report
        assert crossing in report, report


@pytest.mark.parametrize("contract", sorted(EXPECTED))
def test_a_stale_ignore_entry_fails(tmp_path, contract):
    """An ignore_imports entry that matches no import fails the check: removing a crossing forces its entry
    out, so the ignore lists only shrink. (zoo.weights imports neither zoo.tune nor the CLI.)"""
    text = (ROOT / "pyproject.toml").read_text()
    start = text.index(f'id = "{contract}"')
    end = text.find("[[tool.importlinter.contracts]]", start)
    block = text[start:end if end != -1 else len(text)]
    stale = "zoo.weights -> cnncost.cli" if contract.startswith("cnncost") else "zoo.weights -> zoo.tune"
    if "ignore_imports = [\n" in block:  # the contract has crossings listed: one more, stale
        at = text.index("ignore_imports = [\n", start) + len("ignore_imports = [\n")
        patched = text[:at] + f'    "{stale}",\n' + text[at:]
    else:  # none listed (all removed): a list of the stale one alone, after the contract's id line
        at = text.index("\n", start) + 1
        patched = text[:at] + f'ignore_imports = ["{stale}"]\n' + text[at:]
    config = tmp_path / "pyproject.toml"
    config.write_text(patched)
    result = _lint_imports(ROOT, str(config), "--contract", contract)
    assert result.returncode != 0
    assert f"No matches for ignored import {stale}." in result.stdout + result.stderr


def test_mypy_checks_what_the_settings_say(tmp_path):
    """pyproject's mypy settings, on a file with one mistake per setting: the body of an unannotated function
    is checked (check_untyped_defs), == between types that are never equal is an error (strict_equality), and
    a `type: ignore` that suppresses nothing is reported (warn_unused_ignores)."""
    probe = tmp_path / "probe.py"
    probe.write_text("def untyped(x):\n"
                     "    count: int = 'three'\n"
                     "    return count\n"
                     "\n"
                     "\n"
                     "def compares(n: int) -> bool:\n"
                     "    return n == 'n'\n"
                     "\n"
                     "\n"
                     "quiet: int = 1  # type: ignore[assignment]\n")
    result = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
                             "--cache-dir", str(tmp_path / "cache"), str(probe)],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    errors = sorted(re.findall(r"probe\.py:(\d+): error: .*\[([a-z-]+)\]", result.stdout))
    assert errors == [("10", "unused-ignore"), ("2", "assignment"), ("7", "comparison-overlap")], result.stdout
    assert result.returncode == 1
