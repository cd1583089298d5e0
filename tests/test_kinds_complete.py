"""Completeness: every registered layer kind meets the oracles somewhere in the tests.

The cases come from ``tests/test_tool_conventions.py`` and each family's
``tests/test_kinds_*.py`` (their ``CASES``); a kind registered without any would be
counted by rules no oracle ever checked.
"""

import importlib
from pathlib import Path

from cnncost import kinds


def _all_cases() -> list:
    names = ["tests.test_tool_conventions"] + [f"tests.{p.stem}" for p in sorted(Path(__file__).parent.glob(
        "test_kinds_*.py")) if p.stem != "test_kinds_complete"]
    return [case for name in names for case in importlib.import_module(name).CASES]


def test_every_kind_has_oracle_cases():
    covered = {type(node) for node, _ in _all_cases()}
    missing = sorted(k.__name__ for k in kinds.KINDS if k not in covered)
    assert not missing, f"kinds without oracle cases: {missing}"


def test_every_kind_can_be_built_and_recognised():
    for node_type, kind in kinds.KINDS.items():
        assert kind.torch_module is not None, node_type.__name__
        assert kind.fx.modules or kind.fx.functions or kind.fx.methods or kind.fx.importer, node_type.__name__
