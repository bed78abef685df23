"""The ledger sits below the domains that use it: nothing in app/ledger imports app.members
(the members domain enrols customers and reads balances; the ledger keeps its own records)."""

from __future__ import annotations

import ast
from pathlib import Path

LEDGER = Path(__file__).resolve().parents[2] / "app" / "ledger"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_ledger_imports_nothing_from_members() -> None:
    modules = sorted(LEDGER.glob("*.py"))
    assert modules, LEDGER
    offending = {
        path.name: sorted(n for n in _imports(path) if n.split(".")[:2] == ["app", "members"])
        for path in modules
    }
    assert {k: v for k, v in offending.items() if v} == {}
