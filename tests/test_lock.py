"""The committed lock covers pyproject.toml, and a stale lock is reported in one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHECK = ROOT / "scripts" / "check_lock.py"


def check(pyproject: Path, lock: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(CHECK), str(pyproject), str(lock)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_committed_lock_is_current() -> None:
    run = check(ROOT / "pyproject.toml", ROOT / "requirements-dev.lock")
    assert (run.returncode, run.stderr) == (0, "")


def test_a_new_dependency_without_a_pin_is_one_line(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        (ROOT / "pyproject.toml")
        .read_text()
        .replace('"build>=1.2",', '"build>=1.2", "Left-Pad>=1",')
    )
    run = check(pyproject, ROOT / "requirements-dev.lock")
    assert run.returncode == 1
    assert run.stderr.count("\n") == 1
    assert "Left-Pad is not pinned" in run.stderr
    assert "uv pip compile pyproject.toml --extra dev" in run.stderr


def test_a_raised_bound_that_refuses_the_pin_is_reported(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        (ROOT / "pyproject.toml").read_text().replace('"pytest>=8",', '"pytest>=999",')
    )
    lock = ROOT / "requirements-dev.lock"
    pinned = next(line for line in lock.read_text().splitlines() if line.startswith("pytest=="))
    run = check(pyproject, lock)
    assert run.returncode == 1
    assert f"{pinned} is outside 'pytest>=999'" in run.stderr


def test_runtime_dependencies_stay_ranges() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for requirement in project["dependencies"]:
        assert "==" not in requirement, f"users must not get our pins: {requirement}"
