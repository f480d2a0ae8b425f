"""The README's demo command works: the tour passes against real servers on 127.0.0.1."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo.py"


def test_demo_check_passes() -> None:
    done = subprocess.run(
        [sys.executable, str(DEMO), "--check"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "all checks passed" in done.stdout
    assert "Traceback" not in done.stderr
