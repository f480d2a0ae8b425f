"""Say in one line whether requirements-dev.lock still matches pyproject.toml.

The lock is stale when a requirement of the project or of its ``dev`` extra has no pin in it, or
a pin that the requirement's range refuses (someone added a dependency or raised a bound and did
not relock). ``.ci/run`` installs with ``--no-deps`` from the lock alone, so a stale lock would
otherwise show up later as an import error, far from its cause.

Usage: ``python scripts/check_lock.py [pyproject.toml] [requirements-dev.lock]``; exit status 0
when the lock is current, 1 with one line on stderr when it is not.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

RELOCK = (
    "uv pip compile pyproject.toml --extra dev --universal --python-version 3.11"
    " -o requirements-dev.lock"
)


def pins(lock_text: str) -> dict[str, list[Requirement]]:
    """Every ``name==version ; marker`` line of a lock, by canonical name."""
    found: dict[str, list[Requirement]] = {}
    for line in lock_text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            pin = Requirement(line)
            found.setdefault(canonicalize_name(pin.name), []).append(pin)
    return found


def problems(pyproject_text: str, lock_text: str) -> list[str]:
    """What the lock misses, one phrase per requirement; empty when it is current."""
    project = tomllib.loads(pyproject_text)["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["dev"]
    locked = pins(lock_text)
    environment = default_environment()
    found = []
    for text in wanted:
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate(environment):
            continue
        here = [
            pin
            for pin in locked.get(canonicalize_name(requirement.name), [])
            if pin.marker is None or pin.marker.evaluate(environment)
        ]
        if not here:
            found.append(f"{requirement.name} is not pinned")
            continue
        version = Version(next(iter(here[0].specifier)).version)
        if not requirement.specifier.contains(version, prereleases=True):
            found.append(f"{requirement.name}=={version} is outside {text!r}")
    return found


def main(argv: list[str]) -> int:
    pyproject = Path(argv[1] if len(argv) > 1 else "pyproject.toml")
    lock = Path(argv[2] if len(argv) > 2 else "requirements-dev.lock")
    found = problems(pyproject.read_text(), lock.read_text())
    if found:
        print(
            f"{lock} is out of date with {pyproject}: {'; '.join(found)}. Relock with: {RELOCK}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
