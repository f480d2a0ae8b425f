"""The tree keeps its shape: a pure core, thin adapters, twins on both sides."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "middleware"
FORBIDDEN = {"asyncio", "anyio", "socket", "threading", "wsgiref", "logging", "trio"}
CORE = sorted((ROOT / "core").glob("*.py"))


@pytest.mark.parametrize("path", CORE, ids=[p.name for p in CORE])
def test_core_is_pure(path: Path) -> None:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        assert not isinstance(node, ast.AsyncFunctionDef | ast.Await), f"{path.name}: async code"
        if isinstance(node, ast.Import):
            names = {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names = {(node.module or "").split(".")[0]} if node.level == 0 else set()
            if node.level >= 2 or (node.level == 1 and node.module in {"wsgi", "asgi"}):
                names = {"middleware-adapters"}
        else:
            continue
        assert not names & (FORBIDDEN | {"middleware-adapters"}), f"{path.name} imports {names}"


def test_feature_modules_are_twins() -> None:
    wsgi = {p.name for p in (ROOT / "wsgi").glob("*.py")}
    asgi = {p.name for p in (ROOT / "asgi").glob("*.py")}
    assert wsgi - {"_environ.py"} == asgi - {"_scope.py"}


def test_typed_marker_ships() -> None:
    assert (ROOT / "py.typed").exists()
